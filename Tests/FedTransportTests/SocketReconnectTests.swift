// SocketReconnectTests: a link whose connection drops reconnects and re-registers, or gives up with a clear reason.
import FedTransport
import Foundation
import Glibc
import Testing

@Suite(.timeLimit(.minutes(1))) struct SocketReconnectTests {
    let loopback = SocketAddress(host: "127.0.0.1", port: 0)
    let quick = SocketReconnect(attempts: 5, initialDelay: 0.05, maximumDelay: 0.2)

    @Test func aDroppedLinkReconnectsAndKeepsItsMailboxes() async throws {
        // Given: clients 3 and 4 on a link
        let log = LogLines(), hubLog = LogLines()
        let hub = try SocketHub<TestMessage>(listeningOn: loopback, log: hubLog.add)
        let link = try SocketLink<TestMessage>(connectingTo: hub.address, reconnect: quick, log: log.add)
        let c3 = try await link.register(.client(3)), c4 = try await link.register(.client(4))
        try await hub.send(.number(1), from: .parameterServer, to: .client(3))
        // When: its connection is cut
        link.dropConnection()
        // Then: the hub logs the loss, the link reconnects and registers both again
        // (30 s, not `eventually`'s default 5: under the full suite on 2 slow cores the re-register, which waits
        // for the hub to notice the old connection closed, once took longer than 5 s.)
        #expect(try await eventually(30) { link.reconnections == 1 }, "\(log.all)")
        #expect(try await eventually(30) { hub.registeredEndpoints == [.client(3), .client(4)] })
        #expect(hubLog.all.contains { $0.contains("closed its endpoints client-3, client-4") }, "\(hubLog.all)")
        // And: messages reach the same mailboxes, both ways
        try await hub.send(.number(2), from: .parameterServer, to: .client(3))
        try await hub.send(.number(3), from: .parameterServer, to: .client(4))
        let ps = try await hub.register(.parameterServer)
        try await link.send(.number(4), from: .client(4), to: .parameterServer)
        await hub.shutdown()
        #expect(await drain(c3).map(\.message) == [.number(1), .number(2)])
        #expect(await drain(c4).map(\.message) == [.number(3)])
        #expect(await drain(ps).map(\.message) == [.number(4)])
        #expect(link.disconnection == nil)
    }

    @Test func aLinkWhoseHubIsGoneGivesUpAfterItsAttempts() async throws {
        // Given: a "hub" that accepts one connection, then closes it and stops listening
        let (listener, port) = try #require(rawListener())
        let link = try SocketLink<TestMessage>(connectingTo: SocketAddress(host: "127.0.0.1", port: port),
                                               reconnect: SocketReconnect(attempts: 3, initialDelay: 0.05,
                                                                          maximumDelay: 0.1))
        let accepted = accept(listener, nil, nil)
        let registration = Task { try await link.register(.client(0)) }
        // On a thread of its own: blocking a cooperative thread could starve the registering task.
        let answered = await withCheckedContinuation { c in
            DispatchQueue.global().async { c.resume(returning: Result { try answerRegistration(on: accepted) }) }
        }
        try answered.get()
        let mailbox = try await registration.value
        Glibc.close(accepted)
        Glibc.close(listener)
        // Then: after three failed attempts the mailbox ends and the reason names the attempts and the last error
        let t0 = ContinuousClock.now
        #expect(await drain(mailbox).isEmpty)
        #expect(ContinuousClock.now - t0 < .seconds(20))  // bounded (waits of 0.05 + 0.1 + 0.1 s; loaded cores)
        let why = try #require(link.disconnection)
        #expect(why.contains("3 reconnection attempt(s) failed") && why.contains("Connection refused"), "\(why)")
        await #expect(throws: SocketTransportError.self) { try await link.send(.stop, from: .client(0), to: .tracker) }
    }

    @Test func withoutReconnectionADropEndsTheLinkAtOnce() async throws {
        let hub = try SocketHub<TestMessage>(listeningOn: loopback)
        let link = try SocketLink<TestMessage>(connectingTo: hub.address, reconnect: .never)
        let mailbox = try await link.register(.client(0))
        link.dropConnection()
        #expect(await drain(mailbox).isEmpty)
        #expect(link.disconnection != nil && link.reconnections == 0)
        await hub.shutdown()
    }
}

/// Plays the hub for one registration on `fd`: reads frames until a register, answers it "ok".
private func answerRegistration(on fd: Int32) throws {
    var t = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
    var decoder = SocketFrameDecoder()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw SocketFrameError.truncated(have: 0, need: 1) }
        try decoder.append(buffer[0..<n])
        while let frame = try decoder.next() {
            if case .register(let request, _) = frame {
                let reply = try SocketFrame.reply(request: request, status: .ok).encoded()
                _ = reply.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                return
            }
        }
    }
}

/// A TCP listener on an ephemeral loopback port, without the protocol.
private func rawListener() -> (fd: Int32, port: Int)? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
            bind(fd, a, length) == 0 && listen(fd, 4) == 0 && getsockname(fd, a, &length) == 0
        }
    }
    return ok ? (fd, Int(UInt16(bigEndian: address.sin_port))) : nil
}
