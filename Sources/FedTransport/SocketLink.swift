// SocketLink: a Transport for another process: its endpoints live here, every message travels through a SocketHub.
import Foundation
import Synchronization

/// The side of a socket federation that connects to a ``SocketHub`` (`fednoise join`).
///
/// Endpoints registered here get their mailboxes here; every ``register(_:)``, ``send(_:from:to:)`` and
/// ``forward(_:)`` is a request to the hub, which stamps sequence numbers, routes the message (encoded once with
/// ``WireFormat``) to the process hosting the receiver, and replies only once the envelope is in the receiver's
/// mailbox (or with the ``TransportError`` the receiver's side gave). So the ``Transport`` contract holds across
/// processes as in one: no silent loss, FIFO per pair, errors for unknown and closed endpoints. Messages between two
/// endpoints of the same link also go through the hub.
///
/// If the connection drops, the link reconnects and registers its endpoints again (``SocketReconnect``); requests
/// waiting meanwhile throw ``SocketTransportError/connectionLost(_:)``. If it cannot reconnect (or the hub refused
/// it), every mailbox here ends (actors' loops return) and ``disconnection`` says why. Keep the
/// link alive while its mailboxes are in use (the actors holding it as their transport do): deallocating it closes
/// the connection.
public final class SocketLink<Message: Codable & Sendable>: Transport {
    struct State {
        var connection: SocketConnection
        var mailboxes = LocalMailboxes<Message>()
        var pending: [UInt64: ReplySlot<Result<SocketReply, SocketTransportError>>] = [:]
        var nextRequest: UInt64 = 1
        var isShutDown = false
        /// Why the connection ended for good; nil while it is up (or after a clean shutdown by the hub).
        var lost: String?
        var hubShutDown = false
        /// Why the connection dropped, while the link is reconnecting.
        var reconnecting: String?
        /// A reconnect loop is running (it handles the end of the connections it makes).
        var inReconnectLoop = false
        var reconnections = 0

        func check() throws {
            if isShutDown { throw TransportError.shutDown }
            if let lost { throw SocketTransportError.connectionLost(lost) }
            if let reconnecting { throw SocketTransportError.connectionLost("\(reconnecting); reconnecting") }
        }
    }

    let state: Mutex<State>
    let limits: SocketLimits
    let session: String
    let reconnect: SocketReconnect
    /// The TLS set-up every connection (the first and each reconnection) uses; nil: plaintext.
    let tls: TLSContext?
    let log: @Sendable (String) -> Void
    /// The hub's address.
    public let hub: SocketAddress

    /// Connects to the hub at `hub` and asks to join `session` (the hub refuses a link whose session differs). With
    /// `tls` (a ``TLSContext`` of role `.link`), completes a TLS 1.3 handshake first and accepts only a hub whose
    /// certificate, signed by the same CA, names `hub`. If the connection drops later, the link reconnects (with
    /// the same TLS set-up) as `reconnect` says and registers its open endpoints again; `log` hears about drops and
    /// reconnections.
    /// - Throws: ``SocketError`` if the connection cannot be made; ``TLSError`` if the handshake fails.
    public init(connectingTo hub: SocketAddress, session: String = "", tls: TLSContext? = nil,
                limits: SocketLimits = SocketLimits(), reconnect: SocketReconnect = SocketReconnect(),
                log: @escaping @Sendable (String) -> Void = { _ in }) throws {
        precondition(tls?.role != .hub, "a link needs a TLSContext of role .link")
        self.hub = hub
        self.limits = limits
        self.session = session
        self.tls = tls
        self.reconnect = reconnect
        self.log = log
        let connection = try Self.connect(hub, tls: tls, limits: limits)
        state = Mutex(State(connection: connection))
        try start(connection)
    }

    /// A new connection to `hub`, through a TLS handshake when `tls` is given.
    static func connect(_ hub: SocketAddress, tls: TLSContext?, limits: SocketLimits) throws -> SocketConnection {
        let fd = try POSIXSocket.connect(hub)
        let stream: any ByteStream
        do {
            stream = try tls.map { try TLSStream.handshake(fd, context: $0, peer: hub.description) }
                ?? PlainStream(fd: fd)
        } catch {
            POSIXSocket.close(fd)
            throw error
        }
        return SocketConnection(stream: stream, peer: hub.description, limits: limits, vectorsApart: true)
    }

    deinit { state.withLock { $0.connection }.close(abort: true) }

    /// Starts `connection`'s threads and says hello on it.
    func start(_ connection: SocketConnection) throws {
        connection.start(onFrame: { [weak self] frame, vectors in
                             try self?.received(frame, vectors, on: connection)
                         },
                         onClose: { [weak self] reason in self?.ended(connection, reason) })
        connection.enqueue(try SocketFrame.hello(version: SocketFrame.version, session: session).encoded())
    }

    /// Why the connection ended: nil while it is up, or when the hub shut the federation down normally.
    public var disconnection: String? { state.withLock { $0.hubShutDown ? nil : $0.lost } }

    /// The TLS 1.3 cipher suite of the current connection (`TLS_AES_128_GCM_SHA256` between FedNoise peers);
    /// nil over plaintext.
    public var cipherSuite: String? { state.withLock { $0.connection }.cipherSuite }

    /// How many times the link has reconnected after a dropped connection.
    public var reconnections: Int { state.withLock { $0.reconnections } }

    /// Cuts the connection abruptly, as a network failure would (for fault-injection tests): the hub closes this
    /// link's endpoints, and the link reconnects as configured.
    public func dropConnection() { state.withLock { $0.connection }.close(abort: true) }

    public func register(_ endpoint: EndpointID) async throws -> Mailbox<Message> {
        let mailbox = try state.withLock { s throws -> Mailbox<Message> in
            try s.check()
            return try s.mailboxes.register(endpoint) { [weak self] generation in
                self?.mailboxEnded(endpoint, generation: generation)
            }
        }
        do {
            try await request { .register(request: $0, endpoint: endpoint) }
        } catch {
            state.withLock { $0.mailboxes.close(endpoint) }?.finish()
            throw error
        }
        return mailbox
    }

    public func send(_ message: Message, from sender: EndpointID, to receiver: EndpointID) async throws {
        let payload = try WireFormat.encode(message)
        try await request { .route(request: $0, from: sender, to: receiver, sequence: nil, payload: payload) }
    }

    public func forward(_ envelope: Envelope<Message>) async throws {
        let payload = try WireFormat.encode(envelope.message)
        try await request {
            .route(request: $0, from: envelope.from, to: envelope.to, sequence: envelope.sequence, payload: payload)
        }
    }

    public func close(_ endpoint: EndpointID) async {
        guard let continuation = state.withLock({ $0.mailboxes.close(endpoint) }) else { return }
        continuation.finish()
        if let bytes = try? SocketFrame.close(endpoint: endpoint).encoded() {
            await state.withLock { $0.connection }.send(bytes)
        }
    }

    public func shutdown() async {
        let (continuations, pending, connection) = state.withLock { s in
            guard !s.isShutDown else {
                return ([AsyncStream<Envelope<Message>>.Continuation](),
                        [ReplySlot<Result<SocketReply, SocketTransportError>>](), s.connection)
            }
            s.isShutDown = true
            defer { s.pending = [:] }
            return (s.mailboxes.closeAll(), Array(s.pending.values), s.connection)
        }
        for c in continuations { c.finish() }
        for p in pending { p.fulfil(.success(.shutDown)) }
        connection.close()
        connection.waitUntilWritten(seconds: 5)  // the replies already queued reach the hub before the process exits
    }

    /// Sends the request numbered by `make` and waits for its reply; throws the error a non-ok reply stands for.
    func request(_ make: (UInt64) -> SocketFrame) async throws {
        let slot = ReplySlot<Result<SocketReply, SocketTransportError>>()
        let (id, connection) = try state.withLock { s throws -> (UInt64, SocketConnection) in
            try s.check()
            defer { s.nextRequest += 1 }
            s.pending[s.nextRequest] = slot
            return (s.nextRequest, s.connection)
        }
        let bytes: OutgoingFrame
        do {
            bytes = try make(id).outgoing(maximumLength: limits.maximumFrameLength)
        } catch {
            _ = state.withLock { $0.pending.removeValue(forKey: id) }
            throw error
        }
        if !(await connection.send(bytes)) {
            let reason = state.withLock { s in
                s.pending[id] = nil
                return s.lost
            } ?? "the connection is closing"
            slot.fulfil(.failure(.connectionLost(reason)))
        }
        if let error = try await slot.wait().get().error { throw error }
    }

    /// `vectors`: a deliver frame's trailing float vectors, received apart from its payload (a model).
    private func received(_ frame: SocketFrame, _ vectors: [Float]?, on connection: SocketConnection) throws {
        switch frame {
        case .deliver(let request, let from, let to, let sequence, let payload):
            let decoded = Result { try WireFormat.decode(Message.self, from: payload, trailingVectors: vectors) }
            // Deliver and queue the reply under one lock: a shutdown in between would lose the reply.
            try state.withLock { s in
                var status: SocketReply
                switch decoded {
                case .success(let message):
                    do throws(TransportError) {
                        try s.mailboxes.deliver(Envelope(from: from, to: to, sequence: sequence, message: message))
                        status = .ok
                    } catch {
                        status = SocketReply(error)
                    }
                case .failure(let error):
                    status = .failed("the message from \(from) to \(to) does not decode: \(error)")
                }
                connection.enqueue(try SocketFrame.reply(request: request, status: status).encoded())
            }
        case .reply(let request, let status):
            if request == 0, case .failed(let reason) = status {  // the hub refused this link
                state.withLock { $0.lost = "the hub refused this link: \(reason)" }
                return
            }
            state.withLock { $0.pending.removeValue(forKey: request) }?.fulfil(.success(status))
        case .shutdown:
            state.withLock { $0.hubShutDown = true }
        case .hello, .register, .close, .route:
            throw SocketFrameError.malformed("a hub does not send \(frame.kindName) frames")
        }
    }

    private func mailboxEnded(_ endpoint: EndpointID, generation: Int) {
        guard state.withLock({ $0.mailboxes.endIfCurrent(endpoint, generation: generation) }),
              let bytes = try? SocketFrame.close(endpoint: endpoint).encoded() else { return }
        state.withLock { $0.connection }.enqueue(bytes)
    }

    /// `connection` ended: reconnect (a drop while the run goes on), or end every mailbox here (for good).
    private func ended(_ connection: SocketConnection, _ reason: (any Error)?) {
        let why = reason.map { "\($0)" } ?? "the hub closed the connection"
        let next = state.withLock { s -> AfterDrop in
            guard s.connection === connection, s.reconnecting == nil else { return .ignore }  // an older one
            guard reconnect.attempts > 0, s.lost == nil, !s.hubShutDown, !s.isShutDown else { return .end }
            s.reconnecting = why
            if s.inReconnectLoop { return .failPending }  // the loop tries again
            s.inReconnectLoop = true
            return .reconnect
        }
        switch next {
        case .reconnect:
            log("the connection to \(hub) dropped (\(why)); reconnecting")
            failPending("\(why); reconnecting")
            Task.detached { [weak self] in await self?.reconnectLoop(after: why) }
        case .failPending:
            failPending("\(why); reconnecting")
        case .end:
            end(why)
        case .ignore:
            break
        }
    }

    /// Fails the requests waiting for a reply on a connection that is gone.
    func failPending(_ why: String) {
        let pending = state.withLock { s in
            defer { s.pending = [:] }
            return Array(s.pending.values)
        }
        for p in pending { p.fulfil(.failure(.connectionLost(why))) }
    }

    /// Ends every mailbox here and fails every waiting request: the connection is gone for good.
    func end(_ reason: String) {
        let (continuations, pending, why) = state.withLock { s in
            s.reconnecting = nil
            if s.lost == nil && !s.isShutDown {  // not when this side closed it
                s.lost = s.hubShutDown ? "the hub shut down" : reason
            }
            defer { s.pending = [:] }
            return (s.mailboxes.closeAll(), Array(s.pending.values), s.lost ?? "this side shut down")
        }
        for c in continuations { c.finish() }
        for p in pending { p.fulfil(.failure(.connectionLost(why))) }
    }
}

/// What a link does when one of its connections ends.
enum AfterDrop { case ignore, end, failPending, reconnect }

extension SocketFrame {
    /// The frame's kind in words, for errors.
    var kindName: String {
        switch self {
        case .hello: "hello"
        case .register: "register"
        case .close: "close"
        case .route: "route"
        case .deliver: "deliver"
        case .reply: "reply"
        case .shutdown: "shutdown"
        }
    }
}
