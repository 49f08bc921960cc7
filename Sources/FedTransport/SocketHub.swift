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
/// Plaintext TCP: run it on loopback or a trusted network only (there is no TLS yet).
public final class SocketHub<Message: Codable & Sendable>: Transport {
    private typealias Slot = ReplySlot<Result<SocketReply, SocketTransportError>>
    private enum Waiter {
        case local(Slot)
        case remote(SocketConnection, request: UInt64)
    }
    private struct Relay {
        var waiter: Waiter
        var destination: ObjectIdentifier
        var to: EndpointID
    }
    private enum Place {
        case local
        case remote(SocketConnection)
    }
    private struct State {
        var mailboxes = LocalMailboxes<Message>()
        var remote: [EndpointID: ObjectIdentifier] = [:]
        var remoteClosed: Set<EndpointID> = []
        /// Each link, whether it said a valid hello, and whether it was refused (its later frames are ignored).
        var peers: [ObjectIdentifier: (connection: SocketConnection, greeted: Bool, refused: Bool)] = [:]
        var relays: [UInt64: Relay] = [:]
        var nextRelay: UInt64 = 1
        var nextSequence: [EndpointID: UInt64] = [:]
        var isShutDown = false

        func place(of endpoint: EndpointID) throws(TransportError) -> Place {
            if isShutDown { throw .shutDown }
            if mailboxes.hosts(endpoint) { return .local }
            if let id = remote[endpoint], let peer = peers[id] { return .remote(peer.connection) }
            if mailboxes.closed.contains(endpoint) || remoteClosed.contains(endpoint) { throw .endpointClosed(endpoint) }
            throw .unknownEndpoint(endpoint)
        }

        func isOpen(_ endpoint: EndpointID) -> Bool { mailboxes.hosts(endpoint) || remote[endpoint] != nil }

        mutating func stamp(_ sender: EndpointID, _ given: UInt64?) -> UInt64 {
            if let given { return given }
            defer { nextSequence[sender, default: 0] += 1 }
            return nextSequence[sender, default: 0]
        }
    }

    private let state = Mutex(State())
    private let limits: SocketLimits
    private let session: String
    private let log: @Sendable (String) -> Void
    private let listener: Int32
    private let listenerShut = Mutex(false)
    /// Where the hub listens (with the port the system chose if port 0 was asked for).
    public let address: SocketAddress

    /// Listens on `address` for links of `session`; `log` hears about refused and failed peers.
    /// - Throws: ``SocketError`` if the address cannot be resolved or bound.
    public init(listeningOn address: SocketAddress, session: String = "", limits: SocketLimits = SocketLimits(),
                log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        let (fd, port) = try POSIXSocket.listen(address)
        listener = fd
        self.address = SocketAddress(host: address.host, port: port)
        self.limits = limits
        self.session = session
        self.log = log
        let thread = Thread { [weak self, fd] in
            while let (client, peer) = POSIXSocket.accept(fd) {
                guard let self else {
                    POSIXSocket.close(client)
                    break
                }
                self.admit(client, peer: peer)
            }
            POSIXSocket.close(fd)
        }
        thread.name = "socket-hub accept \(self.address)"
        thread.start()
    }

    deinit { stopListening() }

    /// Wakes the accept thread, which then closes the listening socket (once: the descriptor may be reused after).
    private func stopListening() {
        let first = listenerShut.withLock { shut in
            defer { shut = true }
            return !shut
        }
        if first { POSIXSocket.shutdown(listener, writeOnly: false) }
    }

    /// Waits until every endpoint in `endpoints` is open (here or on a link).
    /// - Throws: ``SocketTransportError/endpointsMissing(_:seconds:)`` after `timeoutSeconds`; ``TransportError/shutDown``.
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
        let relay = try state.withLock { s throws(TransportError) -> (SocketConnection, UInt64, UInt64)? in
            switch try s.place(of: envelope.to) {
            case .local:
                var e = envelope
                e.sequence = s.nextSequence[e.from, default: 0]
                if stamped { e.sequence = envelope.sequence }
                try s.mailboxes.deliver(e)
                if !stamped { s.nextSequence[e.from] = e.sequence + 1 }
                return nil
            case .remote(let connection):
                let id = s.nextRelay
                s.nextRelay += 1
                s.relays[id] = Relay(waiter: .local(slot), destination: ObjectIdentifier(connection), to: envelope.to)
                return (connection, id, s.stamp(envelope.from, stamped ? envelope.sequence : nil))
            }
        }
        guard let (connection, id, sequence) = relay else { return }
        let bytes: [UInt8]
        do {
            bytes = try SocketFrame.deliver(request: id, from: envelope.from, to: envelope.to, sequence: sequence,
                                            payload: try WireFormat.encode(envelope.message))
                .encoded(maximumLength: limits.maximumFrameLength)
        } catch {
            _ = state.withLock { $0.relays.removeValue(forKey: id) }
            throw error
        }
        if !(await connection.send(bytes)) { settle(id, .endpointClosed(envelope.to)) }
        if let error = try await slot.wait().get().error { throw error }
    }

    public func close(_ endpoint: EndpointID) async {
        state.withLock { $0.mailboxes.close(endpoint) }?.finish()
    }

    public func shutdown() async {
        let (continuations, relays, peers) = state.withLock { s in
            if s.isShutDown { return ([AsyncStream<Envelope<Message>>.Continuation](), [Relay](), [SocketConnection]()) }
            s.isShutDown = true
            defer { s.relays = [:] }
            return (s.mailboxes.closeAll(), Array(s.relays.values), s.peers.values.map(\.connection))
        }
        for c in continuations { c.finish() }
        for r in relays { answer(r.waiter, .shutDown) }
        let bye = try? SocketFrame.shutdown.encoded()
        for p in peers {
            if let bye { p.enqueue(bye) }
            p.close()
        }
        stopListening()
    }

    /// The endpoints open here and on every link, sorted.
    public var registeredEndpoints: [EndpointID] {
        state.withLock { s in (Array(s.mailboxes.open.keys) + Array(s.remote.keys)).sorted() }
    }

    // MARK: Peers

    private func admit(_ fd: Int32, peer: String) {
        let connection = SocketConnection(fd: fd, peer: peer, limits: limits)
        let admitted = state.withLock { s in
            guard !s.isShutDown, s.peers.count < limits.maximumConnections else { return false }
            s.peers[ObjectIdentifier(connection)] = (connection, false, false)
            return true
        }
        guard admitted else {
            log("refused a connection from \(peer): the hub is shut down or full (\(limits.maximumConnections) links)")
            POSIXSocket.close(fd)
            return
        }
        connection.start(onFrame: { [weak self] frame in try self?.received(frame, on: connection) },
                         onClose: { [weak self] reason in self?.disconnected(connection, reason) })
    }

    private func received(_ frame: SocketFrame, on connection: SocketConnection) throws {
        let me = ObjectIdentifier(connection)
        let (greeted, refused) = state.withLock { ($0.peers[me]?.greeted ?? false, $0.peers[me]?.refused ?? false) }
        if refused { return }  // told why already; the connection is closing
        if case .hello(let version, let theirs) = frame {
            guard !greeted else { throw SocketFrameError.malformed("a second hello") }
            let refusal = version != SocketFrame.version ? "protocol version \(version), this hub speaks \(SocketFrame.version)"
                : theirs != session ? "session \(theirs.debugDescription) is not this hub's \(session.debugDescription)"
                : nil
            if let refusal {
                log("refused \(connection.peer): \(refusal)")
                state.withLock { $0.peers[me]?.refused = true }
                connection.enqueue(try SocketFrame.reply(request: 0, status: .failed(refusal)).encoded())
                connection.close()
                return
            }
            state.withLock { $0.peers[me]?.greeted = true }
            return
        }
        guard greeted else { throw SocketFrameError.malformed("\(frame.kindName) before hello") }
        switch frame {
        case .register(let request, let endpoint):
            let status = state.withLock { s -> SocketReply in
                if s.isShutDown { return .shutDown }
                if s.isOpen(endpoint) { return .alreadyRegistered(endpoint) }
                s.remote[endpoint] = me
                s.remoteClosed.remove(endpoint)
                return .ok
            }
            connection.enqueue(try SocketFrame.reply(request: request, status: status).encoded())
        case .close(let endpoint):
            state.withLock { s in
                if s.remote[endpoint] == me {
                    s.remote[endpoint] = nil
                    s.remoteClosed.insert(endpoint)
                }
            }
        case .route(let request, let from, let to, let sequence, let payload):
            try route(request, from: from, to: to, sequence: sequence, payload: payload, origin: connection)
        case .reply(let request, let status):
            let relay = state.withLock { s -> Relay? in
                guard s.relays[request]?.destination == me else { return nil }
                return s.relays.removeValue(forKey: request)
            }
            if let relay { answer(relay.waiter, status) }
        case .hello, .deliver, .shutdown:
            throw SocketFrameError.malformed("a link does not send \(frame.kindName) frames")
        }
    }

    /// A link's message: into a mailbox here, or on to the link hosting `to` (blocking this reader while that
    /// link's queue is full: backpressure reaches the sender's socket).
    private func route(_ request: UInt64, from: EndpointID, to: EndpointID, sequence: UInt64?, payload: Data,
                       origin: SocketConnection) throws {
        let reply = { (status: SocketReply) throws in
            _ = origin.enqueue(try SocketFrame.reply(request: request, status: status).encoded())
        }
        let place: Place
        do throws(TransportError) {
            place = try state.withLock { s throws(TransportError) in try s.place(of: to) }
        } catch {
            try reply(SocketReply(error))
            return
        }
        switch place {
        case .local:
            let message: Message
            do { message = try WireFormat.decode(Message.self, from: payload) }
            catch {
                try reply(.failed("the message from \(from) to \(to) does not decode: \(error)"))
                return
            }
            let status = state.withLock { s -> SocketReply in
                do throws(TransportError) {
                    let stamped = sequence ?? s.nextSequence[from, default: 0]
                    try s.mailboxes.deliver(Envelope(from: from, to: to, sequence: stamped, message: message))
                    if sequence == nil { s.nextSequence[from] = stamped + 1 }
                    return .ok
                } catch {
                    return SocketReply(error)
                }
            }
            try reply(status)
        case .remote(let destination):
            let (id, stamped) = state.withLock { s in
                defer { s.nextRelay += 1 }
                s.relays[s.nextRelay] = Relay(waiter: .remote(origin, request: request),
                                              destination: ObjectIdentifier(destination), to: to)
                return (s.nextRelay, s.stamp(from, sequence))
            }
            let bytes = try SocketFrame.deliver(request: id, from: from, to: to, sequence: stamped, payload: payload)
                .encoded(maximumLength: limits.maximumFrameLength)
            if !destination.sendBlocking(bytes) { settle(id, .endpointClosed(to)) }
        }
    }

    /// Answers relay `id` with `status` if it is still waiting.
    private func settle(_ id: UInt64, _ status: SocketReply) {
        if let relay = state.withLock({ $0.relays.removeValue(forKey: id) }) { answer(relay.waiter, status) }
    }

    private func answer(_ waiter: Waiter, _ status: SocketReply) {
        switch waiter {
        case .local(let slot): slot.fulfil(.success(status))
        case .remote(let origin, let request):
            if let bytes = try? SocketFrame.reply(request: request, status: status).encoded() { origin.enqueue(bytes) }
        }
    }

    private func disconnected(_ connection: SocketConnection, _ reason: (any Error)?) {
        let me = ObjectIdentifier(connection)
        let orphans = state.withLock { s -> [Relay] in
            s.peers[me] = nil
            for (endpoint, owner) in s.remote where owner == me {
                s.remote[endpoint] = nil
                s.remoteClosed.insert(endpoint)
            }
            let lost = s.relays.filter { $0.value.destination == me }
            for id in lost.keys { s.relays[id] = nil }
            return Array(lost.values)
        }
        for relay in orphans { answer(relay.waiter, .endpointClosed(relay.to)) }
        if let reason { log("closed the connection from \(connection.peer): \(reason)") }
    }
}
