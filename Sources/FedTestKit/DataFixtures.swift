// DataFixtures: writes IDX files, CIFAR-10 records and gzip streams into temporary folders for data tests.
import CZlib
import Foundation

/// A fresh, uniquely named directory under the system temporary directory; ``remove()`` deletes it.
public struct TemporaryDirectory: Sendable {
    public let url: URL

    public init(prefix: String = "fednoise-test") throws {
        let name = "\(prefix)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)"
        url = URL(fileURLWithPath: NSTemporaryDirectory(), isDirectory: true).appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The URL of `name` inside the directory.
    public func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    /// Writes `bytes` to `name` inside the directory and returns its URL.
    @discardableResult
    public func write(_ bytes: [UInt8], to name: String) throws -> URL {
        let u = file(name)
        try Data(bytes).write(to: u)
        return u
    }

    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

/// Byte builders for the on-disk formats the data module reads.
public enum DataFixtures {
    /// An IDX file: `00 00 <type> <rank>`, big-endian dimensions, then `payload` verbatim (no checks, so tests
    /// can build inconsistent files).
    public static func idx(type: UInt8 = 0x08, dimensions: [Int], payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, 0, type, UInt8(dimensions.count)]
        for d in dimensions {
            let v = UInt32(d)
            out += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        }
        return out + payload
    }

    /// An IDX image file of `count` `height×width` images whose pixel `j` of image `i` is `pixel(i, j)`.
    public static func idxImages(
        count: Int, height: Int = 28, width: Int = 28, pixel: (Int, Int) -> UInt8 = { i, j in UInt8((i &+ j) & 0xFF) }
    ) -> [UInt8] {
        var payload: [UInt8] = []
        payload.reserveCapacity(count * height * width)
        for i in 0..<count { for j in 0..<height * width { payload.append(pixel(i, j)) } }
        return idx(dimensions: [count, height, width], payload: payload)
    }

    /// An IDX label file.
    public static func idxLabels(_ labels: [UInt8]) -> [UInt8] {
        idx(dimensions: [labels.count], payload: labels)
    }

    /// CIFAR-10 binary records: for each label, 1 label byte then 3 planes of 1,024 bytes whose byte `j` of
    /// channel `c` of record `r` is `pixel(r, c, j)`.
    public static func cifarRecords(
        labels: [UInt8], pixel: (Int, Int, Int) -> UInt8 = { r, c, j in UInt8((r &* 7 &+ c &* 50 &+ j) & 0xFF) }
    ) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(labels.count * 3073)
        for (r, l) in labels.enumerated() {
            out.append(l)
            for c in 0..<3 { for j in 0..<1024 { out.append(pixel(r, c, j)) } }
        }
        return out
    }

    /// Compresses `bytes` as a single gzip member with zlib (`deflateInit2_`, window bits 31 = 15 + gzip header).
    public static func gzip(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var stream = z_stream()
        let status = deflateInit2_(
            &stream, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "deflateInit2_ failed: \(status)")
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(bytes.count)))
        var out = [UInt8](repeating: 0, count: bound)
        var input = bytes
        let written: Int = input.withUnsafeMutableBufferPointer { inBuf in
            out.withUnsafeMutableBufferPointer { outBuf in
                stream.next_in = inBuf.baseAddress
                stream.avail_in = UInt32(inBuf.count)
                stream.next_out = outBuf.baseAddress
                stream.avail_out = UInt32(outBuf.count)
                let r = deflate(&stream, Z_FINISH)
                precondition(r == Z_STREAM_END, "deflate did not finish: \(r)")
                return outBuf.count - Int(stream.avail_out)
            }
        }
        return Array(out[..<written])
    }

    /// Writes an MNIST-style directory (train and test IDX pairs, gzipped or raw) and returns nothing; the images
    /// come from ``idxImages(count:height:width:pixel:)`` with its default pattern.
    public static func writeMNISTStyle(
        in dir: TemporaryDirectory, trainLabels: [UInt8], testLabels: [UInt8], gzipped: Bool
    ) throws {
        let ext = gzipped ? ".gz" : ""
        func put(_ bytes: [UInt8], _ name: String) throws {
            try dir.write(gzipped ? gzip(bytes) : bytes, to: name + ext)
        }
        try put(idxImages(count: trainLabels.count), "train-images-idx3-ubyte")
        try put(idxLabels(trainLabels), "train-labels-idx1-ubyte")
        try put(idxImages(count: testLabels.count), "t10k-images-idx3-ubyte")
        try put(idxLabels(testLabels), "t10k-labels-idx1-ubyte")
    }
}
