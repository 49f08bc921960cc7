// WeightsFile: a model's flat parameter vector on disk: header naming the model, raw little-endian floats, CRC-32.
import Foundation

/// A model's parameters with what they belong to.
public struct ModelWeights: Sendable, Equatable {
    /// The architecture's name as users give it (`ModelKind.rawValue`, e.g. "cnn").
    public var model: String
    /// Per-sample input shape ([height, width, channels]) and the number of outputs (classes).
    public var inputShape: Shape
    public var outputs: Int
    public var parameters: [Float]

    public init(model: String, inputShape: Shape, outputs: Int, parameters: [Float]) {
        self.model = model
        self.inputShape = inputShape
        self.outputs = outputs
        self.parameters = parameters
    }
}

/// A weights file that cannot be used: the file, the byte offset where the problem is, and what is wrong.
public struct WeightsFileError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var offset: Int
    public var problem: String
    public var description: String { "\(file): byte \(offset): \(problem)" }
}

/// Format version 1, every integer and float little-endian:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 8 | magic `FNWEIGHT` (ASCII) |
/// | 8 | 4 | u32 version = 1 |
/// | 12 | 4 | u32 L, the model name's byte length (1…255) |
/// | 16 | L | the model name, UTF-8 (`cnn`, `mlp`, …) |
/// | 16+L | 4 | u32 R, the input rank (1…8) |
/// | 20+L | 4R | R × u32 input dimensions (NHWC: height, width, channels) |
/// | 20+L+4R | 4 | u32 outputs (classes) |
/// | 24+L+4R | 8 | u64 N, the parameter count |
/// | 32+L+4R | 4N | N × f32 parameters, IEEE-754 bit patterns, in `Network.parameterRanges` order |
/// | 32+L+4R+4N | 4 | u32 CRC-32 (IEEE 802.3, zlib's `crc32`) of every byte before it |
///
/// Nothing follows the checksum. Reading checks the size before allocating, every field, and the checksum.
public enum WeightsFile {
    public static let magic = Array("FNWEIGHT".utf8)
    public static let version: UInt32 = 1

    public static func encode(_ w: ModelWeights) -> [UInt8] {
        let name = Array(w.model.utf8)
        precondition(!name.isEmpty && name.count <= 255, "model name must be 1…255 bytes")
        precondition(!w.inputShape.isEmpty && w.inputShape.count <= 8, "input rank must be 1…8")
        var out = magic
        out.reserveCapacity(64 + name.count + 4 * w.parameters.count)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        u32(version)
        u32(UInt32(name.count))
        out += name
        u32(UInt32(w.inputShape.count))
        for d in w.inputShape { u32(UInt32(d)) }
        u32(UInt32(w.outputs))
        withUnsafeBytes(of: UInt64(w.parameters.count).littleEndian) { out += $0 }
        for v in w.parameters { u32(v.bitPattern) }
        u32(crc32IEEE(out[...]))
        return out
    }

    /// Decodes `bytes` read from `file` (the name used in errors).
    public static func decode(_ bytes: [UInt8], file: String) throws(WeightsFileError) -> ModelWeights {
        var at = 0
        func fail(_ problem: String, _ offset: Int? = nil) -> WeightsFileError {
            WeightsFileError(file: file, offset: offset ?? at, problem: problem)
        }
        func u32(_ what: String) throws(WeightsFileError) -> UInt32 {
            guard at + 4 <= bytes.count else {
                throw fail("file ends (\(bytes.count) bytes) inside the \(what); truncated?")
            }
            let v = UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16
                | UInt32(bytes[at + 3]) << 24
            at += 4
            return v
        }
        guard bytes.count >= 8, Array(bytes[0..<8]) == magic else {
            throw fail("not a FedNoise weights file (the first 8 bytes are not 'FNWEIGHT')", 0)
        }
        at = 8
        let v = try u32("version")
        guard v == version else { throw fail("format version \(v); this build reads version \(version)", 8) }
        let length = Int(try u32("model name length"))
        guard length >= 1 && length <= 255 else { throw fail("model name length \(length) outside 1…255", 12) }
        guard at + length <= bytes.count else { throw fail("file ends inside the model name; truncated?") }
        guard let model = String(validating: bytes[at..<(at + length)], as: UTF8.self) else {
            throw fail("model name is not UTF-8")
        }
        at += length
        let rankOffset = at
        let rank = Int(try u32("input rank"))
        guard rank >= 1 && rank <= 8 else { throw fail("input rank \(rank) outside 1…8", rankOffset) }
        var shape: Shape = []
        for _ in 0..<rank { shape.append(Int(try u32("input shape"))) }
        let outputs = Int(try u32("output count"))
        let countOffset = at
        guard at + 8 <= bytes.count else { throw fail("file ends inside the parameter count; truncated?") }
        let low = UInt64(try u32("parameter count")), high = UInt64(try u32("parameter count"))
        let count = high << 32 | low
        let expected = UInt64(at) &+ 4 &* count &+ 4
        guard count <= UInt64(Int.max / 8), expected == UInt64(bytes.count) else {
            let need = count <= UInt64(Int.max / 8) ? "\(expected) bytes" : "more bytes than exist"
            throw fail("\(count) parameters need \(need) in all, the file has \(bytes.count); "
                       + (UInt64(bytes.count) < expected ? "truncated?" : "trailing bytes?"), countOffset)
        }
        let n = Int(count)
        var parameters = [Float](repeating: 0, count: n)
        for i in 0..<n { parameters[i] = Float(bitPattern: try u32("parameters")) }
        let crcOffset = at
        let stored = try u32("checksum")
        let actual = crc32IEEE(bytes[0..<crcOffset])
        guard stored == actual else {
            throw fail("checksum mismatch (stored \(hex(stored)), computed \(hex(actual))): the file is corrupt",
                       crcOffset)
        }
        return ModelWeights(model: model, inputShape: shape, outputs: outputs, parameters: parameters)
    }

    /// Writes `weights` to `path` atomically.
    public static func write(_ weights: ModelWeights, to path: String) throws {
        try Data(encode(weights)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Reads `path` and checks it holds weights for `expected`'s model, input shape, outputs and parameter count
    /// (`expected.parameters` gives only the count). Refuses files larger than 4 GiB before reading them.
    public static func read(_ path: String, expecting expected: ModelWeights) throws -> [Float] {
        let unreadable = WeightsFileError(file: path, offset: 0, problem: "cannot read the file")
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { throw unreadable }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        guard size <= 1 << 32 else {
            throw WeightsFileError(file: path, offset: 0, problem: "\(size) bytes is larger than any model here")
        }
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else { throw unreadable }
        let w = try decode([UInt8](data), file: path)
        func mismatch(_ what: String, _ got: String, _ want: String) -> WeightsFileError {
            WeightsFileError(file: path, offset: 0,
                             problem: "holds weights for \(what) \(got), but this run's model has \(want)")
        }
        if w.model != expected.model { throw mismatch("model", "'\(w.model)'", "'\(expected.model)'") }
        if w.inputShape != expected.inputShape || w.outputs != expected.outputs {
            throw mismatch("inputs", "\(w.inputShape) → \(w.outputs) classes",
                           "\(expected.inputShape) → \(expected.outputs) classes")
        }
        if w.parameters.count != expected.parameters.count {
            throw mismatch("a parameter count of", "\(w.parameters.count)", "\(expected.parameters.count)")
        }
        return w.parameters
    }

    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - s.count) + s
    }
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, initial and final XOR 0xFFFFFFFF), as zlib's `crc32`.
/// crc32IEEE("123456789") = 0xCBF43926.
public func crc32IEEE(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes { crc = crc32Table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
}

private let crc32Table: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}
