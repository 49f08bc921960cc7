// PackedFloats: a [Float] property that encodes as raw little-endian bytes (4 B per value on the wire).
import Foundation

/// Wraps a `[Float]` so `Codable` writes it as one blob of little-endian IEEE-754 bit patterns instead of an
/// array of numbers: 4 bytes per value against about 9 for `[Float]` in a binary property list, every bit kept (NaN
/// payloads, −0, infinities). Under ``WireFormat`` the blob travels after the message's property list (see
/// ``WireFormat``), elsewhere (JSON, a plain property list) inline as `Data`. In memory it is the plain array;
/// in-process transports never encode it. Decoding a blob whose length is not a multiple of 4 is a `DecodingError` naming the field.
/// `==` compares the arrays as floats (NaN ≠ NaN, −0 == 0), not their bits.
///
/// ```swift
/// struct Update: Codable { @PackedFloats var weights: [Float] }
/// ```
@propertyWrapper
public struct PackedFloats: Codable, Sendable, Equatable {
    public var wrappedValue: [Float]

    public init(wrappedValue: [Float]) { self.wrappedValue = wrappedValue }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let blobs = encoder.userInfo[WireBlobs.key] as? WireBlobs {
            try container.encode(blobs.add(wrappedValue))  // the bytes travel after the property list
        } else {
            try container.encode(Self.bytes(wrappedValue))
        }
    }

    public init(from decoder: any Decoder) throws {
        if let blobs = decoder.userInfo[WireBlobs.key] as? WireBlobs {
            let reference = try decoder.singleValueContainer().decode([Int].self)
            wrappedValue = try blobs.floats(reference, codingPath: decoder.codingPath)
            return
        }
        let data = try decoder.singleValueContainer().decode(Data.self)
        guard data.count % 4 == 0 else {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: decoder.codingPath,
                debugDescription: "packed floats: \(data.count) bytes is not a whole number of 4-byte values"))
        }
        wrappedValue = Self.floats(data)
    }

    /// `values` as little-endian bit patterns.
    public static func bytes(_ values: [Float]) -> Data {
        #if _endian(little)
        return values.withUnsafeBytes { Data($0) }  // the in-memory bits are already little-endian: one memcpy
        #else
        var data = Data(count: values.count * 4)
        data.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() {
                raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
            }
        }
        return data
        #endif
    }

    /// The values of little-endian bit patterns (`data.count` a multiple of 4).
    public static func floats(_ data: Data) -> [Float] {
        data.withUnsafeBytes { floats($0) }
    }

    /// The values of little-endian bit patterns (`raw.count` a multiple of 4).
    public static func floats(_ raw: UnsafeRawBufferPointer) -> [Float] {
        let n = raw.count / 4
        return [Float](unsafeUninitializedCapacity: n) { out, count in
            #if _endian(little)
            UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[0..<n * 4]))
            #else
            for i in 0..<n {
                out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4,
                                                                                    as: UInt32.self)))
            }
            #endif
            count = n
        }
    }
}

/// The same for an optional vector (absent stays absent). A nil vector is left out of its container and a missing
/// key decodes as nil through the container extensions below, which apply where the enclosing type is concrete
/// (synthesised `Codable` of a non-generic struct); inside generic code nil is written as an explicit null instead.
@propertyWrapper
public struct PackedOptionalFloats: Codable, Sendable, Equatable {
    public var wrappedValue: [Float]?

    public init(wrappedValue: [Float]?) { self.wrappedValue = wrappedValue }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let values = wrappedValue { try container.encode(PackedFloats(wrappedValue: values)) }
        else { try container.encodeNil() }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        wrappedValue = container.decodeNil() ? nil : try container.decode(PackedFloats.self).wrappedValue
    }
}

extension KeyedDecodingContainer {
    /// A missing key decodes as an absent vector (synthesised `Codable` omits nil optionals).
    public func decode(_ type: PackedOptionalFloats.Type, forKey key: Key) throws -> PackedOptionalFloats {
        try decodeIfPresent(type, forKey: key) ?? PackedOptionalFloats(wrappedValue: nil)
    }
}

extension KeyedEncodingContainer {
    /// An absent vector is left out, as synthesised `Codable` does for nil optionals.
    public mutating func encode(_ value: PackedOptionalFloats, forKey key: Key) throws {
        if let values = value.wrappedValue { try encode(PackedFloats(wrappedValue: values), forKey: key) }
    }
}
