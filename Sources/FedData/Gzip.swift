// Gzip: reads a whole data file and inflates it with the system zlib when it is gzip-compressed.
import CZlib
import Foundation

/// Whole-file reading with transparent gzip decompression.
///
/// Files that begin with the gzip magic `1f 8b` are inflated with zlib (`inflateInit2_` with window bits
/// 15 + 32, which also accepts zlib-wrapped data); any other file is returned byte for byte. Concatenated gzip
/// members (RFC 1952 §2.2) are inflated one after another, and zero padding after the last member is ignored.
/// A truncated or corrupt stream throws a ``DataError`` naming the file, the compressed byte offset and what
/// went wrong; it never traps.
public enum Gzip {
    /// The two magic bytes that start every gzip member.
    public static let magic: (UInt8, UInt8) = (0x1F, 0x8B)

    /// Whether `bytes` starts with the gzip magic.
    public static func isGzip(_ bytes: some Collection<UInt8>) -> Bool {
        var it = bytes.makeIterator()
        return it.next() == magic.0 && it.next() == magic.1
    }

    /// Reads the file at `url`, inflating it if it is gzip-compressed.
    /// - Throws: ``DataError`` if the file cannot be read or its gzip stream is truncated or corrupt.
    public static func readFile(_ url: URL) throws -> [UInt8] {
        let name = url.lastPathComponent
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw DataError(file: name, "cannot read \(url.path): \(error.localizedDescription)")
        }
        let bytes = [UInt8](data)
        return isGzip(bytes) ? try inflate(bytes, name: name) : bytes
    }

    /// Inflates a complete gzip (or zlib) stream held in memory. `name` is used in error messages.
    /// - Throws: ``DataError`` for truncated, corrupt or trailing-garbage input.
    public static func inflate(_ input: [UInt8], name: String) throws -> [UInt8] {
        var output: [UInt8] = []
        // ISIZE (the last 4 bytes, little-endian) is the uncompressed size mod 2^32 of the last member: a hint only.
        if input.count >= 18 {
            let n = input.count
            let hint = Int(input[n - 4]) | Int(input[n - 3]) << 8 | Int(input[n - 2]) << 16 | Int(input[n - 1]) << 24
            output.reserveCapacity(min(hint, 1 << 30))
        }
        var position = 0
        var member = 0
        while position < input.count {
            if member > 0 {
                // Anything after the first member must be another gzip member or zero padding.
                let rest = input[position...]
                if rest.allSatisfy({ $0 == 0 }) { break }
                guard isGzip(rest) else {
                    throw DataError(
                        file: name, offset: position,
                        "gzip: \(grouped(rest.count)) bytes of trailing data after the end of the compressed stream")
                }
            }
            position += try inflateMember(input, from: position, name: name, into: &output)
            member += 1
        }
        return output
    }

    /// Inflates one member starting at `start`, appending to `output`; returns the compressed bytes consumed.
    private static func inflateMember(
        _ input: [UInt8], from start: Int, name: String, into output: inout [UInt8]
    ) throws -> Int {
        var stream = z_stream()
        let initStatus = inflateInit2_(&stream, 15 + 32, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw DataError(file: name, "gzip: zlib inflateInit2_ failed with status \(initStatus)")
        }
        defer { inflateEnd(&stream) }

        let inChunk = 1 << 20
        let outChunk = 1 << 18
        var chunk = [UInt8](repeating: 0, count: outChunk)
        var consumed = 0  // compressed bytes of this member handed to zlib and used
        return try input.withUnsafeBufferPointer { inBuf in
            try chunk.withUnsafeMutableBufferPointer { outBuf in
                while true {
                    var inputExhausted = false
                    if stream.avail_in == 0 {
                        let remaining = input.count - start - consumed
                        if remaining > 0 {
                            let n = min(remaining, inChunk)
                            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress! + start + consumed)
                            stream.avail_in = UInt32(n)
                            consumed += n
                        } else {
                            inputExhausted = true  // zlib may still flush buffered output
                        }
                    }
                    let availableBefore = stream.avail_in
                    stream.next_out = outBuf.baseAddress!
                    stream.avail_out = UInt32(outChunk)
                    let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    let produced = outChunk - Int(stream.avail_out)
                    output.append(contentsOf: UnsafeBufferPointer(start: outBuf.baseAddress!, count: produced))
                    let here = start + consumed - Int(stream.avail_in)  // first compressed byte not yet used
                    switch status {
                    case Z_STREAM_END:
                        return here - start
                    case Z_OK, Z_BUF_ERROR:
                        if produced > 0 || stream.avail_in != availableBefore { continue }
                        if inputExhausted {
                            throw DataError(
                                file: name, offset: input.count,
                                "gzip stream is truncated: the file ends before the end of the compressed data "
                                    + "(\(grouped(output.count)) bytes inflated so far)")
                        }
                        throw DataError(file: name, offset: here, "gzip: inflate made no progress (zlib status \(status))")
                    case Z_DATA_ERROR:
                        throw DataError(
                            file: name, offset: here, "gzip stream is corrupt: \(zlibMessage(stream, status))")
                    case Z_NEED_DICT:
                        throw DataError(file: name, offset: here, "gzip stream needs a preset dictionary (unsupported)")
                    case Z_MEM_ERROR:
                        throw DataError(file: name, offset: here, "gzip: zlib ran out of memory")
                    default:
                        throw DataError(file: name, offset: here, "gzip: \(zlibMessage(stream, status))")
                    }
                }
            }
        }
    }

    private static func zlibMessage(_ stream: z_stream, _ status: Int32) -> String {
        if let msg = stream.msg { return String(cString: msg) + " (zlib status \(status))" }
        return "zlib status \(status)"
    }
}
