// WireFormat: the byte form of messages (binary property lists), length-prefixed envelope frames, roundTrip.
import Foundation

/// How messages become bytes for a transport that leaves the process, and length-prefixed frames of envelopes.
///
/// An encoded message is a 4-byte big-endian length `n`, then `n` bytes of binary property list (compact, exact for
/// every `Float` and `Double` including NaN and infinities), then the message's float vectors (every
/// ``PackedFloats`` field, 4 little-endian bytes per value, in the order the property list references them as
/// `[offset, count]`). Keeping bulk vectors out of the property list means each is copied once when encoding and
/// once when decoding (the property-list writer would copy and regrow it several times).
///
/// A frame is a 4-byte big-endian length followed by one encoded ``Envelope``.
public enum WireFormat {
    /// The largest frame ``FrameReader`` accepts: 1 GiB.
    public static let maximumFrameLength = 1 << 30

    /// `value` as described above.
    public static func encode(_ value: some Encodable) throws -> Data {
        try encode(value, prefix: 0)
    }

    /// Decodes what ``encode(_:)`` produced.
    /// - Throws: `DecodingError.dataCorrupted` for bytes too short for their property-list length, or a vector
    ///   reference outside them; any error of the property-list decoder.
    public static func decode<Value: Decodable>(_ type: Value.Type, from data: Data) throws -> Value {
        let start = data.startIndex
        guard data.count >= 4 else { throw corrupted("\(data.count) bytes cannot hold the 4-byte length") }
        let length = data[start..<start + 4].reduce(0) { $0 << 8 | Int($1) }
        guard length <= data.count - 4 else {
            throw corrupted("the property list claims \(length) bytes; \(data.count - 4) follow its length")
        }
        let decoder = PropertyListDecoder()
        decoder.userInfo[WireBlobs.key] = WireBlobs(decodingFrom: data[(start + 4 + length)...])
        return try decoder.decode(Box<Value>.self, from: data[start + 4..<start + 4 + length]).value
    }

    /// Decodes what ``encode(_:)`` produced, received in two parts: `data` up to the end of the property list, and
    /// the bytes after it as `trailingVectors` (``SocketFrameDecoder/nextWithVectors()``). A vector that is the
    /// whole trailing area (a model) is that array itself, not a copy. Nil `trailingVectors`: ``decode(_:from:)``.
    /// - Throws: as ``decode(_:from:)``; also when `data` does not end where its property list does.
    public static func decode<Value: Decodable>(_ type: Value.Type, from data: Data,
                                                trailingVectors: [Float]?) throws -> Value {
        guard let trailingVectors else { return try decode(type, from: data) }
        let start = data.startIndex
        guard data.count >= 4 else { throw corrupted("\(data.count) bytes cannot hold the 4-byte length") }
        let length = data[start..<start + 4].reduce(0) { $0 << 8 | Int($1) }
        guard length == data.count - 4 else {
            throw corrupted("the property list claims \(length) bytes; \(data.count - 4) precede the vectors")
        }
        let decoder = PropertyListDecoder()
        decoder.userInfo[WireBlobs.key] = WireBlobs(decodingFrom: trailingVectors)
        return try decoder.decode(Box<Value>.self, from: data[(start + 4)...]).value
    }

    /// One frame: the encoded envelope's length as 4 big-endian bytes, then the encoded envelope.
    /// - Throws: an encoding error, or ``WireFormatError/frameTooLarge(_:)``.
    public static func frame<Message: Encodable>(_ envelope: Envelope<Message>) throws -> Data {
        var frame = try encode(envelope, prefix: 4)
        let body = frame.count - 4
        guard body <= maximumFrameLength else { throw WireFormatError.frameTooLarge(body) }
        put(UInt32(body), into: &frame, at: 0)
        return frame
    }

    /// The encoding of `value` after `prefix` bytes left for the caller (one allocation for the whole output).
    private static func encode(_ value: some Encodable, prefix: Int) throws -> Data {
        let blobs = WireBlobs()
        let encoder = PropertyListEncoder()
        encoder.outputFormat = .binary
        encoder.userInfo[WireBlobs.key] = blobs
        let plist = try encoder.encode(Box(value: value))
        guard plist.count <= Int(UInt32.max) else { throw WireFormatError.frameTooLarge(plist.count) }
        var output = Data(capacity: prefix + 4 + plist.count + blobs.byteCount)
        output.append(contentsOf: repeatElement(0, count: prefix + 4))
        put(UInt32(plist.count), into: &output, at: prefix)
        output.append(plist)
        blobs.write(to: &output)
        return output
    }

    /// Writes `value` big-endian at byte `offset` of `data`.
    private static func put(_ value: UInt32, into data: inout Data, at offset: Int) {
        for i in 0..<4 { data[data.startIndex + offset + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * i)) }
    }

    private static func corrupted(_ text: String) -> DecodingError {
        .dataCorrupted(DecodingError.Context(codingPath: [], debugDescription: "wire format: " + text))
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
        let envelope = try WireFormat.decode(Envelope<Message>.self, from: body)
        buffer.removeSubrange(start..<start + 4 + length)
        return envelope
    }
}

/// `value` encoded with ``WireFormat`` and decoded again: tests assert `try roundTrip(m) == m` for every message
/// type, since a socket transport will depend on it.
public func roundTrip<M: Codable>(_ value: M) throws -> M {
    try WireFormat.decode(M.self, from: WireFormat.encode(value))
}
