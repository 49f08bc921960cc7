// LocalMailboxes: the endpoints one socket transport hosts in its own process, and delivery into their mailboxes.

/// The mailboxes of the endpoints registered on this side of a socket transport. Not thread-safe: the owner keeps
/// it behind its lock, and finishes the continuations it gets back *outside* that lock (finishing runs callbacks).
struct LocalMailboxes<Message: Sendable> {
    private(set) var open: [EndpointID: AsyncStream<Envelope<Message>>.Continuation] = [:]
    private(set) var closed: Set<EndpointID> = []
    /// Which registration of each endpoint is current: a late end callback of an older mailbox must not close a newer.
    private var generation: [EndpointID: Int] = [:]
    private var nextGeneration = 0

    func hosts(_ endpoint: EndpointID) -> Bool { open[endpoint] != nil }

    /// A new mailbox for `endpoint`; `onEnd(generation)` runs when its consumer goes away or it is finished (pass
    /// the generation to ``endIfCurrent(_:generation:)``).
    mutating func register(_ endpoint: EndpointID,
                           onEnd: @escaping @Sendable (Int) -> Void) throws(TransportError) -> Mailbox<Message> {
        if open[endpoint] != nil { throw .alreadyRegistered(endpoint) }
        let (mailbox, continuation) = Mailbox<Message>.makeMailbox(for: endpoint)
        let current = nextGeneration
        nextGeneration += 1
        continuation.onTermination = { _ in onEnd(current) }
        open[endpoint] = continuation
        generation[endpoint] = current
        closed.remove(endpoint)
        return mailbox
    }

    /// Marks `endpoint` closed if `generation` is its current registration and it is still open; true if it was.
    mutating func endIfCurrent(_ endpoint: EndpointID, generation g: Int) -> Bool {
        guard generation[endpoint] == g, open.removeValue(forKey: endpoint) != nil else { return false }
        closed.insert(endpoint)
        return true
    }

    /// Puts `envelope` in its receiver's mailbox, or says why it cannot.
    mutating func deliver(_ envelope: Envelope<Message>) throws(TransportError) {
        guard let continuation = open[envelope.to] else {
            throw closed.contains(envelope.to) ? .endpointClosed(envelope.to) : .unknownEndpoint(envelope.to)
        }
        switch continuation.yield(envelope) {
        case .enqueued: return
        default:  // the consumer's task was cancelled
            open[envelope.to] = nil
            closed.insert(envelope.to)
            throw .endpointClosed(envelope.to)
        }
    }

    /// Marks `endpoint` closed; returns its continuation to finish (nil if it was not open).
    mutating func close(_ endpoint: EndpointID) -> AsyncStream<Envelope<Message>>.Continuation? {
        guard let continuation = open.removeValue(forKey: endpoint) else { return nil }
        closed.insert(endpoint)
        return continuation
    }

    /// Closes everything; returns the continuations to finish.
    mutating func closeAll() -> [AsyncStream<Envelope<Message>>.Continuation] {
        closed.formUnion(open.keys)
        defer { open.removeAll() }
        return Array(open.values)
    }
}

/// Why a socket transport failed beyond ``TransportError``'s cases.
public enum SocketTransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The connection to the hub is gone (or was refused); the reason in words.
    case connectionLost(String)
    /// The other side could not carry out the request (for example the payload did not decode there).
    case remoteFailure(String)
    /// ``SocketHub/waitForEndpoints(_:timeoutSeconds:)`` gave up; the endpoints still missing.
    case endpointsMissing([EndpointID], seconds: Double)

    public var description: String {
        switch self {
        case .connectionLost(let why): "the connection to the hub is lost: \(why)"
        case .remoteFailure(let why): "the receiving side failed: \(why)"
        case .endpointsMissing(let ids, let seconds):
            "after \(seconds) s, \(ids.count) endpoint(s) never registered: "
                + ids.prefix(5).map(\.description).joined(separator: ", ") + (ids.count > 5 ? ", …" : "")
        }
    }
}
