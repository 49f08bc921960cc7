// TLSStream: a TLS 1.3 session on a socket, read and written by two threads at once, with a handshake deadline.
import COpenSSL
import Foundation
import Glibc

/// A ``ByteStream`` over an OpenSSL session, used by a ``SocketConnection``'s reader and writer threads at once.
///
/// An `SSL` object must not be used by two threads at the same time, and a blocking `SSL_read` waiting for data
/// would hold it for as long as the peer is silent. So the descriptor is non-blocking and every `SSL_*` call on the
/// session is made under `lock` and never waits: when OpenSSL needs the socket readable (`SSL_ERROR_WANT_READ`) or
/// writable (`SSL_ERROR_WANT_WRITE`), the thread releases the lock and waits for that in `poll(2)`, then retries.
/// The reader waiting for data never holds up the writer, nor a writer waiting for the peer to drain the reader.
/// Polls wake at least every 250 ms to retry anyway, so a record consumed by the other thread's call can never leave
/// a thread waiting for good; ``shutdown(writeOnly:)`` wakes both at once. TLS 1.3 has no renegotiation and session
/// tickets are off, so a read only reads and a write only writes, apart from a KeyUpdate's reply, which OpenSSL
/// queues for the next write. Writes go through a 256 kB buffer in front of the socket, flushed after each frame, and
/// reads come through another (`fednoise_ssl_set_buffered_fd`): a model moves in a few system calls, not one or two
/// per 16 kB record.
final class TLSStream: ByteStream, @unchecked Sendable {  // every use of `ssl` is under `lock`
    private let ssl: OpaquePointer
    private let fd: Int32
    private let lock = NSLock()
    /// The peer's identity, from the certificate the handshake verified.
    let peerIdentity: PeerIdentity
    /// A write that moves no byte for this long fails (nil: no limit). Set before the writer starts.
    private var stallSeconds: Double?

    func limitStalledWrites(seconds: Double) { stallSeconds = seconds }

    /// The cipher suite the handshake agreed on (`TLS_AES_128_GCM_SHA256` between two FedNoise peers).
    var cipherSuite: String {
        lock.lock()
        defer { lock.unlock() }
        return SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? "none"
    }

    /// Throws when no byte has moved since `progress` for longer than the stall limit.
    private func checkStall(since progress: ContinuousClock.Instant) throws(SocketError) {
        guard let stallSeconds, ContinuousClock.now - progress > .seconds(stallSeconds) else { return }
        throw SocketError(operation: "write (TLS)",
                          reason: "the peer has not read for \(Int(stallSeconds)) s (stallSeconds)")
    }

    private init(ssl: OpaquePointer, fd: Int32, peerIdentity: PeerIdentity) {
        self.ssl = ssl
        self.fd = fd
        self.peerIdentity = peerIdentity
    }

    /// Runs the handshake on the connected socket `fd` as `context`'s role, within `context.handshakeSeconds`.
    /// On failure the descriptor is left open (the caller closes it).
    /// - Throws: ``TLSError`` saying why (timeout, verification failure with OpenSSL's reason, wrong identity).
    static func handshake(_ fd: Int32, context: TLSContext, peer: String) throws(TLSError) -> TLSStream {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        guard let ssl = SSL_new(context.context), fednoise_ssl_set_buffered_fd(ssl, fd) == 1 else {
            throw TLSError("cannot start TLS with \(peer): \(openSSLErrors())")
        }
        var ok = false
        defer { if !ok { SSL_free(ssl) } }
        if context.role == .hub { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
        let deadline = ContinuousClock.now + .seconds(context.handshakeSeconds)
        while true {
            ERR_clear_error()
            let r = SSL_do_handshake(ssl)
            if r == 1 { break }
            let code = SSL_get_error(ssl, r)
            guard code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE else {
                let verify = SSL_get_verify_result(ssl)
                let why = verify != X509_V_OK ? String(cString: X509_verify_cert_error_string(verify))
                    : code == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 ? "the connection closed" : openSSLErrors()
                throw TLSError("the TLS handshake with \(peer) failed: \(why)")
            }
            let left = deadline - ContinuousClock.now
            let milliseconds = left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000
            let ms = Int32(min(max(0, milliseconds), 250))
            if ms <= 0 {
                throw TLSError("\(peer) did not complete the TLS handshake within \(context.handshakeSeconds) s")
            }
            _ = wait(fd, code == SSL_ERROR_WANT_READ ? Int16(POLLIN) : Int16(POLLOUT), milliseconds: ms)
        }
        guard let certificate = SSL_get1_peer_certificate(ssl) else {
            throw TLSError("\(peer) presented no certificate")
        }
        defer { X509_free(certificate) }
        guard let name = PEMFile.commonName(certificate), let identity = PeerIdentity(name) else {
            throw TLSError("the certificate of \(peer) names no federation identity")
        }
        if context.role == .link && !identity.isHub {
            throw TLSError("\(peer) is not the federation's hub: its certificate names '\(name)', not 'hub'")
        }
        ok = true
        return TLSStream(ssl: ssl, fd: fd, peerIdentity: identity)
    }

    /// Waits until `fd` has `events` (or hangs up), at most `milliseconds`.
    @discardableResult
    private static func wait(_ fd: Int32, _ events: Int16, milliseconds: Int32) -> Int32 {
        var entry = pollfd(fd: fd, events: events, revents: 0)
        return poll(&entry, 1, milliseconds)
    }

    /// One non-blocking `SSL_*` call under the lock: its result, `SSL_get_error`'s code, and the error in words.
    private func call(_ body: (OpaquePointer) -> Int32) -> (code: Int32, detail: String) {
        lock.lock()
        defer { lock.unlock() }
        if ERR_peek_error() != 0 { ERR_clear_error() }  // SSL_get_error needs it empty; clearing costs per record
        errno = 0
        let r = body(ssl)
        if r == 1 { return (SSL_ERROR_NONE, "") }
        let code = SSL_get_error(ssl, r)
        let saved = errno
        let detail = code == SSL_ERROR_SYSCALL && ERR_peek_error() == 0
            ? (saved == 0 ? "the connection closed" : POSIXSocket.errorText(saved)) : openSSLErrors()
        return (code, detail)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            var n = 0
            let (code, detail) = call { SSL_read_ex($0, buffer.baseAddress, buffer.count, &n) }
            switch code {
            case SSL_ERROR_NONE: return n
            case SSL_ERROR_ZERO_RETURN: return 0
            case SSL_ERROR_WANT_READ: Self.wait(fd, Int16(POLLIN), milliseconds: 250)
            case SSL_ERROR_WANT_WRITE: Self.wait(fd, Int16(POLLOUT), milliseconds: 250)
            default: throw SocketError(operation: "read (TLS)", reason: detail)
            }
        }
    }

    /// Writes the frame's header and payload from their own storage, the header sharing the first record with the
    /// payload's start (so records are as full as if they were one buffer), then flushes.
    func write(_ frame: OutgoingFrame) throws(SocketError) {
        let failure = frame.header.withUnsafeBytes { header in
            frame.payload.withUnsafeBytes { payload -> SocketError? in
                if payload.isEmpty || header.count >= Self.record { return writeAll(header) ?? writeAll(payload) }
                let head = min(payload.count, Self.record - header.count)
                let first = UnsafeMutableRawBufferPointer(start: scratch, count: header.count + head)
                first.copyMemory(from: header)
                UnsafeMutableRawBufferPointer(rebasing: first[header.count...])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: payload[..<head]))
                return writeAll(UnsafeRawBufferPointer(first))
                    ?? writeAll(UnsafeRawBufferPointer(rebasing: payload[head...]))
            }
        }
        if let failure { throw failure }
        try flush()
    }

    /// The largest TLS record's plaintext: the header and the start of the payload are gathered into one.
    private static let record = 16_384
    /// Where the writer gathers a frame's header with the start of its payload (only the writer thread uses it).
    private let scratch = UnsafeMutableRawPointer.allocate(byteCount: record, alignment: 16)

    /// Writes every byte of `raw` through the session (into its write buffer); the error if it fails.
    private func writeAll(_ raw: UnsafeRawBufferPointer) -> SocketError? {
        var done = 0
        var progress = ContinuousClock.now
        while done < raw.count {
            var n = 0
            let (code, detail) = call { SSL_write_ex($0, raw.baseAddress! + done, raw.count - done, &n) }
            switch code {
            case SSL_ERROR_NONE: done += n; progress = .now
            case SSL_ERROR_WANT_WRITE: Self.wait(fd, Int16(POLLOUT), milliseconds: 250)
            case SSL_ERROR_WANT_READ: Self.wait(fd, Int16(POLLIN), milliseconds: 250)
            default: return SocketError(operation: "write (TLS)", reason: detail)
            }
            do throws(SocketError) { try checkStall(since: progress) } catch { return error }
        }
        return nil
    }

    /// Writes out the session's write buffer (whole records; see `fednoise_ssl_set_buffered_fd`).
    private func flush() throws(SocketError) {
        let start = ContinuousClock.now
        while true {
            lock.lock()
            if ERR_peek_error() != 0 { ERR_clear_error() }
            errno = 0
            let done = fednoise_ssl_flush(ssl) == 1
            let retry = !done && fednoise_ssl_flush_should_retry(ssl) != 0
            let saved = errno
            lock.unlock()
            if done { return }
            guard retry else {
                throw SocketError(operation: "write (TLS)", reason: saved == 0 ? "the connection closed"
                                  : POSIXSocket.errorText(saved))
            }
            Self.wait(fd, Int16(POLLOUT), milliseconds: 250)
            try checkStall(since: start)  // a 256 kB buffer that does not drain within the limit
        }
    }

    /// Gracefully, sends TLS's close_notify first (best effort: the socket may be full), then shuts the socket.
    func shutdown(writeOnly: Bool) {
        if writeOnly {
            _ = call { ssl in
                _ = SSL_shutdown(ssl)
                return fednoise_ssl_flush(ssl)
            }
        }
        POSIXSocket.shutdown(fd, writeOnly: writeOnly)
    }

    func close() {
        lock.lock()
        SSL_free(ssl)
        lock.unlock()
        POSIXSocket.close(fd)
    }

    deinit { scratch.deallocate() }
}
