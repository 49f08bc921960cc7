// SocketFrameDecoder: cuts a byte stream into SocketFrames, in bounded memory, with a clear error for bad bytes.
import Foundation

/// Turns bytes arriving in pieces of any size (one at a time, or many frames at once) into ``SocketFrame``s.
///
/// Pure: no I/O, so tests can fuzz it. Memory is bounded: it never holds more than one frame (at most
/// `maximumFrameLength` bytes after its prefix) plus the last piece appended, because a length prefix above the
/// limit is refused as soon as its 4 bytes are in, before any of the body is buffered (with `vectorsApart`, it also
/// keeps the last vectors it handed out, which the message that took them shares). After an error the decoder is
/// spent: every later call throws the same error.
///
/// A frame whose body is at least ``directBodyLength`` bytes (a model) is gathered in an allocation of exactly its
/// size, made once its prefix is accepted: a reader can receive into it straight from the socket
/// (``readBody(_:)``), and ``next()`` hands it out as the payload without copying, so the bytes of a model are
/// copied once after the socket (into the decoded floats).
///
/// A decoder made with `vectorsApart` goes one step further for deliver frames: the message's trailing float
/// vectors (see ``WireFormat``) are received straight into a `[Float]`, handed out apart by ``nextWithVectors()``,
/// so a model is not copied at all after the socket.
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
    /// Whether deliver frames' trailing vectors are received apart (see above).
    public let vectorsApart: Bool
    /// The trailing vectors of the large deliver frame being gathered, if they are received apart.
    private var floats: FloatBody?
    /// The vectors of the last deliver frame received apart: the next one of the same size is compared with them
    /// first (a broadcast's copies are identical), see ``FloatBody``.
    private var lastVectors: [Float]?
    private var failure: SocketFrameError?

    /// A decoder refusing frames longer than `maximumFrameLength` bytes (after the prefix); bodies of
    /// `directBodyLength` bytes or more are gathered in place (default 64 KiB).
    /// `vectorsApart`: receive a large deliver frame's trailing float vectors into a `[Float]` of their own.
    public init(maximumFrameLength: Int = WireFormat.maximumFrameLength, directBodyLength: Int = 1 << 16,
                vectorsApart: Bool = false) {
        precondition(maximumFrameLength >= 1 && maximumFrameLength <= Int(UInt32.max) && directBodyLength >= 1)
        self.maximumFrameLength = maximumFrameLength
        self.directBodyLength = directBodyLength
        self.vectorsApart = vectorsApart
        limit = maximumFrameLength
    }

    /// Bytes held that are not yet part of a returned frame.
    public var bufferedBytes: Int {
        buffer.count - start + (body.map { 4 + $0.filled } ?? 0) + (floats?.filled ?? 0)
    }

    /// Appends received bytes.
    /// - Throws: ``SocketFrameError/frameTooLarge(declared:limit:)`` or ``SocketFrameError/emptyFrame`` as soon as a
    ///   bad length prefix is complete (the bytes are then dropped).
    public mutating func append(_ bytes: some Collection<UInt8>) throws(SocketFrameError) {
        if let failure { throw failure }
        var rest = bytes[...]
        while body != nil && !rest.isEmpty, let n = readBody({ space in
            let n = min(rest.count, space.count)
            _ = UnsafeMutableBufferPointer<UInt8>(rebasing: space.bindMemory(to: UInt8.self)[0..<n])
                .initialize(fromContentsOf: rest.prefix(n))
            return n
        }), n > 0 {
            rest = rest.dropFirst(n)
        }
        if rest.isEmpty { return }
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: rest)
        _ = try declaredLength()
    }

    /// While a large frame's body is being gathered, calls `read` with the space left for it (at most the rest of
    /// that body, or of the part of it being filled: the bytes before a deliver frame's vectors, then the vectors),
    /// counts the bytes `read` returns as received, and returns that count; otherwise returns nil without calling
    /// `read` (read into a buffer of your own and ``append(_:)``).
    public mutating func readBody(_ read: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows -> Int? {
        guard failure == nil, body != nil else { return nil }
        let target = ownBody()
        if target.space > 0 || floats == nil { return try target.read(read) }
        if !isKnownUniquelyReferenced(&floats!) { floats = floats!.copy() }
        return try floats!.read(read)
    }

    /// The next complete frame, or `nil` until more bytes arrive. A frame whose vectors were received apart is
    /// joined again here (one copy); a reader of a `vectorsApart` decoder calls ``nextWithVectors()`` instead.
    /// - Throws: a ``SocketFrameError`` naming what is wrong; the decoder is then spent.
    public mutating func next() throws(SocketFrameError) -> SocketFrame? {
        guard let (frame, vectors) = try nextWithVectors() else { return nil }
        guard let vectors, case .deliver(let request, let from, let to, let sequence, let payload) = frame else {
            return frame
        }
        var joined = Data(capacity: payload.count + vectors.count * 4)
        joined.append(payload)
        vectors.withUnsafeBytes { joined.append(contentsOf: $0) }
        return .deliver(request: request, from: from, to: to, sequence: sequence, payload: joined)
    }

    /// The next complete frame, or `nil` until more bytes arrive. For a deliver frame whose message's trailing
    /// float vectors were received apart (`vectorsApart`), its payload ends before them and `vectors` holds them
    /// (``WireFormat/decode(_:from:trailingVectors:)`` decodes the two); otherwise `vectors` is nil.
    /// - Throws: a ``SocketFrameError`` naming what is wrong; the decoder is then spent.
    public mutating func nextWithVectors() throws(SocketFrameError) -> (frame: SocketFrame, vectors: [Float]?)? {
        if let failure { throw failure }
        let frameBody: Data
        var vectors: [Float]?
        if let body {
            guard body.space == 0, (floats?.space ?? 0) == 0 else { return nil }
            frameBody = body.handOff()
            vectors = floats?.values
            if let vectors { lastVectors = vectors }
            self.body = nil
            floats = nil
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
            return (try SocketFrame.parse(frameBody), vectors)
        } catch {
            fail(error)
            throw error
        }
    }

    /// Call at end of stream: throws ``SocketFrameError/truncated(have:need:)`` if a frame was cut off.
    public func finish() throws(SocketFrameError) {
        if let failure { throw failure }
        if let body, body.space > 0 || (floats?.space ?? 0) > 0 {
            let vectors = floats.map { ($0.filled, $0.filled + $0.space) } ?? (0, 0)
            throw .truncated(have: 4 + body.filled + vectors.0, need: 4 + body.count + vectors.1)
        }
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
            // Vectors apart need the frame's fields and the property list's length: wait for their bytes.
            if vectorsApart && have < Self.probeBytes { return length }
            let split = vectorsApart ? vectorsOffset(length: length, have: have) : nil
            let gathered = FrameBody(count: split ?? length)
            buffer.withUnsafeBytes { raw in
                let from = raw.baseAddress! + start + 4
                gathered.filled = min(have, gathered.count)
                gathered.bytes.copyMemory(from: from, byteCount: gathered.filled)
                guard let split else { return }
                let count = (length - split) / 4
                let vectors = lastVectors.flatMap { $0.count == count ? FloatBody(repeating: $0) : nil }
                    ?? FloatBody(floats: count)
                while vectors.filled < have - split {
                    _ = vectors.read { space in
                        let n = min(space.count, have - split - vectors.filled)
                        space.copyMemory(from: UnsafeRawBufferPointer(start: from + split + vectors.filled, count: n))
                        return n
                    }
                }
                floats = vectors
            }
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

    /// Where a deliver frame's trailing vectors start in its body of `length` bytes, of which the first `have` are
    /// in `buffer`: after the frame's fields, the message's 4-byte property-list length and its property list.
    /// Nil (receive the body whole) unless the frame is a deliver, its fields and that length are in, and what
    /// follows is at least ``directBodyLength`` bytes and whole 4-byte values (and the machine little-endian). A
    /// body whose fields are malformed is gathered whole too, and ``next()`` reports it as before.
    private func vectorsOffset(length: Int, have: Int) -> Int? {
        #if !_endian(little)
        return nil  // the vectors' bytes are little-endian: received as they are, they are floats only here
        #endif
        let probe = buffer.withUnsafeBytes { Data($0[(start + 4)..<(start + 4 + min(have, Self.probeBytes))]) }
        var r = ByteReader(probe)
        guard (try? r.u8("kind")) == 4, (try? r.u64("request")) != nil, (try? r.text("from")) != nil,
              (try? r.text("to")) != nil, (try? r.u64("sequence")) != nil else { return nil }
        let fields = probe.count - r.remaining
        guard r.remaining >= 4 else { return nil }
        let listLength = r.rest().prefix(4).reduce(0) { $0 << 8 | Int($1) }
        let offset = fields + 4 + listLength
        guard offset <= length - directBodyLength, (length - offset) % 4 == 0 else { return nil }
        return offset
    }

    /// The bytes of a large body looked at for where its vectors start (its fields have two endpoint names).
    private static let probeBytes = 512

    private mutating func fail(_ error: SocketFrameError) {
        failure = error
        buffer = []
        start = 0
        body = nil
        floats = nil
        lastVectors = nil
    }
}
