// Mailbox: the single-consumer stream of envelopes addressed to one endpoint.

/// The envelopes addressed to one endpoint, in arrival order; obtained from ``Transport/register(_:)``.
///
/// Iterate it from **one** task (typically the endpoint's actor, in a `for await` loop). The loop ends when the
/// endpoint is closed (``Transport/close(_:)``) or the transport shuts down, after every envelope that had already
/// arrived has been delivered. Cancelling the consuming task closes the endpoint in the same way: the loop still
/// drains what had arrived, and later sends to the endpoint throw ``TransportError/endpointClosed(_:)``.
///
/// Buffering is unbounded: a transport never drops an envelope because its receiver is slow.
public struct Mailbox<Message: Sendable>: AsyncSequence, Sendable {
    public typealias Element = Envelope<Message>
    public typealias Failure = Never

    /// The endpoint this mailbox belongs to.
    public let endpoint: EndpointID
    private let stream: AsyncStream<Envelope<Message>>

    /// A mailbox for `endpoint` and the continuation a transport feeds it through (unbounded buffering).
    ///
    /// For ``Transport`` implementations: yield each arriving envelope into the continuation; treat a
    /// `.terminated` yield result as a closed endpoint (the consumer has gone) and report it to the sender;
    /// `finish()` it on close.
    public static func makeMailbox(
        for endpoint: EndpointID
    ) -> (mailbox: Mailbox, continuation: AsyncStream<Envelope<Message>>.Continuation) {
        let (stream, continuation) = AsyncStream.makeStream(of: Envelope<Message>.self, bufferingPolicy: .unbounded)
        return (Mailbox(endpoint: endpoint, stream: stream), continuation)
    }

    private init(endpoint: EndpointID, stream: AsyncStream<Envelope<Message>>) {
        self.endpoint = endpoint
        self.stream = stream
    }

    public func makeAsyncIterator() -> Iterator { Iterator(base: stream.makeAsyncIterator()) }

    /// Waits for the next envelope; `nil` once the mailbox has ended.
    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncStream<Envelope<Message>>.Iterator

        public mutating func next() async -> Envelope<Message>? { await base.next() }

        public mutating func next(isolation actor: isolated (any Actor)?) async -> Envelope<Message>? {
            await base.next(isolation: actor)
        }
    }
}
