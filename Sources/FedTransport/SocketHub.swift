// SocketHub: a Transport that listens on TCP, hosts endpoints of its own, and routes between connected SocketLinks.
import Foundation
import Synchronization

/// The listening side of a socket federation (`fednoise serve`): endpoints registered on the hub live in this
/// process; ``SocketLink``s in other processes register theirs through it, and the hub routes every message to the
/// process hosting its receiver.
///
/// The hub keeps the directory (which endpoint is open where, which were closed) and every sender's sequence counter,
/// so the ``Transport`` contract holds for the whole federation: a send returns once the envelope is in the
/// receiver's mailbox, wherever that is. Relayed payloads stay opaque bytes (decoded only by the process that
/// delivers them). A peer that sends bad bytes, speaks another version or names another session is disconnected and
/// logged; nothing a peer sends can crash the hub. Memory per connection is bounded by ``SocketLimits``.
///
/// With a ``TLSContext`` every link completes a TLS 1.3 handshake with mutual authentication first (within the
/// context's deadline; a peer that fails or stalls is dropped and logged), and the hub enforces the identity its
/// certificate carries: a link registers only endpoints its ``PeerIdentity`` allows, and sends only from endpoints
/// it registered. Without one, connections are plaintext TCP: use that on loopback or a trusted network only.
public final class SocketHub<Message: Codable & Sendable>: Transport {
    typealias Slot = ReplySlot<Result<SocketReply, SocketTransportError>>
    enum Waiter {
        case local(Slot)
        case remote(SocketConnection, request: UInt64)
    }
    struct Relay {
        var waiter: Waiter
        var destination: ObjectIdentifier
        var to: EndpointID
    }
    enum Place {
        case local
        case remote(SocketConnection)
    }
    struct State {
        var mailboxes = LocalMailboxes<Message>()
        var remote: [EndpointID: ObjectIdentifier] = [:]
        var remoteClosed: Set<EndpointID> = []
        /// Each link, whether it said a valid hello, and whether it was refused (its later frames are ignored).
        var peers: [ObjectIdentifier: (connection: SocketConnection, greeted: Bool, refused: Bool)] = [:]
        var relays: [UInt64: Relay] = [:]
        var nextRelay: UInt64 = 1
        var nextSequence: [EndpointID: UInt64] = [:]
        var isShutDown = false
        /// The largest queue peak of the connections that have gone.
        var largestPastQueue = 0

        func place(of endpoint: EndpointID) throws(TransportError) -> Place {
            if isShutDown { throw .shutDown }
            if mailboxes.hosts(endpoint) { return .local }
            if let id = remote[endpoint], let peer = peers[id] { return .remote(peer.connection) }
            if mailboxes.closed.contains(endpoint) || remoteClosed.contains(endpoint) {
                throw .endpointClosed(endpoint)
            }
            throw .unknownEndpoint(endpoint)
        }

        func isOpen(_ endpoint: EndpointID) -> Bool { mailboxes.hosts(endpoint) || remote[endpoint] != nil }

        mutating func stamp(_ sender: EndpointID, _ given: UInt64?) -> UInt64 {
            if let given { return given }
            defer { nextSequence[sender, default: 0] += 1 }
            return nextSequence[sender, default: 0]
        }

        /// Puts `envelope` (`stamped`: keeping its sequence number) in its mailbox if the receiver is here (nil), or
        /// files a relay answered into `slot` and returns the connection to send it on, the relay number and the
        /// sequence number given.
        mutating func take(_ envelope: Envelope<Message>, stamped: Bool,
                           _ slot: Slot) throws(TransportError) -> (SocketConnection, UInt64, UInt64)? {
            switch try place(of: envelope.to) {
            case .local:
                var e = envelope
                e.sequence = nextSequence[e.from, default: 0]
                if stamped { e.sequence = envelope.sequence }
                try mailboxes.deliver(e)
                if !stamped { nextSequence[e.from] = e.sequence + 1 }
                return nil
            case .remote(let connection):
                let id = nextRelay
                nextRelay += 1
                relays[id] = Relay(waiter: .local(slot), destination: ObjectIdentifier(connection), to: envelope.to)
                return (connection, id, stamp(envelope.from, stamped ? envelope.sequence : nil))
            }
        }
    }

    let state = Mutex(State())
    let limits: SocketLimits
    let session: String
    let log: @Sendable (String) -> Void
    /// The TLS set-up, if links must use TLS (SocketHub+TLS).
    let tls: TLSAdmission?
    private let listener: ListeningSocket
    /// Where the hub listens (with the port the system chose if port 0 was asked for).
    public let address: SocketAddress

    /// Listens on `address` for links of `session` (over TLS with `tls`, a ``TLSContext`` of role `.hub`); `log`
    /// hears about refused and failed peers.
    /// - Throws: ``SocketError`` if the address cannot be resolved or bound.
    public init(listeningOn address: SocketAddress, session: String = "", tls: TLSContext? = nil,
                limits: SocketLimits = SocketLimits(), log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        precondition(tls?.role != .link, "a hub needs a TLSContext of role .hub")
        self.tls = tls.map(TLSAdmission.init)
        let (fd, port) = try POSIXSocket.listen(address)
        let listener = ListeningSocket(fd: fd)
        self.listener = listener
        self.address = SocketAddress(host: address.host, port: port)
        self.limits = limits
        self.session = session
        self.log = log
        let name = self.address
        let thread = Thread { [weak self, listener, log] in
            while true {
                do {
                    let (client, peer) = try POSIXSocket.accept(listener.fd)
                    guard let self else {
                        POSIXSocket.close(client)
                        break
                    }
                    self.accepted(client, peer: peer)  // SocketHub+TLS
                } catch {
                    if !listener.isShut { log("stopped accepting connections on \(name): \(error)") }
                    break
                }
            }
            listener.close()
        }
        thread.name = "socket-hub accept \(self.address)"
        thread.start()
    }

    deinit { listener.shut() }

    /// Waits until every endpoint in `endpoints` is open (here or on a link).
    /// - Throws: ``SocketTransportError/endpointsMissing(_:seconds:)`` after `timeoutSeconds`;
    ///   ``TransportError/shutDown``.
    public func waitForEndpoints(_ endpoints: [EndpointID], timeoutSeconds: Double) async throws {
        let deadline = ContinuousClock.now + .seconds(timeoutSeconds)
        while true {
            let missing = try state.withLock { s throws(TransportError) in
                if s.isShutDown { throw .shutDown }
                return endpoints.filter { !s.isOpen($0) }
            }
            if missing.isEmpty { return }
            guard ContinuousClock.now < deadline else {
                throw SocketTransportError.endpointsMissing(missing, seconds: timeoutSeconds)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    public func register(_ endpoint: EndpointID) async throws -> Mailbox<Message> {
        try state.withLock { s throws(TransportError) -> Mailbox<Message> in
            if s.isShutDown { throw .shutDown }
            if s.remote[endpoint] != nil { throw .alreadyRegistered(endpoint) }
            return try s.mailboxes.register(endpoint) { [weak self] generation in
                _ = self?.state.withLock { $0.mailboxes.endIfCurrent(endpoint, generation: generation) }
            }
        }
    }

    public func send(_ message: Message, from sender: EndpointID, to receiver: EndpointID) async throws {
        try await dispatch(Envelope(from: sender, to: receiver, sequence: 0, message: message), stamped: false)
    }

    public func forward(_ envelope: Envelope<Message>) async throws {
        try await dispatch(envelope, stamped: true)
    }

    /// Delivers here, or relays to the link hosting the receiver and waits for its reply.
    private func dispatch(_ envelope: Envelope<Message>, stamped: Bool) async throws {
        let slot = Slot()
        let relay = try state.withLock { s throws(TransportError) in try s.take(envelope, stamped: stamped, slot) }
        guard let (connection, id, sequence) = relay else { return }
        let payload: Data
        do {
            payload = try WireFormat.encode(envelope.message)
        } catch {
            _ = state.withLock { $0.relays.removeValue(forKey: id) }
            throw error
        }
        try await self.relay(id, on: connection, envelope.from, envelope.to, sequence, payload)
        if let error = try await slot.wait().get().error { throw error }
    }

    /// Queues relay `id`'s deliver frame on `connection` (waiting while its queue is full); a connection that is
    /// closing answers the relay with `endpointClosed`.
    /// - Throws: ``SocketFrameError/frameTooLarge(declared:limit:)`` (the relay is then dropped).
    func relay(_ id: UInt64, on connection: SocketConnection, _ from: EndpointID, _ to: EndpointID,
               _ sequence: UInt64, _ payload: Data) async throws {
        let frame: OutgoingFrame
        do {
            frame = try SocketFrame.deliver(request: id, from: from, to: to, sequence: sequence, payload: payload)
                .outgoing(maximumLength: limits.maximumFrameLength)
        } catch {
            _ = state.withLock { $0.relays.removeValue(forKey: id) }
            throw error
        }
        if !(await connection.send(frame)) { settle(id, .endpointClosed(to)) }
    }

    public func close(_ endpoint: EndpointID) async {
        state.withLock { $0.mailboxes.close(endpoint) }?.finish()
    }

    public func shutdown() async {
        let (continuations, relays, peers) = state.withLock { s in
            if s.isShutDown {
                return ([AsyncStream<Envelope<Message>>.Continuation](), [Relay](), [SocketConnection]())
            }
            s.isShutDown = true
            defer { s.relays = [:] }
            return (s.mailboxes.closeAll(), Array(s.relays.values), s.peers.values.map(\.connection))
        }
        for c in continuations { c.finish() }
        for r in relays { finish(r, .shutDown) }
        let bye = try? SocketFrame.shutdown.encoded()
        for p in peers {
            if let bye { p.enqueue(bye) }
            p.close()
        }
        listener.shut()
    }

    /// The most bytes any connection's outgoing queue has held so far (bounded by ``SocketLimits``; for tests).
    public var largestOutboundQueue: Int {
        let (peers, past) = state.withLock { s in (s.peers.values.map(\.connection), s.largestPastQueue) }
        return peers.map(\.queuePeak).reduce(past, max)
    }

    /// The endpoints open here and on every link, sorted.
    public var registeredEndpoints: [EndpointID] {
        state.withLock { s in (Array(s.mailboxes.open.keys) + Array(s.remote.keys)).sorted() }
    }
}

/// The hub's listening descriptor: shut down at most once, and never after it is closed (the number may then
/// belong to another file).
final class ListeningSocket: Sendable {
    let fd: Int32
    /// 0 listening, 1 shut down (the hub is stopping), 2 closed.
    private let phase = Mutex(0)

    init(fd: Int32) { self.fd = fd }

    var isShut: Bool { phase.withLock { $0 == 1 } }

    /// Wakes the accept thread (which then closes the descriptor), unless it is already closed.
    func shut() {
        phase.withLock { p in
            if p == 0 {
                POSIXSocket.shutdown(fd, writeOnly: false)
                p = 1
            }
        }
    }

    /// Closes the descriptor (the accept thread, once it stops accepting).
    func close() {
        phase.withLock { p in
            p = 2
            POSIXSocket.close(fd)
        }
    }
}
