// IDX: parses and validates IDX files (the MNIST / Fashion-MNIST container format).
import Foundation

/// One parsed IDX file: its dimensions and its unsigned-byte payload.
///
/// The payload is not copied out of the file bytes: ``bytes`` holds the whole (uncompressed) file and the
/// element data starts at ``payloadOffset``.
public struct IDXArray: Sendable {
    /// The file name, for messages.
    public let name: String
    /// Dimension sizes, outermost first (e.g. `[60000, 28, 28]`).
    public let dimensions: [Int]
    /// The whole uncompressed file.
    public let bytes: [UInt8]
    /// Offset of the first element: `4 + 4 · dimensions.count`.
    public var payloadOffset: Int { 4 + 4 * dimensions.count }
    /// Number of elements (the product of ``dimensions``).
    public var elementCount: Int { dimensions.reduce(1, *) }
}

/// Reader for IDX files: `00 00 <type> <rank>`, then one big-endian `UInt32` per dimension, then the data.
///
/// Only type `0x08` (unsigned byte) is accepted, which is what MNIST-style images and labels use. Every check
/// throws a ``DataError`` that names the file, the 0-based byte offset (in the uncompressed bytes) and what was
/// expected vs. found.
public enum IDX {
    /// Names of the IDX element types, for messages.
    static let typeNames: [UInt8: String] = [
        0x08: "unsigned byte", 0x09: "signed byte", 0x0B: "short", 0x0C: "int", 0x0D: "float", 0x0E: "double",
    ]

    /// Reads (and if needed inflates) the file at `url` and parses it. See ``parse(_:name:rank:role:)``.
    public static func read(_ url: URL, rank: Int, role: String) throws -> IDXArray {
        try parse(Gzip.readFile(url), name: url.lastPathComponent, rank: rank, role: role)
    }

    /// Parses uncompressed IDX bytes.
    /// - Parameters:
    ///   - bytes: the whole uncompressed file.
    ///   - name: the file name, used in error messages.
    ///   - rank: the required number of dimensions (3 for images, 1 for labels).
    ///   - role: what the file should hold (`"images"`, `"labels"`), used in error messages.
    /// - Throws: ``DataError`` for a short header, bad magic, a type other than `0x08`, a wrong rank, a zero
    ///   dimension, or a payload whose length differs from the product of the dimensions.
    public static func parse(_ bytes: [UInt8], name: String, rank: Int, role: String) throws -> IDXArray {
        guard bytes.count >= 4 else {
            throw DataError(
                file: name, offset: 0,
                "expected an IDX header of at least 4 bytes, found a file of \(grouped(bytes.count)) bytes")
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw DataError(
                file: name, offset: 0,
                "expected IDX magic 00 00, found \(hex(bytes[0])) \(hex(bytes[1])) (not an IDX file)")
        }
        guard bytes[2] == 0x08 else {
            let kind = typeNames[bytes[2]].map { " (\($0))" } ?? " (not an IDX type)"
            throw DataError(
                file: name, offset: 2, "expected type 0x08 (unsigned byte) for \(role), found 0x\(hex(bytes[2]))\(kind)")
        }
        guard Int(bytes[3]) == rank else {
            throw DataError(
                file: name, offset: 3,
                "expected \(rank) dimension\(rank == 1 ? "" : "s") for \(role), found \(bytes[3])")
        }
        let header = 4 + 4 * rank
        guard bytes.count >= header else {
            throw DataError(
                file: name, offset: bytes.count,
                "file ends inside the \(header)-byte header (\(grouped(bytes.count)) bytes), expected \(rank) "
                    + "big-endian dimension sizes after byte 4")
        }
        var dims: [Int] = []
        var product = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let size = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            guard size > 0 else {
                throw DataError(file: name, offset: o, "expected a positive size for dimension \(d) of \(role), found 0")
            }
            let (p, overflow) = product.multipliedReportingOverflow(by: size)
            guard !overflow else {
                throw DataError(file: name, offset: o, "dimension sizes overflow: their product exceeds Int.max")
            }
            dims.append(size)
            product = p
        }
        let payload = bytes.count - header
        guard payload == product else {
            throw DataError(
                file: name, offset: header,
                "payload has \(grouped(payload)) bytes after the \(header)-byte header, \(grouped(product)) expected "
                    + "for \(dims.map(String.init).joined(separator: "×"))")
        }
        return IDXArray(name: name, dimensions: dims, bytes: bytes)
    }

    /// Reads a matching pair of image and label files and cross-checks them.
    ///
    /// - Returns: images as `N×H×W` and labels as `N` elements, each checked to be below `classCount`.
    /// - Throws: ``DataError`` for any malformed file, an image/label count mismatch, or an out-of-range label
    ///   (naming the label's index and byte offset).
    public static func readPair(images: URL, labels: URL, classCount: Int) throws -> (images: IDXArray, labels: IDXArray) {
        let img = try read(images, rank: 3, role: "images")
        let lab = try read(labels, rank: 1, role: "labels")
        guard img.dimensions[0] == lab.dimensions[0] else {
            throw DataError(
                file: lab.name, offset: 4,
                "expected \(grouped(img.dimensions[0])) labels to match the images in \(img.name), "
                    + "found \(grouped(lab.dimensions[0]))")
        }
        let start = lab.payloadOffset
        for i in 0..<lab.elementCount where Int(lab.bytes[start + i]) >= classCount {
            throw DataError(
                file: lab.name, offset: start + i,
                "label \(i) is \(lab.bytes[start + i]), expected 0…\(classCount - 1)")
        }
        return (img, lab)
    }

    static func hex(_ b: UInt8) -> String {
        let s = String(b, radix: 16, uppercase: true)
        return s.count == 1 ? "0" + s : s
    }
}
