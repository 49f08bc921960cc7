// InProcessTransport: mailboxes on AsyncStream within one process; values pass without serialisation.
import Synchronization

/// A ``Transport`` inside one process: each endpoint's ``Mailbox`` is an unbounded `AsyncStream`.
///
/// Messages are handed over as values, never encoded: a `[Float]` of model weights reaches the receiver sharing the
/// sender's buffer (copy-on-write), so sending costs the same for 10 floats as for 10 million (~2.5 µs a message).
/// Messages must still be `Codable` so that a socket transport can carry them; tests check with ``roundTrip(_:)``.
///
/// Ordering is FIFO per (sender, receiver) pair, and in fact stronger: envelopes enter every mailbox in the order
/// their `send` calls took the transport's lock, and each sender's sequence numbers follow that order.
///
/// Thread-safe: all state sits behind one `Mutex`; `send` is synchronous (it never suspends) and can be called from
/// any task or actor.
public final class InProcessTransport<Message: Codable & Sendable>: Transport {
    private struct State {
        var open: [EndpointID: AsyncStream<Envelope<Message>>.Continuation] = [:]
        var closed: Set<EndpointID> = []
        var nextSequence: [EndpointID: UInt64] = [:]
        var isShutDown = false

        /// Puts `envelope` in its receiver's mailbox, or says why it cannot.
        mutating func deliver(_ envelope: Envelope<Message>) throws(TransportError) {
            if isShutDown { throw .shutDown }
            guard let continuation = open[envelope.to] else {
                throw closed.contains(envelope.to) ? .endpointClosed(envelope.to) : .unknownEndpoint(envelope.to)
            }
            switch continuation.yield(envelope) {
            case .enqueued: return
            case .terminated, .dropped:  // the consumer's task was cancelled (`.dropped` cannot happen: unbounded)
                open[envelope.to] = nil
                closed.insert(envelope.to)
                throw .endpointClosed(envelope.to)
            @unknown default:
                throw .endpointClosed(envelope.to)
            }
        }
    }

    private let state = Mutex(State())

    /// An empty transport: no endpoints, sequence numbers from 0.
    public init() {}

    public func register(_ endpoint: EndpointID) throws(TransportError) -> Mailbox<Message> {
        try state.withLock { (state) throws(TransportError) -> Mailbox<Message> in
            if state.isShutDown { throw .shutDown }
            if state.open[endpoint] != nil { throw .alreadyRegistered(endpoint) }
            let (mailbox, continuation) = Mailbox<Message>.makeMailbox(for: endpoint)
            state.open[endpoint] = continuation
            state.closed.remove(endpoint)
            return mailbox
        }
    }

    public func send(_ message: Message, from sender: EndpointID, to receiver: EndpointID) throws(TransportError) {
        try state.withLock { (state) throws(TransportError) in
            let sequence = state.nextSequence[sender, default: 0]
            // Yield under the lock: sequence order and mailbox order then agree for one sender's racing sends.
            try state.deliver(Envelope(from: sender, to: receiver, sequence: sequence, message: message))
            state.nextSequence[sender] = sequence + 1
        }
    }

    public func forward(_ envelope: Envelope<Message>) throws(TransportError) {
        try state.withLock { (state) throws(TransportError) in try state.deliver(envelope) }
    }

    public func close(_ endpoint: EndpointID) {
        let continuation = state.withLock { state -> AsyncStream<Envelope<Message>>.Continuation? in
            guard let continuation = state.open.removeValue(forKey: endpoint) else { return nil }
            state.closed.insert(endpoint)
            return continuation
        }
        continuation?.finish()  // outside the lock: finishing may run stream callbacks
    }

    public func shutdown() {
        let continuations = state.withLock { state in
            state.isShutDown = true
            state.closed.formUnion(state.open.keys)
            defer { state.open.removeAll() }
            return Array(state.open.values)
        }
        for continuation in continuations { continuation.finish() }
    }

    /// The endpoints currently open, sorted.
    public var registeredEndpoints: [EndpointID] { state.withLock { $0.open.keys.sorted() } }
}
