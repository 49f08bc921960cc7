// SocketFrameDecoder: cuts a byte stream into SocketFrames, in bounded memory, with a clear error for bad bytes.
import Foundation

/// Turns bytes arriving in pieces of any size (one at a time, or many frames at once) into ``SocketFrame``s.
///
/// Pure: no I/O, so tests can fuzz it. Memory is bounded: it never holds more than one frame (at most
/// `maximumFrameLength` bytes after its prefix) plus the last piece appended, because a length prefix above the
/// limit is refused as soon as its 4 bytes are in, before any of the body is buffered. After an error the decoder is
/// spent: every later call throws the same error.
///
/// A frame whose body is at least ``directBodyLength`` bytes (a model) is gathered in an allocation of exactly its
/// size, made once its prefix is accepted: a reader can receive into it straight from the socket
/// (``readBody(_:)``), and ``next()`` hands it out as the payload without copying, so the bytes of a model are
/// copied once after the socket (into the decoded floats).
public struct SocketFrameDecoder: Sendable {
    /// The largest frame body (after the 4-byte prefix) accepted.
    public let maximumFrameLength: Int
    /// The largest frame body accepted now (at most ``maximumFrameLength``; a hub keeps it small until a peer's
    /// hello is valid). Checked for each frame as its length prefix comes in.
    public var limit: Int {
        didSet { limit = min(max(limit, 1), maximumFrameLength) }
    }
    /// Bodies of at least this many bytes are gathered in their own allocation (see above).
    public let directBodyLength: Int
    private var buffer: [UInt8] = []
    private var start = 0
    /// The large frame being gathered, if any (its prefix is consumed from `buffer`).
    private var body: FrameBody?
    private var failure: SocketFrameError?

    /// A decoder refusing frames longer than `maximumFrameLength` bytes (after the prefix); bodies of
    /// `directBodyLength` bytes or more are gathered in place (default 64 KiB).
    public init(maximumFrameLength: Int = WireFormat.maximumFrameLength, directBodyLength: Int = 1 << 16) {
        precondition(maximumFrameLength >= 1 && maximumFrameLength <= Int(UInt32.max) && directBodyLength >= 1)
        self.maximumFrameLength = maximumFrameLength
        self.directBodyLength = directBodyLength
        limit = maximumFrameLength
    }

    /// Bytes held that are not yet part of a returned frame.
    public var bufferedBytes: Int { buffer.count - start + (body.map { 4 + $0.filled } ?? 0) }

    /// Appends received bytes.
    /// - Throws: ``SocketFrameError/frameTooLarge(declared:limit:)`` or ``SocketFrameError/emptyFrame`` as soon as a
    ///   bad length prefix is complete (the bytes are then dropped).
    public mutating func append(_ bytes: some Collection<UInt8>) throws(SocketFrameError) {
        if let failure { throw failure }
        var rest = bytes[...]
        if body != nil {
            let n = min(rest.count, ownBody().space)
            let taken = rest.prefix(n)
            _ = readBody { space in
                _ = UnsafeMutableBufferPointer<UInt8>(rebasing: space.bindMemory(to: UInt8.self)[0..<n])
                    .initialize(fromContentsOf: taken)
                return n
            }
            rest = rest.dropFirst(n)
            if rest.isEmpty { return }
        }
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: rest)
        _ = try declaredLength()
    }

    /// While a large frame's body is being gathered, calls `read` with the space left for it (at most the rest of
    /// that body), counts the bytes `read` returns as received, and returns that count; otherwise returns nil without
    /// calling `read` (read into a buffer of your own and ``append(_:)``).
    public mutating func readBody(_ read: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> Int? {
        guard failure == nil, body != nil else { return nil }
        let target = ownBody()
        let n = try read(UnsafeMutableRawBufferPointer(start: target.bytes + target.filled, count: target.space))
        precondition(n >= 0 && n <= target.space, "readBody: \(n) bytes reported for \(target.space) of space")
        target.filled += n
        return n
    }

    /// The next complete frame, or `nil` until more bytes arrive.
    /// - Throws: a ``SocketFrameError`` naming what is wrong; the decoder is then spent.
    public mutating func next() throws(SocketFrameError) -> SocketFrame? {
        if let failure { throw failure }
        let frameBody: Data
        if let body {
            guard body.space == 0 else { return nil }
            frameBody = body.handOff()
            self.body = nil
        } else {
            guard let length = try declaredLength(), body == nil, bufferedBytes >= 4 + length else { return nil }
            frameBody = buffer.withUnsafeBytes { Data(bytes: $0.baseAddress! + start + 4, count: length) }
            start += 4 + length
            if start == buffer.count {
                buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
                start = 0
            }
        }
        do throws(SocketFrameError) {
            return try SocketFrame.parse(frameBody)
        } catch {
            fail(error)
            throw error
        }
    }

    /// Call at end of stream: throws ``SocketFrameError/truncated(have:need:)`` if a frame was cut off.
    public func finish() throws(SocketFrameError) {
        if let failure { throw failure }
        if let body, body.space > 0 { throw .truncated(have: 4 + body.filled, need: 4 + body.count) }
        let held = buffer.count - start
        guard held > 0 else { return }
        throw .truncated(have: held, need: held >= 4 ? 4 + prefix() : 4)
    }

    private func prefix() -> Int { buffer[start..<start + 4].reduce(0) { $0 << 8 | Int($1) } }

    /// The body length of the frame at the front of `buffer`, once its prefix is in; checks it against the limit.
    /// A large body not yet complete moves to its own allocation (`body`).
    private mutating func declaredLength() throws(SocketFrameError) -> Int? {
        guard body == nil, bufferedBytes >= 4 else { return nil }
        let length = prefix()
        if length > limit {
            fail(.frameTooLarge(declared: length, limit: limit))
        } else if length == 0 {
            fail(.emptyFrame)
        }
        if let failure { throw failure }
        let have = bufferedBytes - 4
        if length >= directBodyLength && have < length {
            let gathered = FrameBody(count: length)
            buffer.withUnsafeBytes { raw in
                gathered.bytes.copyMemory(from: raw.baseAddress! + start + 4, byteCount: have)
            }
            gathered.filled = have
            body = gathered
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            start = 0
            return length
        }
        // Room for the whole frame at once (small frames: the large ones go to their own allocation).
        if buffer.capacity < start + 4 + length { buffer.reserveCapacity(start + 4 + length) }
        return length
    }

    /// The body being gathered, copied first if a copy of this decoder shares it (value semantics).
    private mutating func ownBody() -> FrameBody {
        if !isKnownUniquelyReferenced(&body!) { body = body!.copy() }
        return body!
    }

    private mutating func fail(_ error: SocketFrameError) {
        failure = error
        buffer = []
        start = 0
        body = nil
    }
}

/// One large frame body being received: `count` bytes from `malloc`, of which the first `filled` are in. Handed out
/// as `Data` that takes the allocation over (freed with the last copy of that `Data`).
private final class FrameBody: @unchecked Sendable {  // owned by one decoder (copied on write)
    let bytes: UnsafeMutableRawPointer
    let count: Int
    var filled = 0
    private var handedOff = false

    init(count: Int) {
        guard let bytes = malloc(count) else { fatalError("out of memory for a \(count)-byte frame") }
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

    /// The whole body, which now owns the allocation.
    func handOff() -> Data {
        handedOff = true
        return Data(bytesNoCopy: bytes, count: count, deallocator: .free)
    }

    deinit { if !handedOff { free(bytes) } }
}
