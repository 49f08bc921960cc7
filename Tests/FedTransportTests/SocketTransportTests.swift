// SocketTransportTests: what only sockets have: several links, big payloads, backpressure, bad peers, lost links.
import FedTransport
import Foundation
import Glibc
import Synchronization
import Testing

/// Collects what a hub logs.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
    func add(_ line: String) { lines.withLock { $0.append(line) } }
}

/// Waits up to `seconds` for `condition`, polling.
func eventually(_ seconds: Double = 5, _ condition: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while !condition() {
        if ContinuousClock.now > deadline { return false }
        try await Task.sleep(for: .milliseconds(10))
    }
    return true
}

/// A raw TCP connection to `address` that writes `bytes` and closes: a peer that does not speak the protocol.
func rawPeer(_ address: SocketAddress, writes bytes: [UInt8]) {
    var hints = addrinfo()
    hints.ai_family = AF_INET
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    guard getaddrinfo(address.host, String(address.port), &hints, &list) == 0, let info = list else { return }
    defer { freeaddrinfo(info) }
    let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, 0)
    guard fd >= 0 else { return }
    defer { Glibc.close(fd) }
    guard Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else { return }
    _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
}

@Suite(.timeLimit(.minutes(1))) struct SocketTransportTests {
    let loopback = SocketAddress(host: "127.0.0.1", port: 0)

    @Test func addressesParseAndPrint() {
        #expect(SocketAddress("127.0.0.1:7000") == SocketAddress(host: "127.0.0.1", port: 7000))
        #expect(SocketAddress("[::1]:80")?.description == "[::1]:80")
        for bad in ["", "7000", ":7000", "host:", "host:65536", "host:-1", "host:x"] { #expect(SocketAddress(bad) == nil) }
    }

    @Test func messagesCrossBetweenTwoLinksAndTheHub() async throws {
        // Given: the PS on the hub, client 0 on one link, client 1 on another
        let hub = try SocketHub<TestMessage>(listeningOn: loopback)
        let a = try SocketLink<TestMessage>(connectingTo: hub.address), b = try SocketLink<TestMessage>(connectingTo: hub.address)
        let ps = try await hub.register(.parameterServer)
        let c0 = try await a.register(.client(0)), c1 = try await b.register(.client(1))
        try await hub.waitForEndpoints([.client(0), .client(1)], timeoutSeconds: 5)
        // When: a 6.7 MB text and a model go out to both, and each answers the PS and the other client
        var rng = FuzzBytes(state: 11)
        let big = String(decoding: (0..<6_700_000).map { _ in UInt8(0x20 + rng.below(95)) }, as: UTF8.self)
        let model = (0..<100_000).map { Float($0) * 0.37 - 5_000 }
        for c in [EndpointID.client(0), .client(1)] {
            try await hub.send(.text(big), from: .parameterServer, to: c)
            try await hub.send(.weights(model), from: .parameterServer, to: c)
        }
        try await a.send(.number(10), from: .client(0), to: .parameterServer)
        try await b.send(.number(11), from: .client(1), to: .parameterServer)
        try await a.send(.text("hi 1"), from: .client(0), to: .client(1))
        await hub.shutdown()
        // Then: everything arrives intact, with the hub's sequence numbers
        let at0 = await drain(c0), at1 = await drain(c1), atPS = await drain(ps)
        for got in [at0, at1] {
            #expect(got.prefix(2).map(\.message) == [.text(big), .weights(model)])
        }
        #expect(at0.map(\.sequence) == [0, 1] && at1.prefix(2).map(\.sequence) == [2, 3])
        #expect(at1.dropFirst(2).map(\.message) == [.text("hi 1")] && at1.last?.from == .client(0))
        #expect(atPS.map(\.message).sorted { "\($0)" < "\($1)" } == [.number(10), .number(11)])
        #expect(a.disconnection == nil && b.disconnection == nil)  // the hub shut down normally
    }

    @Test func aFullQueueMakesSendersWaitAndLosesNothing() async throws {
        // Given: queues of 2 kB, so nearly every 4 kB message waits for the one before it to be written
        let sockets = LoopbackSockets(limits: SocketLimits(outboundQueueBytes: 2048))
        let mailbox = try await sockets.register(.parameterServer)
        async let received = drain(mailbox)
        // When: four senders push 50 messages of 1,000 floats each
        try await withThrowingTaskGroup(of: Void.self) { group in
            for c in 0..<4 {
                group.addTask {
                    for n in 0..<50 {
                        try await sockets.send(.weights([Float](repeating: Float(n), count: 1000)), from: .client(c),
                                               to: .parameterServer)
                    }
                }
            }
            try await group.waitForAll()
        }
        await sockets.close(.parameterServer)
        // Then: all 200 arrive, each sender's in order
        let all = await received
        #expect(all.count == 200)
        for c in 0..<4 {
            let mine = all.filter { $0.from == .client(c) }.compactMap { m -> Float? in
                if case .weights(let w) = m.message { return w.first }
                return nil
            }
            #expect(mine == (0..<50).map(Float.init))
        }
        await sockets.shutdown()
    }

    @Test func aFrameAboveTheLimitIsRefusedAndTheLinkStaysUsable() async throws {
        let sockets = LoopbackSockets(limits: SocketLimits(maximumFrameLength: 4096))
        let mailbox = try await sockets.register(.parameterServer)
        await #expect(throws: SocketFrameError.self) {
            // Distinct values: a binary property list stores repeated values once.
            try await sockets.send(.weights((0..<2000).map(Float.init)), from: .client(0), to: .parameterServer)
        }
        try await sockets.send(.number(1), from: .client(0), to: .parameterServer)
        await sockets.shutdown()
        #expect(await drain(mailbox).map(\.message) == [.number(1)])
    }

    @Test func badPeersAreRefusedAndLoggedWhileGoodOnesCarryOn() async throws {
        // Given: a hub of session "a" with one good link
        let log = LogLines()
        let hub = try SocketHub<TestMessage>(listeningOn: loopback, session: "a", limits: SocketLimits(maximumFrameLength: 1024),
                                             log: log.add)
        let good = try SocketLink<TestMessage>(connectingTo: hub.address, session: "a")
        let mailbox = try await good.register(.client(0))
        // When: a link of another session, a peer sending random bytes, one declaring a 2 GB frame, one speaking
        // before hello
        let wrong = try SocketLink<TestMessage>(connectingTo: hub.address, session: "b")
        var rng = FuzzBytes(state: 7)
        rawPeer(hub.address, writes: rng.bytes(300))
        rawPeer(hub.address, writes: [0x7F, 0xFF, 0xFF, 0xFF])
        rawPeer(hub.address, writes: try SocketFrame.register(request: 1, endpoint: "ps").encoded())
        // Then: the other session's link is told why, and every refusal is logged
        await #expect(throws: SocketTransportError.self) { _ = try await wrong.register(.client(1)) }
        #expect(wrong.disconnection?.contains("session \"b\" is not this hub's \"a\"") == true)
        #expect(try await eventually { log.all.count >= 4 }, "log: \(log.all)")
        #expect(log.all.contains { $0.contains("more than the limit of 1024") })
        #expect(log.all.contains { $0.contains("register before hello") })
        // And: the good link still works, and nothing was registered by the bad peers
        try await hub.send(.number(5), from: .parameterServer, to: .client(0))
        #expect(hub.registeredEndpoints == [.client(0)])
        await hub.shutdown()
        #expect(await drain(mailbox).map(\.message) == [.number(5)])
    }

    @Test func aLostLinkClosesItsEndpointsAndEndsItsMailboxes() async throws {
        // Given: client 3 on a link
        let hub = try SocketHub<TestMessage>(listeningOn: loopback)
        let link = try SocketLink<TestMessage>(connectingTo: hub.address)
        let mailbox = try await link.register(.client(3))
        try await hub.send(.number(1), from: .parameterServer, to: .client(3))
        // When: the link's process goes away (here: its transport shuts down)
        await link.shutdown()
        // Then: the hub learns the endpoint is closed, and the mailbox delivered what it held
        #expect(await drain(mailbox).map(\.message) == [.number(1)])
        #expect(try await eventually { hub.registeredEndpoints.isEmpty })
        await #expect(throws: TransportError.endpointClosed(.client(3))) {
            try await hub.send(.stop, from: .parameterServer, to: .client(3))
        }
        // And: when the hub goes, a link's mailboxes end and its requests fail with the reason
        let other = try SocketLink<TestMessage>(connectingTo: hub.address)
        let left = try await other.register(.client(4))
        await hub.shutdown()
        #expect(await drain(left).isEmpty)
        await #expect(throws: SocketTransportError.self) { try await other.send(.stop, from: .client(4), to: .parameterServer) }
    }
}
