// RawPeer: a TCP client in the tests' hands (no protocol), to play a peer that misbehaves at the byte level.
import FedTransport
import Foundation
import Glibc

/// A connected raw socket to a hub: writes whatever it is told, reads only when asked. A small receive buffer (and
/// a send timeout, so a test never blocks for good) makes "a peer that does not read" show quickly.
final class RawPeer: @unchecked Sendable {
    let fd: Int32

    init?(_ address: SocketAddress, receiveBuffer: Int32 = 0, sendTimeoutSeconds: Int = 2) {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address.host, String(address.port), &hints, &list) == 0, let info = list else { return nil }
        defer { freeaddrinfo(info) }
        fd = socket(info.pointee.ai_family, info.pointee.ai_socktype, 0)
        guard fd >= 0 else { return nil }
        if receiveBuffer > 0 {
            var size = receiveBuffer
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var t = timeval(tv_sec: sendTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
        guard Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            Glibc.close(fd)
            return nil
        }
    }

    deinit { Glibc.close(fd) }

    /// Writes all of `bytes`; false once a write fails or times out.
    @discardableResult
    func write(_ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + done, $0.count - done, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// Whether the hub has closed the connection: reads (and drops) what arrives for up to `seconds`, true at EOF.
    func isClosedByPeer(within seconds: Int) -> Bool {
        var t = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    static func hello(_ session: String = "") throws -> [UInt8] {
        try SocketFrame.hello(version: SocketFrame.version, session: session).encoded()
    }
}
