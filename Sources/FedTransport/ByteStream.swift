// ByteStream: what a SocketConnection reads and writes: a plain TCP descriptor or a TLS session over one.
import Glibc

/// A connected byte stream owned by one ``SocketConnection``: one reader thread calls ``read(into:)``, one writer
/// thread calls ``write(_:)``, at the same time. ``shutdown(writeOnly:)`` may be called from any thread while the
/// stream is open (it wakes a blocked reader or writer); ``close()`` is called once, when neither thread uses it.
protocol ByteStream: AnyObject, Sendable {
    /// Reads what is available into `buffer`, blocking until something is; 0 at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int
    /// Writes every byte of `frame` (its header, then its payload, each from its own storage), blocking while the
    /// peer is slow.
    func write(_ frame: OutgoingFrame) throws(SocketError)
    /// Makes a write that moves no byte for `seconds` fail instead of waiting for ever (a peer that stopped reading).
    func limitStalledWrites(seconds: Double)
    /// Ends the write side (`writeOnly`, after what was written: the peer reads the end of the stream) or both.
    func shutdown(writeOnly: Bool)
    /// Releases the descriptor (and the TLS session).
    func close()
}

/// Plaintext TCP: the descriptor itself (`fednoise serve --insecure`).
final class PlainStream: ByteStream {
    let fd: Int32

    init(fd: Int32) { self.fd = fd }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int {
        try POSIXSocket.read(fd, into: buffer)
    }
    func write(_ frame: OutgoingFrame) throws(SocketError) {
        let failure = frame.header.withUnsafeBytes { header in
            frame.payload.withUnsafeBytes { payload -> SocketError? in
                do throws(SocketError) { try POSIXSocket.writeAll(fd, header, payload) } catch { return error }
                return nil
            }
        }
        if let failure { throw failure }
    }
    func limitStalledWrites(seconds: Double) { POSIXSocket.setSendTimeout(fd, seconds: seconds) }
    func shutdown(writeOnly: Bool) { POSIXSocket.shutdown(fd, writeOnly: writeOnly) }
    func close() { POSIXSocket.close(fd) }
}
