// TransportContractTests: the Transport contract (order, no loss, no duplicates, errors, termination) on every kind.
import FedTransport
import Testing

@Suite struct TransportContractTests {
    @Test(arguments: TransportKind.allCases)
    func deliversEachSendersMessagesInOrder(_ kind: TransportKind) async throws {
        // Given: two receivers and three senders taking turns; client 0 alternates between the receivers
        let sut = kind.make()
        let ps = try await sut.register(.parameterServer), tracker = try await sut.register(.tracker)
        let senders = (0..<3).map(EndpointID.client)
        // When
        for n in 0..<100 {
            for sender in senders { try await sut.send(.number(n), from: sender, to: .parameterServer) }
            try await sut.send(.number(n), from: .client(0), to: .tracker)
        }
        await sut.shutdown()
        // Then: each sender's messages arrive in the order sent, with increasing sequence numbers
        let atServer = await drain(ps), atTracker = await drain(tracker)
        #expect(atServer.count == 300 && atServer.allSatisfy { $0.to == .parameterServer })
        for sender in senders {
            let mine = atServer.filter { $0.from == sender }
            #expect(mine.map(\.message) == (0..<100).map { .number($0) })
            let sequences: [UInt64] = (0..<100).map { UInt64(sender == .client(0) ? 2 * $0 : $0) }
            #expect(mine.map(\.sequence) == sequences)
        }
        #expect(atTracker.map(\.message) == (0..<100).map { .number($0) })
        let trackerSequences: [UInt64] = (0..<100).map { UInt64(2 * $0 + 1) }
        #expect(atTracker.map(\.sequence) == trackerSequences)
    }

    @Test(arguments: TransportKind.allCases)
    func concurrentSendersLoseAndRepeatNothing(_ kind: TransportKind) async throws {
        // Given: a receiver draining while 8 tasks send 500 messages each
        let sut = kind.make()
        let mailbox = try await sut.register(.parameterServer)
        async let received = drain(mailbox)
        // When
        try await withThrowingTaskGroup(of: Void.self) { group in
            for c in 0..<8 {
                group.addTask {
                    for n in 0..<500 { try await sut.send(.number(n), from: .client(c), to: .parameterServer) }
                }
            }
            try await group.waitForAll()
        }
        await sut.close(.parameterServer)
        // Then: all 4,000 arrive once each, every sender's in order
        let all = await received
        #expect(all.count == 4000)
        #expect(Set(all.map { "\($0.from)#\($0.sequence)" }).count == 4000)
        for c in 0..<8 {
            #expect(all.filter { $0.from == .client(c) }.compactMap(\.message.number) == Array(0..<500))
        }
    }

    @Test(arguments: TransportKind.allCases)
    func unknownDestinationThrows(_ kind: TransportKind) async throws {
        let sut = kind.make()
        _ = try await sut.register(.parameterServer)
        await #expect(throws: TransportError.unknownEndpoint("client-9")) {
            try await sut.send(.stop, from: .parameterServer, to: .client(9))
        }
    }

    @Test(arguments: TransportKind.allCases)
    func shutdownEndsEveryConsumerLoop(_ kind: TransportKind) async throws {
        // Given: three consumers looping over their mailboxes, ten messages each on the way
        let sut = kind.make()
        let endpoints: [EndpointID] = [.parameterServer, .tracker, .client(0)]
        var mailboxes: [Mailbox<TestMessage>] = []
        for endpoint in endpoints { mailboxes.append(try await sut.register(endpoint)) }
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for mailbox in mailboxes { group.addTask { await drain(mailbox).count } }
            for endpoint in endpoints {
                for n in 0..<10 { try await sut.send(.number(n), from: .tracker, to: endpoint) }
            }
            // When
            await sut.shutdown()
            // Then: every loop ends, after delivering what had arrived
            return try await group.reduce(0, +)
        }
        #expect(total == 30)
        await #expect(throws: TransportError.shutDown) { try await sut.send(.stop, from: .tracker, to: .tracker) }
        await #expect(throws: TransportError.shutDown) { _ = try await sut.register(.client(1)) }
        await sut.shutdown()  // idempotent
    }

    @Test(arguments: TransportKind.allCases)
    func closedEndpointDeliversWhatItHeldThenRefuses(_ kind: TransportKind) async throws {
        // Given: an endpoint with two messages waiting
        let sut = kind.make()
        let first = try await sut.register(.client(1))
        try await sut.send(.number(1), from: .parameterServer, to: .client(1))
        try await sut.send(.number(2), from: .parameterServer, to: .client(1))
        await #expect(throws: TransportError.alreadyRegistered(.client(1))) { _ = try await sut.register(.client(1)) }
        // When
        await sut.close(.client(1))
        await sut.close(.client(1))  // idempotent
        await sut.close(.client(7))  // unknown: no effect
        // Then
        #expect(await drain(first).map(\.message) == [.number(1), .number(2)])
        await #expect(throws: TransportError.endpointClosed(.client(1))) {
            try await sut.send(.number(3), from: .parameterServer, to: .client(1))
        }
        // And: it may register again, with a fresh mailbox; the sender's sequence numbers keep increasing
        let second = try await sut.register(.client(1))
        try await sut.send(.number(4), from: .parameterServer, to: .client(1))
        await sut.close(.client(1))
        let again = await drain(second)
        #expect(again.map(\.message) == [.number(4)])
        #expect((again.first?.sequence ?? 0) > 1)
    }

    @Test(arguments: TransportKind.allCases)
    func cancelledConsumerClosesItsEndpoint(_ kind: TransportKind) async throws {
        // Given: two messages waiting
        let sut = kind.make()
        let mailbox = try await sut.register(.client(0))
        try await sut.send(.number(1), from: .parameterServer, to: .client(0))
        try await sut.send(.number(2), from: .parameterServer, to: .client(0))
        // When: the consumer's task is cancelled (before or after it starts looping)
        let consumer = Task { await drain(mailbox).count }
        consumer.cancel()
        // Then: its loop ends after what had arrived, and the endpoint refuses more
        #expect(await consumer.value == 2)
        await #expect(throws: TransportError.endpointClosed(.client(0))) {
            try await sut.send(.stop, from: .parameterServer, to: .client(0))
        }
    }

    /// In-process transports hand over the array itself; the serialising one and sockets cannot.
    @Test(arguments: TransportKind.allCases.filter(\.sharesValues))
    func largePayloadIsNotCopied(_ kind: TransportKind) async throws {
        let sut = kind.make()
        let mailbox = try await sut.register(.parameterServer)
        let weights = [Float](repeating: 0.25, count: 1 << 22)  // 16 MiB
        try await sut.send(.weights(weights), from: .client(0), to: .parameterServer)
        var iterator = mailbox.makeAsyncIterator()
        let envelope = await iterator.next()
        guard case .weights(let received)? = envelope?.message else {
            Issue.record("expected weights, got \(String(describing: envelope))")
            return
        }
        #expect(received.count == 1 << 22)
        #expect(storageAddress(received) == storageAddress(weights))
    }

    /// A broadcast is one send per receiver (over sockets: the hub's, encoded once, every link written at once).
    @Test(arguments: TransportKind.allCases)
    func broadcastIsOneSendPerReceiver(_ kind: TransportKind) async throws {
        // Given: three open clients and a closed one
        let sut = kind.make()
        var boxes: [Mailbox<TestMessage>] = []
        for c in 0..<3 { boxes.append(try await sut.register(.client(c))) }
        let gone = try await sut.register(.client(3))
        await sut.close(.client(3))
        _ = await drain(gone)
        // When: a 280 kB model goes to all four, then a number to client 0
        let model = (0..<70_000).map { Float($0) * 0.37 - 9_000 }
        let closed = try await sut.broadcast(.weights(model), from: .parameterServer,
                                             to: [.client(0), .client(3), .client(1), .client(2)])
        try await sut.send(.number(1), from: .parameterServer, to: .client(0))
        await #expect(throws: TransportError.unknownEndpoint(.client(9))) {
            _ = try await sut.broadcast(.stop, from: .parameterServer, to: [.client(9)])
        }
        for c in 0..<3 { await sut.close(.client(c)) }
        var got: [[Envelope<TestMessage>]] = []
        for box in boxes { got.append(await drain(box)) }
        await sut.shutdown()
        // Then: the closed one is named; each open one got the model once, stamped in receiver order
        #expect(closed == [.client(3)])
        #expect(got.map { $0.map(\.message) } == [[.weights(model), .number(1)], [.weights(model)], [.weights(model)]])
        let stamps = [got[0][0].sequence, got[1][0].sequence, got[2][0].sequence]
        #expect(stamps == stamps.sorted() && Set(stamps).count == 3 && got[0][1].sequence > stamps[2])
        #expect(got.allSatisfy { $0.first?.from == .parameterServer })
    }

    @Test(arguments: TransportKind.allCases)
    func actorRegistersLoopsAndReplies(_ kind: TransportKind) async throws {
        // Given: a server actor and a client endpoint
        let sut = kind.make()
        let server = try await Doubler(.parameterServer, on: sut)
        let client = try await sut.register(.client(3))
        async let answered = server.run()
        // When
        for n in 1...3 { try await sut.send(.number(n), from: .client(3), to: .parameterServer) }
        var replies: [Envelope<TestMessage>] = []
        var iterator = client.makeAsyncIterator()
        while replies.count < 3, let reply = await iterator.next() { replies.append(reply) }
        // The third reply can be in the client's mailbox before the server's send has returned (over sockets, the
        // hub's acknowledgement is still on its way): end the server's loop by closing its endpoint, and shut down
        // only once it has returned, so that a shutdown cannot fail that send.
        await sut.close(.parameterServer)
        let count = try await answered
        await sut.shutdown()
        // Then
        #expect(replies.map(\.message) == [.number(2), .number(4), .number(6)])
        #expect(replies.allSatisfy { $0.from == .parameterServer && $0.to == .client(3) })
        #expect(count == 3)
    }
}

@Suite struct SerializingTransportTests {
    @Test func messagesCrossTheWireFormatAndAreCounted() async throws {
        let sut = SerializingTransport(wrapping: InProcessTransport<TestMessage>())
        let mailbox = try await sut.register(.parameterServer)
        let weights = (0..<100_000).map { Float($0) * 0.5 }
        try await sut.send(.weights(weights), from: .client(0), to: .parameterServer)
        var iterator = mailbox.makeAsyncIterator()
        guard case .weights(let received)? = await iterator.next()?.message else {
            Issue.record("expected weights")
            return
        }
        #expect(received == weights)
        #expect(storageAddress(received) != storageAddress(weights))  // decoded from bytes, not shared
        // A plain [Float] in a binary property list: more than 4 bytes per value, and counted once.
        #expect(sut.bytesSent == 4 + (try WireFormat.encode(TestMessage.weights(weights))).count)
        #expect(sut.bytesSent > 4 * weights.count)
        await sut.shutdown()
    }
}
