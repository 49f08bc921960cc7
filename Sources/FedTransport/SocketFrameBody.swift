// SocketFrameBody: the allocations a large frame body is received into: raw bytes, and a float vector apart.
import Foundation

/// One large frame body being received: `count` bytes from `malloc`, of which the first `filled` are in. Handed out
/// as `Data` that takes the allocation over (freed with the last copy of that `Data`).
final class FrameBody: @unchecked Sendable {  // owned by one decoder (copied on write)
    let bytes: UnsafeMutableRawPointer
    let count: Int
    var filled = 0
    private var handedOff = false

    init(count: Int) {
        guard let bytes = malloc(max(count, 1)) else { fatalError("out of memory for a \(count)-byte frame") }
        self.bytes = bytes
        self.count = count
    }

    var space: Int { count - filled }

    func copy() -> FrameBody {
        let twin = FrameBody(count: count)
        twin.bytes.copyMemory(from: bytes, byteCount: filled)
        twin.filled = filled
        return twin
    }

    /// Calls `read` with the space left and counts what it returns as received.
    func read(_ read: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> Int {
        let n = try read(UnsafeMutableRawBufferPointer(start: bytes + filled, count: space))
        precondition(n >= 0 && n <= space, "readBody: \(n) bytes reported for \(space) of space")
        filled += n
        return n
    }

    /// The whole body, which now owns the allocation.
    func handOff() -> Data {
        handedOff = true
        return Data(bytesNoCopy: bytes, count: count, deallocator: .free)
    }

    deinit { if !handedOff { free(bytes) } }
}

/// The float vectors at the end of a deliver frame's message (``WireFormat``'s trailing area), received straight
/// into the storage of the `[Float]` the message decodes to, so a model's bytes are not copied again after the
/// socket (or after TLS's record buffer). `filled` counts bytes in; the vector is handed out only once all are.
///
/// A broadcast sends the same model to every client of a link, each in a frame of its own. Made with
/// ``init(repeating:)`` (the vector of the link's previous such frame, same size), the body first assumes a repeat:
/// bytes are received into a small buffer that stays in cache and compared with that vector, not written to a new
/// one, and if all match the message gets that vector itself (shared, copy-on-write). At the first difference it
/// copies what matched so far into a vector of its own and goes on as a plain body, so any bytes decode exactly.
final class FloatBody: @unchecked Sendable {  // owned by one decoder (copied on write)
    /// Sized once; elements not yet received are arbitrary bit patterns (never handed out before `space` is 0).
    /// While `repeating`, the previous vector, never written.
    private(set) var values: [Float]
    var filled = 0
    /// Whether every byte so far equals `values`' (reads then go to `scratch`).
    private(set) var repeating: Bool
    private var scratch: UnsafeMutableRawBufferPointer?

    /// A new vector of `floats` values.
    init(floats: Int) {
        values = [Float](unsafeUninitializedCapacity: floats) { _, count in count = floats }
        repeating = false
    }

    /// A vector expected to repeat `previous` byte for byte.
    init(repeating previous: [Float]) {
        values = previous
        repeating = true
        scratch = Self.scratch(for: previous)
    }

    private init(values: [Float], filled: Int, repeating: Bool) {
        (self.values, self.filled, self.repeating) = (values, filled, repeating)
        if repeating { scratch = Self.scratch(for: values) }
    }

    /// Where reads go while repeating: as much as a reader takes at once into its own buffer (256 kB).
    private static func scratch(for values: [Float]) -> UnsafeMutableRawBufferPointer {
        .allocate(byteCount: min(1 << 18, max(values.count * 4, 1)), alignment: 64)
    }

    var space: Int { values.count * 4 - filled }

    func copy() -> FloatBody {
        FloatBody(values: values, filled: filled, repeating: repeating)  // shares the storage until either writes
    }

    /// Calls `read` with the space left (in the vector's own storage, or while repeating in `scratch`), and counts
    /// what it returns as received.
    func read(_ read: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> Int {
        let (filled, space) = (self.filled, self.space)
        let n: Int
        if repeating, let scratch {
            n = try read(UnsafeMutableRawBufferPointer(rebasing: scratch[0..<min(space, scratch.count)]))
            precondition(n >= 0 && n <= min(space, scratch.count), "readBody: \(n) bytes reported for less space")
            let same = values.withUnsafeBytes { memcmp($0.baseAddress! + filled, scratch.baseAddress!, n) == 0 }
            if !same { diverge(received: n) }
        } else {
            n = try values.withUnsafeMutableBytes { raw in
                try read(UnsafeMutableRawBufferPointer(rebasing: raw[filled..<filled + space]))
            }
            precondition(n >= 0 && n <= space, "readBody: \(n) bytes reported for \(space) of space")
        }
        self.filled += n
        return n
    }

    /// Not a repeat after all: a vector of its own with the bytes that matched, then the `n` just received.
    private func diverge(received n: Int) {
        let previous = values
        let filled = self.filled
        values = [Float](unsafeUninitializedCapacity: previous.count) { buffer, count in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            previous.withUnsafeBytes { raw.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: filled) }
            (raw.baseAddress! + filled).copyMemory(from: scratch!.baseAddress!, byteCount: n)
            count = previous.count
        }
        repeating = false
        scratch?.deallocate()
        scratch = nil
    }

    deinit { scratch?.deallocate() }
}
