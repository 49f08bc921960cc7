// SocketHubHardeningTests: a hub facing peers that never greet, send too much, never read, or send garbage.
import FedTransport
import Foundation
import Glibc
import Synchronization
import Testing

@Suite(.timeLimit(.minutes(1))) struct SocketHubHardeningTests {
    let loopback = SocketAddress(host: "127.0.0.1", port: 0)

    @Test func beforeItsHelloAPeerMaySendOnlySmallFrames() async throws {
        // Given: a hub whose frames may reach 256 MiB once a peer is greeted
        let log = LogLines()
        let hub = try SocketHub<TestMessage>(listeningOn: loopback, log: log.add)
        // When: a peer that has said nothing declares a 100 kB frame
        let peer = try #require(RawPeer(hub.address))
        peer.write([0x00, 0x01, 0x86, 0xA0, 0x03])
        // Then: it is refused as soon as the prefix is in (4 KiB before hello), and closed
        #expect(try await eventually { log.all.contains { $0.contains("more than the limit of 4096") } }, "\(log.all)")
        #expect(peer.isClosedByPeer(within: 5))
        // And: a greeted link may still send a 100 kB message
        let link = try SocketLink<TestMessage>(connectingTo: hub.address)
        let ps = try await hub.register(.parameterServer)
        let big = (0..<25_000).map(Float.init)
        try await link.send(.weights(big), from: .client(0), to: .parameterServer)
        await hub.shutdown()
        #expect(await drain(ps).map(\.message) == [.weights(big)])
    }

    @Test func aPeerWithoutAValidHelloInTimeIsClosedAndLogged() async throws {
        let log = LogLines()
        let hub = try SocketHub<TestMessage>(listeningOn: loopback, limits: SocketLimits(helloSeconds: 0.3),
                                             log: log.add)
        // Given: one peer that says nothing, one that sends a hello a byte every 100 ms (a slow frame)
        let silent = try #require(RawPeer(hub.address)), slow = try #require(RawPeer(hub.address))
        let trickle = Task.detached {
            for byte in try RawPeer.hello("a session name of some length") {
                if !slow.write([byte]) { return }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        // Then: both are closed within the deadline (not minutes later), each with a line in the log
        #expect(silent.isClosedByPeer(within: 3))
        #expect(slow.isClosedByPeer(within: 3))
        trickle.cancel()
        #expect(try await eventually { log.all.filter { $0.contains("no valid hello within 0.3 s") }.count == 2 },
                "\(log.all)")
        // And: a link that greets at once is not affected by the deadline
        let link = try SocketLink<TestMessage>(connectingTo: hub.address)
        let mailbox = try await link.register(.client(1))
        try await Task.sleep(for: .milliseconds(500))
        do { try await hub.send(.number(1), from: .parameterServer, to: .client(1)) } catch {
            Issue.record("\(error); log: \(log.all)")
        }
        await hub.shutdown()
        #expect(await drain(mailbox).map(\.message) == [.number(1)])
    }

    @Test func repliesToAPeerThatDoesNotReadStayWithinTheQueueLimit() async throws {
        // Given: 16 KiB queues, a 1 s stall limit, and a peer with a tiny receive buffer that never reads (a hello
        // deadline of 30 s: on a loaded machine the hub once read the hello after the default 5 s and closed the
        // peer for that instead)
        let log = LogLines()
        let limits = SocketLimits(outboundQueueBytes: 16 << 10, helloSeconds: 30, stallSeconds: 1)
        let hub = try SocketHub<TestMessage>(listeningOn: loopback, limits: limits, log: log.add)
        let peer = try #require(RawPeer(hub.address, receiveBuffer: 4096, sendTimeoutSeconds: 1))
        // When: it sends hello and 400,000 requests (each answered "unknown endpoint", ≈ 10 MB of replies)
        let request = try SocketFrame.route(request: 1, from: .client(1), to: .client(9), sequence: nil,
                                            payload: Data()).encoded()
        let burst = [UInt8]((0..<10_000).map { _ in request }.joined())
        let writer = Task.detached {
            guard peer.write(try RawPeer.hello()) else { return 0 }
            var sent = 0
            while sent < 40, peer.write(burst) { sent += 1 }
            return sent
        }
        let bursts = try await writer.value
        // Then: the hub stopped reading it rather than queue its replies beyond the limit (+ one reply), and
        // dropped it once it read nothing for the stall limit
        #expect(hub.largestOutboundQueue <= limits.outboundQueueBytes + 64, "largest queue \(hub.largestOutboundQueue)")
        #expect(bursts < 40)  // the control: the hub did push back
        #expect(try await eventually(30) { log.all.contains { $0.contains("read nothing") } }, "\(log.all)")
        await hub.shutdown()
    }

    @Test func aFullQueueForOneLinkNeverHoldsTheHubsSendsToAnother() async throws {
        // Given: 256 KiB queues and a stall limit far beyond the test (nobody is dropped for stalling here); client 1
        // on a peer that never reads, clients 0 and 2 on links
        let f = try await StuckPeerFederation(limits: SocketLimits(outboundQueueBytes: 256 << 10, stallSeconds: 600))
        // When: client 0 sends client 1 forty messages of 1 MB at once, until the hub's queue for client 1 holds a
        // whole one (each send waits for the reply the stuck peer never gives, so none completes)
        let completed = Tally()
        let pusher = f.pushFortyToClient1(counting: completed)
        #expect(try await eventually(30) { f.hub.largestOutboundQueue >= 1 << 20 }, "\(f.hub.largestOutboundQueue)")
        // Then: the hub's own send to client 2 completes while client 1's queue stays full and client 1 stays
        // registered: an ordering, not a time bound (a send held behind client 1's queue would only end when the
        // hub shuts down below, with an error)
        let toClient2 = Task { try await f.hub.send(.number(2), from: .parameterServer, to: .client(2)) }
        let delivered = Tally()
        let watcher = Task { if (try? await toClient2.value) != nil { delivered.add() } }
        let prompt = try await eventually(30) { delivered.value > 0 }
        #expect(prompt, "the hub's send to client 2 waited behind client 1's full queue")
        #expect(completed.value == 0 && f.hub.registeredEndpoints.contains(.client(1)))
        // And: shutting the hub down ends every send to client 1 with an error
        await f.hub.shutdown()
        await watcher.value
        let errors = await pusher.value
        #expect(errors.count == 40 && errors.allSatisfy { !$0.isEmpty }, "\(Set(errors))")
        #expect(await drain(f.c2).map(\.message) == [.number(2)])
        #expect(await drain(f.c0).isEmpty)
    }

    @Test func aLinkThatStopsReadingIsDroppedAndOthersCarryOn() async throws {
        // Given: 256 KiB queues, a 1 s stall limit; client 1 on a peer that never reads, clients 0 and 2 on links
        let f = try await StuckPeerFederation(limits: SocketLimits(outboundQueueBytes: 256 << 10, stallSeconds: 1))
        // When: client 0 sends it 40 messages of 1 MB at once (a peer that never answers holds each send; one that
        // never reads fills the hub's queue for it)
        let errors = await f.pushFortyToClient1(counting: Tally()).value
        // Then: the peer that does not read is dropped after the stall limit, and its endpoint closed (that the
        // hub's sends to others never wait behind it meanwhile is the test above)
        #expect(errors.count == 40 && errors.allSatisfy { $0.contains("client-1") }, "\(Set(errors))")
        #expect(try await eventually(30) { !f.hub.registeredEndpoints.contains(.client(1)) })
        #expect(f.log.all.contains { $0.contains("closed its endpoints client-1") }, "\(f.log.all)")
        // And: traffic between the others, through client 0's link, flows again
        try await f.hub.send(.number(2), from: .parameterServer, to: .client(2))
        try await f.c.send(.number(7), from: .client(2), to: .client(0))
        try await f.a.send(.number(8), from: .client(0), to: .client(2))
        await f.hub.shutdown()
        #expect(await drain(f.c0).map(\.message) == [.number(7)])
        #expect(await drain(f.c2).map(\.message) == [.number(2), .number(8)])
    }

    @Test func anAcceptErrorNeverShutsDownADescriptorReusedAfterIt() async throws {
        // Other tests open sockets meanwhile and may take the freed number first: then try again with a new hub.
        var checked = false
        for _ in 0..<5 where !checked {
            // Given: a hub whose listening socket fails (shut down under it: accept returns EINVAL)
            let log = LogLines()
            let hub = try SocketHub<TestMessage>(listeningOn: loopback, log: log.add)
            let listener = try #require(listeningDescriptor(port: hub.address.port))
            var pair: [Int32] = [0, 0]  // made first, so that it does not take the number itself
            #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
            Glibc.shutdown(listener, Int32(SHUT_RDWR))
            #expect(try await eventually { log.all.contains { $0.contains("stopped accepting connections") } },
                    "\(log.all)")
            // The accept thread closes it; then the number is reused by another socket (ours)
            guard try await eventually(1, { fcntl(listener, F_GETFD) == -1 }) else {
                Glibc.close(pair[0]); Glibc.close(pair[1])
                continue
            }
            guard fcntl(listener, F_GETFD) == -1, dup2(pair[0], listener) == listener else {
                Glibc.close(pair[0]); Glibc.close(pair[1])
                continue
            }
            // When: the hub shuts down
            await hub.shutdown()
            // Then: the socket now at that number still works (the hub did not shut it down)
            let sent = [UInt8]("still open".utf8).withUnsafeBytes {
                Glibc.send(listener, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            #expect(sent == 10)
            Glibc.close(listener); Glibc.close(pair[0]); Glibc.close(pair[1])
            checked = true
        }
        #expect(checked, "the descriptor was reused by someone else in all five tries")
    }

    @Test func aHubFuzzedByRawPeersStaysUpAndBounded() async throws {
        // Given: a hub with 64 KiB frames and one good link
        let log = LogLines()
        let limits = SocketLimits(maximumFrameLength: 64 << 10, outboundQueueBytes: 64 << 10, helloSeconds: 0.5)
        let hub = try SocketHub<TestMessage>(listeningOn: loopback, limits: limits, log: log.add)
        let good = try SocketLink<TestMessage>(connectingTo: hub.address)
        let mailbox = try await good.register(.client(0))
        // When: 60 peers send random bytes, random frames after a valid hello, truncated frames, oversized
        // declarations and half-frames they never finish
        var rng = FuzzBytes(state: 2026)
        var peers: [RawPeer] = []
        for n in 0..<60 {
            let peer = try #require(RawPeer(hub.address))
            var bytes: [UInt8]
            switch n % 5 {
            case 0: bytes = rng.bytes(1 + rng.below(3000))
            case 1:
                let body = rng.bytes(1 + rng.below(200))
                bytes = try RawPeer.hello() + [0, 0, 0, UInt8(body.count)] + body
            case 2:
                let frame = try SocketFrame.route(request: 1, from: .client(5), to: .client(0), sequence: nil,
                                                  payload: Data(rng.bytes(100))).encoded()
                bytes = try RawPeer.hello() + frame.prefix(1 + rng.below(frame.count - 1))
            case 3: bytes = try RawPeer.hello() + [UInt8(64 + rng.below(128)), 0, 0, 0]
            default: bytes = [0, 0, 0x0F, 0xFF] + rng.bytes(rng.below(100))
            }
            peer.write(bytes)
            // Greeted peers end their stream (a greeted link may idle); the others stall until the hello deadline
            if [1, 2, 3].contains(n % 5) { Glibc.shutdown(peer.fd, Int32(SHUT_WR)) }
            peers.append(peer)
        }
        // Then: every one is closed, every bad stream logged (a random body may be a valid frame), memory bounded
        for peer in peers { #expect(peer.isClosedByPeer(within: 5)) }
        #expect(hub.largestOutboundQueue <= limits.outboundQueueBytes)
        #expect(try await eventually { log.all.count >= 48 }, "\(log.all.count) lines")
        // And: the good link still works and no bad peer registered anything
        try await hub.send(.number(5), from: .parameterServer, to: .client(0))
        #expect(hub.registeredEndpoints == [.client(0)])
        await hub.shutdown()
        #expect(await drain(mailbox).map(\.message) == [.number(5)])
    }
}

/// The descriptor of this process's listening TCP socket on `port` (found through /proc/self/fd).
func listeningDescriptor(port: Int) -> Int32? {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return nil }
    for fd in names.compactMap(Int32.init) {
        var listening: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &size) == 0, listening == 1 else { continue }
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        if ok == 0 && Int(UInt16(bigEndian: address.sin_port)) == port { return fd }
    }
    return nil
}

/// A count that concurrent tasks may add to.
private final class Tally: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

/// A hub with the given limits; client 1 registered by a raw peer that never reads (4 KiB receive buffer), clients 0
/// and 2 on links `a` and `c`.
private struct StuckPeerFederation {
    let log = LogLines()
    let hub: SocketHub<TestMessage>
    let stuck: RawPeer
    let a: SocketLink<TestMessage>, c: SocketLink<TestMessage>
    let c0: Mailbox<TestMessage>, c2: Mailbox<TestMessage>

    init(limits: SocketLimits) async throws {
        hub = try SocketHub<TestMessage>(listeningOn: SocketAddress(host: "127.0.0.1", port: 0), limits: limits,
                                         log: log.add)
        stuck = try #require(RawPeer(hub.address, receiveBuffer: 4096))
        stuck.write(try RawPeer.hello() + SocketFrame.register(request: 1, endpoint: .client(1)).encoded())
        a = try SocketLink<TestMessage>(connectingTo: hub.address)
        c = try SocketLink<TestMessage>(connectingTo: hub.address)
        c0 = try await a.register(.client(0))
        c2 = try await c.register(.client(2))
        try await hub.waitForEndpoints([.client(0), .client(1), .client(2)], timeoutSeconds: 30)
    }

    /// Client 0 sends client 1 forty messages of 1 MB at once; the task ends with each send's error ("" for a send
    /// that completed, which `completed` counts).
    func pushFortyToClient1(counting completed: Tally) -> Task<[String], Never> {
        let big = TestMessage.text(String(repeating: "x", count: 1 << 20))  // a text encodes fast
        let a = self.a
        return Task.detached {
            await withTaskGroup(of: String.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        do { try await a.send(big, from: .client(0), to: .client(1)) } catch { return "\(error)" }
                        completed.add()
                        return ""
                    }
                }
                return await group.reduce(into: [String]()) { $0.append($1) }
            }
        }
    }
}
