// CIFAR10: reads the CIFAR-10 "binary version" batches (1 label byte + 3,072 pixel bytes per record).
import Foundation

/// Reader for CIFAR-10 binary batches.
///
/// Each record is 3,073 bytes: one label byte (0…9), then the 1,024 red, 1,024 green and 1,024 blue bytes of a
/// 32×32 image, each plane row-major. Because the planes are already channel-major, a record's pixels are exactly
/// one `C×H×W` sample. Files may be gzipped (`*.bin.gz`).
public enum CIFAR10 {
    /// Bytes per record: 1 label + 3 × 32 × 32 pixels.
    public static let recordSize = 3073
    /// Pixel bytes per record.
    public static let pixelCount = 3072
    /// Training batch names, in order.
    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    /// The test batch name.
    public static let testFile = "test_batch.bin"

    /// The raw contents of one batch file, validated.
    public struct Batch: Sendable {
        /// The file name, for messages.
        public let name: String
        /// The whole uncompressed file: `count` records of ``CIFAR10/recordSize`` bytes.
        public let bytes: [UInt8]
        /// Number of records.
        public var count: Int { bytes.count / CIFAR10.recordSize }
        /// The label of record `i`.
        public func label(_ i: Int) -> UInt8 { bytes[i * CIFAR10.recordSize] }
    }

    /// Reads and validates one batch file (raw or gzipped).
    public static func readBatch(_ url: URL) throws -> Batch {
        try parse(Gzip.readFile(url), name: url.lastPathComponent)
    }

    /// Validates uncompressed batch bytes.
    /// - Throws: ``DataError`` if the file is empty, its size is not a multiple of 3,073 (naming the offset of the
    ///   incomplete record), or a label is outside 0…9 (naming the record index and its byte offset).
    public static func parse(_ bytes: [UInt8], name: String) throws -> Batch {
        guard !bytes.isEmpty else {
            throw DataError(file: name, offset: 0, "expected CIFAR-10 records of 3,073 bytes, found an empty file")
        }
        let complete = bytes.count / recordSize
        let tail = bytes.count % recordSize
        guard tail == 0 else {
            throw DataError(
                file: name, offset: complete * recordSize,
                "incomplete record \(grouped(complete)): \(grouped(tail)) of 3,073 bytes (file size "
                    + "\(grouped(bytes.count)) is not a multiple of 3,073)")
        }
        for r in 0..<complete where bytes[r * recordSize] > 9 {
            throw DataError(
                file: name, offset: r * recordSize, "record \(grouped(r)) has label \(bytes[r * recordSize]), expected 0…9")
        }
        return Batch(name: name, bytes: bytes)
    }

    /// Finds `name` or `name.gz` in `directory`.
    static func locate(_ name: String, in directory: URL) throws -> URL {
        let candidates = [name, name + ".gz"].map { directory.appendingPathComponent($0) }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) { return found }
        throw DataError(
            file: name, "not found; looked for \(candidates.map(\.path).joined(separator: " and "))")
    }

    /// Concatenates batches into one normalised ``Dataset``.
    public static func dataset(
        _ batches: [Batch], name: String, normalization: Normalization
    ) -> Dataset {
        var images: [Float] = []
        var labels: [Int32] = []
        images.reserveCapacity(batches.reduce(0) { $0 + $1.count } * pixelCount)
        for b in batches {
            b.bytes.withUnsafeBufferPointer { p in
                images += normalization.convert(
                    p, records: b.count, channels: 3, plane: 1024, stride: recordSize, skip: 1, kind: .cifar10)
            }
            for i in 0..<b.count { labels.append(Int32(b.label(i))) }
        }
        return Dataset(name: name, images: images, labels: labels, channels: 3, height: 32, width: 32, classCount: 10)
    }

    /// Loads `data_batch_1…5.bin` (train) and `test_batch.bin` (test) from `directory`, each raw or `.gz`.
    public static func load(directory: URL, normalization: Normalization) throws -> (train: Dataset, test: Dataset) {
        let train = try trainFiles.map { try readBatch(locate($0, in: directory)) }
        let test = try readBatch(locate(testFile, in: directory))
        return (
            dataset(train, name: "CIFAR-10 train", normalization: normalization),
            dataset([test], name: "CIFAR-10 test", normalization: normalization)
        )
    }
}
