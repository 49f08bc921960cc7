// Envelope: one addressed message with its per-sender sequence number.

/// A message in transit: who sent it, to whom, and the sender's sequence number.
///
/// The transport a sender calls ``Transport/send(_:from:to:)`` on stamps `sequence`: a counter per sender, starting
/// at 0 and shared by all of that sender's receivers, so `(from, sequence)` identifies a message for the transport's
/// whole life (a receiver can use it to spot a duplicate). Along each (sender, receiver) pair, sequence numbers
/// increase, but they skip the values used for the sender's other receivers.
public struct Envelope<Message> {
    /// The sending endpoint; reply to it.
    public var from: EndpointID
    /// The receiving endpoint.
    public var to: EndpointID
    /// The sender's sequence number for this message.
    public var sequence: UInt64
    /// The payload.
    public var message: Message

    /// An envelope with every field given; transports stamp `sequence` themselves, so most code never calls this.
    public init(from: EndpointID, to: EndpointID, sequence: UInt64, message: Message) {
        self.from = from
        self.to = to
        self.sequence = sequence
        self.message = message
    }
}

extension Envelope: Sendable where Message: Sendable {}
extension Envelope: Equatable where Message: Equatable {}
extension Envelope: Hashable where Message: Hashable {}
extension Envelope: Encodable where Message: Encodable {}
extension Envelope: Decodable where Message: Decodable {}

extension Envelope: CustomStringConvertible {
    /// `client-3 → ps #12 (Update)`: names the message's type, never its contents (which may be megabytes).
    public var description: String { "\(from) → \(to) #\(sequence) (\(Self.kind(of: message)))" }

    static func kind(of message: Message) -> String {
        let text = String(describing: type(of: message))
        let mirror = Mirror(reflecting: message)
        guard mirror.displayStyle == .enum else { return text }
        if let label = mirror.children.first?.label { return "\(text).\(label)" }
        return "\(text).\(message)"  // a case without a payload prints as its name
    }
}
