// FaultInjectionTests: drop, duplicate, delay, delay-until, reorder and rule limits on FaultInjectingTransport.
import FedTestKit
import FedTransport
import Testing

@Suite struct FaultInjectionTests {
    static func makeSUT(seed: UInt64 = 0) -> FaultInjectingTransport<TestMessage> {
        FaultInjectingTransport(wrapping: InProcessTransport<TestMessage>(), seed: seed)
    }

    @Test func dropRemovesExactlyTheMatchedMessages() async throws {
        // Given: a rule dropping multiples of 3
        let sut = Self.makeSUT()
        let mailbox = try await sut.register(.parameterServer)
        sut.inject(.drop) { ($0.message.number ?? 1) % 3 == 0 }
        // When
        for n in 0..<30 { try await sut.send(.number(n), from: .client(0), to: .parameterServer) }
        await sut.close(.parameterServer)
        // Then: exactly those are missing, and the log says so
        #expect(await drain(mailbox).compactMap(\.message.number) == (0..<30).filter { $0 % 3 != 0 })
        #expect(sut.log.count == 30)
        let dropped = sut.log.filter { $0.fault == .dropped }.compactMap(\.envelope.message.number)
        #expect(dropped == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27])
        #expect(sut.log.filter { $0.fault == nil }.count == 20)
        #expect(sut.forwarded.count == 20)
    }

    @Test func limitedRuleOnOneSenderLeavesOthersAlone() async throws {
        // Given: drop client 1's first two messages to the server
        let sut = Self.makeSUT()
        let mailbox = try await sut.register(.parameterServer)
        let rule = sut.inject(.drop, limit: 2) { $0.from == .client(1) && $0.to == .parameterServer }
        // When
        for n in 0..<4 {
            try await sut.send(.number(n), from: .client(0), to: .parameterServer)
            try await sut.send(.number(n), from: .client(1), to: .parameterServer)
        }
        await sut.close(.parameterServer)
        // Then: the receiver sees client 1's sequence numbers start at 2 (a gap it could detect)
        let received = await drain(mailbox)
        #expect(received.filter { $0.from == .client(0) }.compactMap(\.message.number) == [0, 1, 2, 3])
        let fromOne = received.filter { $0.from == .client(1) }
        #expect(fromOne.compactMap(\.message.number) == [2, 3])
        #expect(fromOne.map(\.sequence) == [2, 3])
        let dropped = sut.log.filter { $0.fault == .dropped }
        #expect(dropped.count == 2 && dropped.allSatisfy { $0.rule == rule && $0.envelope.from == .client(1) })
    }

    @Test func duplicateDeliversTheSameEnvelopeTwice() async throws {
        let sut = Self.makeSUT()
        let mailbox = try await sut.register(.tracker)
        sut.inject(.duplicate, limit: 1) { $0.message == .number(1) }
        for n in 0..<3 { try await sut.send(.number(n), from: .client(5), to: .tracker) }
        await sut.close(.tracker)
        let received = await drain(mailbox)
        #expect(received.compactMap(\.message.number) == [0, 1, 1, 2])
        #expect(received[1] == received[2])  // same sequence number: a receiver can discard the copy
        #expect(sut.log.map(\.fault) == [nil, .duplicated, nil])
        #expect(sut.forwarded.count == 4)
    }

    @Test func delayHoldsAMessageUntilReleased() async throws {
        // Given: the first message to client 1 is delayed
        let sut = Self.makeSUT()
        let mailbox = try await sut.register(.client(1))
        sut.inject(.delay, limit: 1)
        // When: it is sent, then a sentinel
        try await sut.send(.number(1), from: .parameterServer, to: .client(1))
        try await sut.send(.text("sentinel"), from: .parameterServer, to: .client(1))
        // Then: the sentinel arrives first, so the delayed message was not delivered
        var iterator = mailbox.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first?.message == .text("sentinel"))
        #expect(sut.held.map(\.message) == [.number(1)])
        // When: released
        #expect(try await sut.releaseHeld() == 1)
        await sut.close(.client(1))
        // Then: it arrives, with the sequence number it was sent with
        let second = await iterator.next(), end = await iterator.next()
        #expect(second?.message == .number(1) && second?.sequence == 0)
        #expect(end == nil && sut.held.isEmpty)
        #expect(sut.log.map(\.fault) == [.delayed, nil])
    }

    @Test func releaseHeldCanPickMessages() async throws {
        let sut = Self.makeSUT()
        let one = try await sut.register(.client(1)), two = try await sut.register(.client(2))
        sut.inject(.delay)
        for c in [1, 2, 1] { try await sut.send(.number(c), from: .parameterServer, to: .client(c)) }
        #expect(try await sut.releaseHeld { $0.to == .client(2) } == 1)
        #expect(sut.held.map(\.to) == [.client(1), .client(1)])
        await sut.shutdown()
        #expect(await drain(two).compactMap(\.message.number) == [2])
        #expect(await drain(one).isEmpty)
        await #expect(throws: TransportError.shutDown) { try await sut.releaseHeld() }
    }

    @Test func delayUntilReleasesAfterTheTrigger() async throws {
        // Given: the server's update to client 1 waits until the tracker sends .stop to anyone
        let sut = Self.makeSUT()
        let one = try await sut.register(.client(1)), two = try await sut.register(.client(2))
        sut.inject(.delayUntil { $0.from == .tracker && $0.message == .stop }, limit: 1) { $0.to == .client(1) }
        // When
        try await sut.send(.number(7), from: .parameterServer, to: .client(1))
        try await sut.send(.text("after"), from: .parameterServer, to: .client(1))
        #expect(sut.held.count == 1)
        try await sut.send(.stop, from: .tracker, to: .client(2))
        await sut.shutdown()
        // Then: delivered right after the trigger
        #expect(await drain(one).map(\.message) == [.text("after"), .number(7)])
        #expect(await drain(two).map(\.message) == [.stop])
        #expect(sut.forwarded.map(\.message) == [.text("after"), .stop, .number(7)])
        #expect(sut.held.isEmpty)
    }

    /// Sends 0..<12 through a reorder rule with batches of 5, releases the partial batch, returns the arrival order.
    static func reorderedArrivals(seed: UInt64) async throws -> [Int] {
        let sut = makeSUT(seed: seed)
        let mailbox = try await sut.register(.parameterServer)
        sut.inject(.reorder(batchSize: 5))
        for n in 0..<12 { try await sut.send(.number(n), from: .client(0), to: .parameterServer) }
        #expect(sut.held.compactMap(\.message.number) == [10, 11])
        try await sut.releaseHeld()
        await sut.close(.parameterServer)
        #expect(sut.log.allSatisfy { $0.fault == .reordered })
        return await drain(mailbox).compactMap(\.message.number)
    }

    @Test func reorderIsTheSameSeededPermutationEveryRun() async throws {
        let arrivals = try await Self.reorderedArrivals(seed: 42)
        #expect(try await Self.reorderedArrivals(seed: 42) == arrivals)
        // Pinned: SplitMix64(42) and Fisher–Yates, as an independent Python transcription computes it.
        #expect(arrivals == [1, 2, 0, 4, 3, 8, 9, 6, 7, 5, 10, 11])
        #expect(Set(arrivals[0..<5]) == Set(0..<5) && Set(arrivals[5..<10]) == Set(5..<10))
        #expect(try await Self.reorderedArrivals(seed: 43) != arrivals)
    }

    @Test func removedRuleStopsApplying() async throws {
        let sut = Self.makeSUT()
        let mailbox = try await sut.register(.tracker)
        let rule = sut.inject(.drop)
        try await sut.send(.number(0), from: .client(0), to: .tracker)
        sut.removeRule(rule)
        try await sut.send(.number(1), from: .client(0), to: .tracker)
        sut.inject(.drop)
        sut.removeAllRules()
        try await sut.send(.number(2), from: .client(0), to: .tracker)
        await sut.close(.tracker)
        #expect(await drain(mailbox).compactMap(\.message.number) == [1, 2])
    }
}
