// WireBlobs: the float vectors of one wire-format message, carried after its property list instead of inside it.
import Foundation

/// The out-of-band part of a ``WireFormat`` message. While ``WireFormat`` encodes, every ``PackedFloats`` vector
/// hands its array to the table (no copy) and leaves in the property list only a reference `[offset, count]` into
/// the bytes that follow it; ``WireFormat`` then writes each vector once, straight into the output. While it decodes,
/// the table is a view of those trailing bytes and each reference is checked against them before one copy into a
/// `[Float]`. Bulk data thus crosses the encoder once and the decoder once, instead of being copied (and grown) by
/// the property-list writer and reader.
///
/// Encoders other than ``WireFormat`` (JSON, a plain `PropertyListEncoder`) carry no table: ``PackedFloats`` then
/// writes its bytes inline as before.
final class WireBlobs: @unchecked Sendable {
    /// The user-info key ``WireFormat`` files the table under.
    static let key = CodingUserInfoKey(rawValue: "org.fednoise.wire-blobs")!

    // Encoding side: the vectors in the order their references were written, and their total size in bytes.
    private(set) var vectors: [[Float]] = []
    private(set) var byteCount = 0
    // Decoding side: the bytes after the property list, or those bytes already as floats (received apart).
    private let area: Data
    private let received: [Float]?

    /// A table to encode into.
    init() { (area, received) = (Data(), nil) }

    /// A table to decode from: `area` is every byte after the property list.
    init(decodingFrom area: Data) { (self.area, received) = (area, nil) }

    /// A table to decode from: `received` holds every byte after the property list (received into a `[Float]`).
    init(decodingFrom received: [Float]) { (area, self.received) = (Data(), received) }

    /// Files `values` and returns its reference: the byte offset in the trailing area and the count of values.
    func add(_ values: [Float]) -> [Int] {
        let reference = [byteCount, values.count]
        vectors.append(values)
        byteCount += values.count * 4
        return reference
    }

    /// The values a reference names.
    /// - Throws: `DecodingError.dataCorrupted` (at `codingPath`) for a reference that is not `[offset, count]` or
    ///   points outside the trailing bytes.
    func floats(_ reference: [Int], codingPath: [any CodingKey]) throws -> [Float] {
        let areaBytes = received.map { $0.count * 4 } ?? area.count
        guard reference.count == 2, reference[0] >= 0, reference[1] >= 0, reference[1] <= areaBytes / 4,
              reference[0] <= areaBytes - reference[1] * 4 else {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: codingPath,
                debugDescription: "packed floats: the reference \(reference) is not [offset, count] inside the "
                    + "message's \(areaBytes) trailing bytes"))
        }
        let (offset, count) = (reference[0], reference[1])
        if let received {
            if offset == 0 && count == received.count { return received }  // the model itself: no copy
            return received.withUnsafeBytes { raw in  // the bytes as received: an unaligned offset reads as inline
                PackedFloats.floats(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + count * 4]))
            }
        }
        let start = area.startIndex + reference[0]
        return PackedFloats.floats(area[start..<start + reference[1] * 4])
    }

    /// Appends every filed vector's little-endian bytes to `output`, in filing order.
    func write(to output: inout Data) {
        for vector in vectors {
            #if _endian(little)
            vector.withUnsafeBytes { output.append(contentsOf: $0) }
            #else
            output.append(PackedFloats.bytes(vector))
            #endif
        }
    }
}
