// WireFormat: the byte form of messages (binary property lists), length-prefixed envelope frames, roundTrip.
import Foundation

/// How messages become bytes for a transport that leaves the process: binary property lists (compact, exact for
/// every `Float` and `Double` including NaN and infinities), and frames of a 4-byte big-endian length followed by
/// one encoded ``Envelope``.
public enum WireFormat {
    /// The largest frame ``FrameReader`` accepts: 1 GiB.
    public static let maximumFrameLength = 1 << 30

    /// `value` as a binary property list.
    public static func encode(_ value: some Encodable) throws -> Data {
        let encoder = PropertyListEncoder()
        encoder.outputFormat = .binary
        return try encoder.encode(Box(value: value))
    }

    /// Decodes what ``encode(_:)`` produced.
    public static func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        try PropertyListDecoder().decode(Box<Value>.self, from: data).value
    }

    /// One frame: the encoded envelope's length as 4 big-endian bytes, then the encoded envelope.
    /// - Throws: an encoding error, or ``WireFormatError/frameTooLarge(_:)``.
    public static func frame<Message: Encodable>(_ envelope: Envelope<Message>) throws -> Data {
        let body = try encode(envelope)
        guard body.count <= maximumFrameLength else { throw WireFormatError.frameTooLarge(body.count) }
        let length = UInt32(body.count).bigEndian
        var frame = withUnsafeBytes(of: length) { Data($0) }
        frame.append(body)
        return frame
    }

    /// A top-level wrapper: property lists cannot encode a bare scalar.
    fileprivate struct Box<Value> { let value: Value }
}

extension WireFormat.Box: Encodable where Value: Encodable {}
extension WireFormat.Box: Decodable where Value: Decodable {}

/// A malformed frame.
public enum WireFormatError: Error, Hashable, Sendable {
    /// A frame declared (or would need) more than ``WireFormat/maximumFrameLength`` bytes.
    case frameTooLarge(Int)
}

/// Cuts a byte stream into frames (``WireFormat/frame(_:)``) and decodes their envelopes; bytes may arrive in
/// pieces of any size.
public struct FrameReader<Message: Decodable> {
    private var buffer = Data()

    /// An empty reader.
    public init() {}

    /// Appends received bytes.
    public mutating func append(_ bytes: Data) { buffer.append(bytes) }

    /// The next complete envelope, or `nil` until more bytes arrive.
    /// - Throws: ``WireFormatError/frameTooLarge(_:)`` or a decoding error; the reader is then unusable.
    public mutating func next() throws -> Envelope<Message>? {
        guard buffer.count >= 4 else { return nil }
        let start = buffer.startIndex
        let length = buffer[start..<start + 4].reduce(0) { $0 << 8 | Int($1) }
        guard length <= WireFormat.maximumFrameLength else { throw WireFormatError.frameTooLarge(length) }
        guard buffer.count >= 4 + length else { return nil }
        let body = buffer[start + 4..<start + 4 + length]
        let envelope = try WireFormat.decode(Envelope<Message>.self, from: Data(body))
        buffer.removeSubrange(start..<start + 4 + length)
        return envelope
    }
}

/// `value` encoded with ``WireFormat`` and decoded again: tests assert `try roundTrip(m) == m` for every message
/// type, since a socket transport will depend on it.
public func roundTrip<M: Codable>(_ value: M) throws -> M {
    try WireFormat.decode(M.self, from: WireFormat.encode(value))
}
