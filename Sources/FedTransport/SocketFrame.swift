// SocketFrame: the frames socket transports exchange and their byte form (length-prefixed, big-endian fields).
import Foundation

/// One unit of the socket protocol between a ``SocketHub`` and its ``SocketLink``s.
///
/// On the wire a frame is a 4-byte big-endian length `n`, then `n` bytes: a kind byte and the kind's fields
/// (integers big-endian, endpoint names and texts as a 2-byte length and UTF-8). Message payloads are the
/// ``WireFormat`` bytes of one message, carried opaquely: the hub routes a frame by its header and never decodes the
/// payload of a message it only relays.
public enum SocketFrame: Equatable, Sendable {
    /// The first frame of a link: the protocol version and the session it means to join (the hub refuses another).
    case hello(version: UInt16, session: String)
    /// Link → hub: open `endpoint` here.
    case register(request: UInt64, endpoint: EndpointID)
    /// Link → hub: `endpoint` is closed (no reply).
    case close(endpoint: EndpointID)
    /// Link → hub: deliver this message; `sequence` nil means "stamp the sender's next one" (a send), a value means
    /// "keep it" (a forward).
    case route(request: UInt64, from: EndpointID, to: EndpointID, sequence: UInt64?, payload: Data)
    /// Hub → link: put this envelope in the mailbox of `to`, then reply.
    case deliver(request: UInt64, from: EndpointID, to: EndpointID, sequence: UInt64, payload: Data)
    /// The answer to a `register`, `route` or `deliver` with the same request number.
    case reply(request: UInt64, status: SocketReply)
    /// Hub → link: the hub is shutting down; nothing more will be delivered.
    case shutdown

    /// The protocol version this build speaks: 2 since message payloads carry their float vectors after the
    /// property list (``WireFormat``), so a peer of version 1 is refused at hello instead of failing to decode.
    public static let version: UInt16 = 2

    /// The frame's bytes, length prefix included.
    /// - Throws: ``SocketFrameError/frameTooLarge(declared:limit:)`` beyond `maximumLength` bytes after the prefix.
    public func encoded(maximumLength: Int = WireFormat.maximumFrameLength) throws(SocketFrameError) -> [UInt8] {
        let frame = try outgoing(maximumLength: maximumLength)
        var bytes = frame.header
        bytes.reserveCapacity(frame.count)
        frame.payload.withUnsafeBytes { bytes.append(contentsOf: $0.bindMemory(to: UInt8.self)) }
        return bytes
    }

    /// The frame ready to write: the same bytes as ``encoded(maximumLength:)``, as a header (length prefix and
    /// fields) and the message payload, which is shared, not copied (a broadcast writes one payload to every link).
    /// - Throws: ``SocketFrameError/frameTooLarge(declared:limit:)`` beyond `maximumLength` bytes after the prefix.
    func outgoing(maximumLength: Int = WireFormat.maximumFrameLength) throws(SocketFrameError) -> OutgoingFrame {
        var w = ByteWriter()
        w.bytes = [0, 0, 0, 0]
        var payload = Data()
        switch self {
        case .hello(let version, let session):
            w.u8(0); w.u16(version); w.text(session)
        case .register(let request, let endpoint):
            w.u8(1); w.u64(request); w.text(endpoint.description)
        case .close(let endpoint):
            w.u8(2); w.text(endpoint.description)
        case .route(let request, let from, let to, let sequence, let body):
            w.u8(3); w.u64(request); w.text(from.description); w.text(to.description)
            w.u8(sequence == nil ? 0 : 1); w.u64(sequence ?? 0)
            payload = body
        case .deliver(let request, let from, let to, let sequence, let body):
            w.u8(4); w.u64(request); w.text(from.description); w.text(to.description); w.u64(sequence)
            payload = body
        case .reply(let request, let status):
            w.u8(5); w.u64(request); status.write(to: &w)
        case .shutdown:
            w.u8(6)
        }
        let length = w.bytes.count - 4 + payload.count
        guard length <= maximumLength else { throw .frameTooLarge(declared: length, limit: maximumLength) }
        for i in 0..<4 { w.bytes[i] = UInt8(truncatingIfNeeded: length >> (24 - 8 * i)) }
        return OutgoingFrame(header: w.bytes, payload: payload)
    }

    /// Parses one frame's body (the bytes after the length prefix). A message payload is a slice of `body`, not a
    /// copy.
    static func parse(_ body: Data) throws(SocketFrameError) -> SocketFrame {
        var r = ByteReader(body)
        let kind = try r.u8("kind")
        let frame: SocketFrame
        switch kind {
        case 0: frame = .hello(version: try r.u16("version"), session: try r.text("session"))
        case 1: frame = .register(request: try r.u64("request"), endpoint: try r.endpoint("endpoint"))
        case 2: frame = .close(endpoint: try r.endpoint("endpoint"))
        case 3:
            let request = try r.u64("request"), from = try r.endpoint("from"), to = try r.endpoint("to")
            let stamped = try r.u8("sequence flag"), sequence = try r.u64("sequence")
            guard stamped <= 1 else { throw .malformed("sequence flag \(stamped) is neither 0 nor 1") }
            frame = .route(request: request, from: from, to: to, sequence: stamped == 1 ? sequence : nil,
                           payload: r.rest())
        case 4:
            frame = .deliver(request: try r.u64("request"), from: try r.endpoint("from"), to: try r.endpoint("to"),
                             sequence: try r.u64("sequence"), payload: r.rest())
        case 5: frame = .reply(request: try r.u64("request"), status: try SocketReply.read(from: &r))
        case 6: frame = .shutdown
        default: throw .unknownKind(kind)
        }
        guard r.isAtEnd else { throw .malformed("\(r.remaining) unexpected bytes after a frame of kind \(kind)") }
        return frame
    }
}

/// What the receiving side of a request answers.
public enum SocketReply: Equatable, Sendable {
    case ok
    case unknownEndpoint(EndpointID)
    case endpointClosed(EndpointID)
    case alreadyRegistered(EndpointID)
    case shutDown
    /// Anything else (a payload that does not decode, a refused session), in words.
    case failed(String)

    /// The ``TransportError`` this stands for, or the failure in words for `.failed`.
    var error: (any Error)? {
        switch self {
        case .ok: nil
        case .unknownEndpoint(let id): TransportError.unknownEndpoint(id)
        case .endpointClosed(let id): TransportError.endpointClosed(id)
        case .alreadyRegistered(let id): TransportError.alreadyRegistered(id)
        case .shutDown: TransportError.shutDown
        case .failed(let reason): SocketTransportError.remoteFailure(reason)
        }
    }

    /// The reply that reports `error` to the requester.
    init(_ error: TransportError) {
        switch error {
        case .unknownEndpoint(let id): self = .unknownEndpoint(id)
        case .endpointClosed(let id): self = .endpointClosed(id)
        case .alreadyRegistered(let id): self = .alreadyRegistered(id)
        case .shutDown: self = .shutDown
        }
    }

    fileprivate func write(to w: inout ByteWriter) {
        switch self {
        case .ok: w.u8(0)
        case .unknownEndpoint(let id): w.u8(1); w.text(id.description)
        case .endpointClosed(let id): w.u8(2); w.text(id.description)
        case .alreadyRegistered(let id): w.u8(3); w.text(id.description)
        case .shutDown: w.u8(4)
        case .failed(let reason): w.u8(5); w.text(String(reason.utf8.prefix(4000)) ?? "")
        }
    }

    fileprivate static func read(from r: inout ByteReader) throws(SocketFrameError) -> SocketReply {
        switch try r.u8("status") {
        case 0: .ok
        case 1: .unknownEndpoint(try r.endpoint("endpoint"))
        case 2: .endpointClosed(try r.endpoint("endpoint"))
        case 3: .alreadyRegistered(try r.endpoint("endpoint"))
        case 4: .shutDown
        case 5: .failed(try r.text("reason"))
        case let status: throw .malformed("unknown reply status \(status)")
        }
    }
}

/// Why bytes from a peer are not a valid frame stream. The connection that sent them is closed.
public enum SocketFrameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A frame declared (or would need) more bytes than the limit.
    case frameTooLarge(declared: Int, limit: Int)
    /// A frame of length 0 (it must hold at least its kind byte).
    case emptyFrame
    /// A kind byte this version does not know.
    case unknownKind(UInt8)
    /// A field is cut short, invalid or followed by stray bytes.
    case malformed(String)
    /// The stream ended inside a frame.
    case truncated(have: Int, need: Int)

    public var description: String {
        switch self {
        case .frameTooLarge(let n, let limit): "a frame declares \(n) bytes, more than the limit of \(limit)"
        case .emptyFrame: "a frame of length 0"
        case .unknownKind(let k): "unknown frame kind \(k)"
        case .malformed(let why): "malformed frame: \(why)"
        case .truncated(let have, let need): "the stream ended inside a frame (\(have) of \(need) bytes)"
        }
    }
}

struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes.append(UInt8(v >> 8)); bytes.append(UInt8(v & 0xFF)) }
    mutating func u64(_ v: UInt64) {
        for s in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> s)) }
    }
    /// A 2-byte length then UTF-8 (texts here are endpoint names and short reasons, < 64 KiB).
    mutating func text(_ s: String) {
        let utf8 = Array(s.utf8.prefix(Int(UInt16.max)))
        u16(UInt16(utf8.count))
        bytes += utf8
    }
}

struct ByteReader {
    private let bytes: Data
    private var at: Int
    init(_ bytes: Data) { self.bytes = bytes; at = bytes.startIndex }

    var isAtEnd: Bool { at == bytes.endIndex }
    var remaining: Int { bytes.endIndex - at }

    private mutating func take(_ n: Int, _ field: String) throws(SocketFrameError) -> Data {
        guard remaining >= n else { throw .malformed("field \(field) needs \(n) bytes, \(remaining) left") }
        defer { at += n }
        return bytes[at..<at + n]
    }

    mutating func u8(_ field: String) throws(SocketFrameError) -> UInt8 { try take(1, field).first! }
    mutating func u16(_ field: String) throws(SocketFrameError) -> UInt16 {
        try take(2, field).reduce(0) { $0 << 8 | UInt16($1) }
    }
    mutating func u64(_ field: String) throws(SocketFrameError) -> UInt64 {
        try take(8, field).reduce(0) { $0 << 8 | UInt64($1) }
    }
    mutating func text(_ field: String) throws(SocketFrameError) -> String {
        let n = Int(try u16(field + " length"))
        guard let s = String(validating: try take(n, field), as: UTF8.self) else {
            throw .malformed("field \(field) is not UTF-8")
        }
        return s
    }
    mutating func endpoint(_ field: String) throws(SocketFrameError) -> EndpointID {
        let s = try text(field)
        guard let id = EndpointID(s) else {
            throw .malformed("field \(field) is not an endpoint name: \(s.debugDescription)")
        }
        return id
    }
    /// The bytes left, as a slice sharing `bytes`' storage (no copy).
    mutating func rest() -> Data {
        defer { at = bytes.endIndex }
        return bytes[at...]
    }
}

/// A frame ready to write: `header` (the length prefix and the fields), then `payload` (message bytes, possibly
/// shared by the frames of a broadcast). Written with two writes from their own storage, never concatenated.
struct OutgoingFrame: Sendable {
    var header: [UInt8]
    var payload = Data()

    /// Bytes on the wire.
    var count: Int { header.count + payload.count }
}
