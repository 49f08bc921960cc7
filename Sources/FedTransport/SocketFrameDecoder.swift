// SocketFrameDecoder: cuts a byte stream into SocketFrames, in bounded memory, with a clear error for bad bytes.

/// Turns bytes arriving in pieces of any size (one at a time, or many frames at once) into ``SocketFrame``s.
///
/// Pure: no I/O, so tests can fuzz it. Memory is bounded: it never holds more than one frame (at most
/// `maximumFrameLength` bytes after its prefix) plus the last piece appended, because a length prefix above the
/// limit is refused as soon as its 4 bytes are in, before any of the body is buffered. After an error the decoder is
/// spent: every later call throws the same error.
public struct SocketFrameDecoder: Sendable {
    /// The largest frame body (after the 4-byte prefix) accepted.
    public let maximumFrameLength: Int
    /// The largest frame body accepted now (at most ``maximumFrameLength``; a hub keeps it small until a peer's
    /// hello is valid). Checked for each frame as its length prefix comes in.
    public var limit: Int {
        didSet { limit = min(max(limit, 1), maximumFrameLength) }
    }
    private var buffer: [UInt8] = []
    private var start = 0
    private var failure: SocketFrameError?

    /// A decoder refusing frames longer than `maximumFrameLength` bytes (after the prefix).
    public init(maximumFrameLength: Int = WireFormat.maximumFrameLength) {
        precondition(maximumFrameLength >= 1 && maximumFrameLength <= Int(UInt32.max))
        self.maximumFrameLength = maximumFrameLength
        limit = maximumFrameLength
    }

    /// Bytes held that are not yet part of a returned frame.
    public var bufferedBytes: Int { buffer.count - start }

    /// Appends received bytes.
    /// - Throws: ``SocketFrameError/frameTooLarge(declared:limit:)`` or ``SocketFrameError/emptyFrame`` as soon as a
    ///   bad length prefix is complete (the bytes are then dropped).
    public mutating func append(_ bytes: some Collection<UInt8>) throws(SocketFrameError) {
        if let failure { throw failure }
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
        _ = try declaredLength()
    }

    /// The next complete frame, or `nil` until more bytes arrive.
    /// - Throws: a ``SocketFrameError`` naming what is wrong; the decoder is then spent.
    public mutating func next() throws(SocketFrameError) -> SocketFrame? {
        if let failure { throw failure }
        guard let length = try declaredLength(), bufferedBytes >= 4 + length else { return nil }
        let body = buffer[(start + 4)..<(start + 4 + length)]
        do throws(SocketFrameError) {
            let frame = try SocketFrame.parse(body)
            start += 4 + length
            if start == buffer.count {
                buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
                start = 0
            }
            return frame
        } catch {
            fail(error)
            throw error
        }
    }

    /// Call at end of stream: throws ``SocketFrameError/truncated(have:need:)`` if a frame was cut off.
    public func finish() throws(SocketFrameError) {
        if let failure { throw failure }
        guard bufferedBytes > 0 else { return }
        let need = bufferedBytes >= 4 ? 4 + prefix() : 4
        throw .truncated(have: bufferedBytes, need: need)
    }

    private func prefix() -> Int { buffer[start..<start + 4].reduce(0) { $0 << 8 | Int($1) } }

    /// The body length of the frame at the front, once its prefix is in; checks it against the limit.
    private mutating func declaredLength() throws(SocketFrameError) -> Int? {
        guard bufferedBytes >= 4 else { return nil }
        let length = prefix()
        if length > limit {
            fail(.frameTooLarge(declared: length, limit: limit))
        } else if length == 0 {
            fail(.emptyFrame)
        }
        if let failure { throw failure }
        // Room for the whole frame at once (large frames then grow by doubling, never beyond the limit).
        if length <= 64 << 20 && buffer.capacity < start + 4 + length { buffer.reserveCapacity(start + 4 + length) }
        return length
    }

    private mutating func fail(_ error: SocketFrameError) {
        failure = error
        buffer = []
        start = 0
    }
}
