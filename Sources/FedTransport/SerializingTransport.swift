// SerializingTransport: a wrapper that sends every message through the wire format's bytes, as a socket would.
import Foundation
import Synchronization

/// Wraps any ``Transport`` so that every message is encoded to ``WireFormat`` bytes and decoded again before the
/// wrapped transport delivers it: what a socket transport does, without the socket. Running actors over it shows
/// they depend on nothing but what survives the wire (no shared references, every field `Codable`), and
/// ``bytesSent`` counts what a socket would carry (4-byte frame headers included).
///
/// It honours the whole ``Transport`` contract of the wrapped transport; a message that cannot be encoded or
/// decoded makes `send` throw.
public final class SerializingTransport<Message: Codable & Sendable>: Transport {
    private let inner: any Transport<Message>
    private let sent = Atomic<Int>(0)

    public init(wrapping inner: some Transport<Message>) { self.inner = inner }

    /// Bytes of every frame sent or forwarded so far.
    public var bytesSent: Int { sent.load(ordering: .relaxed) }

    public func register(_ endpoint: EndpointID) async throws -> Mailbox<Message> {
        try await inner.register(endpoint)
    }

    public func send(_ message: Message, from sender: EndpointID, to receiver: EndpointID) async throws {
        let bytes = try WireFormat.encode(message)
        sent.add(4 + bytes.count, ordering: .relaxed)
        try await inner.send(try WireFormat.decode(Message.self, from: bytes), from: sender, to: receiver)
    }

    public func forward(_ envelope: Envelope<Message>) async throws {
        let frame = try WireFormat.frame(envelope)
        sent.add(frame.count, ordering: .relaxed)
        var reader = FrameReader<Message>()
        reader.append(frame)
        guard let decoded = try reader.next() else { preconditionFailure("a whole frame decodes to an envelope") }
        try await inner.forward(decoded)
    }

    public func close(_ endpoint: EndpointID) async { await inner.close(endpoint) }

    public func shutdown() async { await inner.shutdown() }
}
