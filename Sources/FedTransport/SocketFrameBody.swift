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
final class FloatBody: @unchecked Sendable {  // owned by one decoder (copied on write)
    /// Sized once; elements not yet received are arbitrary bit patterns (never handed out before `space` is 0).
    private(set) var values: [Float]
    var filled = 0

    init(floats: Int) {
        values = [Float](unsafeUninitializedCapacity: floats) { _, count in count = floats }
    }

    private init(values: [Float], filled: Int) {
        self.values = values
        self.filled = filled
    }

    var space: Int { values.count * 4 - filled }

    func copy() -> FloatBody {
        FloatBody(values: values, filled: filled)  // shares the storage until either side writes
    }

    /// Calls `read` with the space left, in the vector's own storage, and counts what it returns as received.
    func read(_ read: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> Int {
        let (filled, space) = (self.filled, self.space)
        let n = try values.withUnsafeMutableBytes { raw in
            try read(UnsafeMutableRawBufferPointer(rebasing: raw[filled..<filled + space]))
        }
        precondition(n >= 0 && n <= space, "readBody: \(n) bytes reported for \(space) of space")
        self.filled += n
        return n
    }
}
