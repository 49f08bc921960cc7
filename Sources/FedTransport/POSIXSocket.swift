// POSIXSocket: TCP listen, accept, connect, read and write on Glibc file descriptors, with errors in words.
import Glibc

/// A `HOST:PORT` address (`127.0.0.1:7000`, `localhost:0`, `[::1]:7000`); port 0 asks the system for a free one.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`; nil for anything else (no colon, empty host, port outside 0...65535).
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            return nil
        }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A socket call failed.
public struct SocketError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was being done (`"connect to 127.0.0.1:7000"`).
    public var operation: String
    /// Why, in words (`strerror`, or the resolver's message).
    public var reason: String

    public var description: String { "cannot \(operation): \(reason)" }
}

/// Thin wrappers over the POSIX calls; every function either succeeds or throws a ``SocketError``.
enum POSIXSocket {
    static func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    /// Resolves `address` for a stream socket (`passive` for listening).
    private static func resolve(_ address: SocketAddress, passive: Bool,
                                _ body: (UnsafeMutablePointer<addrinfo>) -> Int32?) throws(SocketError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        if passive { hints.ai_flags = AI_PASSIVE }
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(address.host, String(address.port), &hints, &list)
        guard status == 0, let first = list else {
            throw SocketError(operation: "resolve \(address)", reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(first) }
        var lastError = errno
        var node: UnsafeMutablePointer<addrinfo>? = first
        while let n = node {
            if let fd = body(n) { return fd }
            lastError = errno
            node = n.pointee.ai_next
        }
        throw SocketError(operation: (passive ? "listen on " : "connect to ") + address.description,
                          reason: errorText(lastError))
    }

    private static func open(_ info: UnsafeMutablePointer<addrinfo>) -> Int32? {
        let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue),
                        info.pointee.ai_protocol)
        return fd >= 0 ? fd : nil
    }

    /// A listening socket on `address` and the port it got.
    static func listen(_ address: SocketAddress, backlog: Int32 = 128) throws(SocketError) -> (fd: Int32, port: Int) {
        let fd = try resolve(address, passive: true) { info in
            guard let fd = open(info) else { return nil }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            if bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, Glibc.listen(fd, backlog) == 0 {
                return fd
            }
            let saved = errno
            Glibc.close(fd)
            errno = saved
            return nil
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let port = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        } == 0 ? localPort(storage) : address.port
        return (fd, port)
    }

    private static func localPort(_ storage: sockaddr_storage) -> Int {
        var s = storage
        return withUnsafePointer(to: &s) { pointer in
            if Int32(storage.ss_family) == AF_INET6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                Int(UInt16(bigEndian: $0.pointee.sin_port))
            }
        }
    }

    /// A connected socket to `address` (TCP_NODELAY set: frames are written whole, never trickled).
    static func connect(_ address: SocketAddress) throws(SocketError) -> Int32 {
        let fd = try resolve(address, passive: false) { info in
            guard let fd = open(info) else { return nil }
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            let saved = errno
            Glibc.close(fd)
            errno = saved
            return nil
        }
        noDelay(fd)
        return fd
    }

    /// Waits for a connection.
    /// - Throws: ``SocketError`` once the listening socket is shut down or fails (EINVAL after a shutdown).
    static func accept(_ listener: Int32) throws(SocketError) -> (fd: Int32, peer: String) {
        while true {
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.accept(listener, $0, &length)
                }
            }
            if fd >= 0 {
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                noDelay(fd)
                return (fd, describe(storage))
            }
            if errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE {
                if errno == EMFILE || errno == ENFILE { usleep(10_000) }
                continue
            }
            throw SocketError(operation: "accept a connection", reason: errorText())
        }
    }

    private static func describe(_ storage: sockaddr_storage) -> String {
        var s = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let capacity = socklen_t(text.count)
        let family = Int32(storage.ss_family)
        let ok = withUnsafePointer(to: &s) { pointer -> Bool in
            if family == AF_INET6 {
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                    var addr = a.pointee.sin6_addr
                    return inet_ntop(AF_INET6, &addr, &text, capacity) != nil
                }
            }
            return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                var addr = a.pointee.sin_addr
                return inet_ntop(AF_INET, &addr, &text, capacity) != nil
            }
        }
        let host = ok ? String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        return SocketAddress(host: host, port: localPort(storage)).description
    }

    private static func noDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Writes every byte of `first` then `second` with `sendmsg` (one system call for both while the socket takes
    /// them; retrying short writes and EINTR); never raises SIGPIPE.
    static func writeAll(_ fd: Int32, _ first: UnsafeRawBufferPointer,
                         _ second: UnsafeRawBufferPointer) throws(SocketError) {
        var done = 0
        let total = first.count + second.count
        while done < total {
            let n = withUnsafeTemporaryAllocation(of: iovec.self, capacity: 2) { vectors -> Int in
                var count = 0
                for (part, skip) in [(first, done), (second, max(0, done - first.count))] where skip < part.count {
                    vectors[count] = iovec(iov_base: UnsafeMutableRawPointer(mutating: part.baseAddress! + skip),
                                           iov_len: part.count - skip)
                    count += 1
                }
                var message = msghdr()
                message.msg_iov = vectors.baseAddress
                message.msg_iovlen = count
                return sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {  // SO_SNDTIMEO passed with nothing written
                    throw SocketError(operation: "write", reason: "the peer read nothing within the stall limit")
                }
                throw SocketError(operation: "write", reason: errorText())
            }
            done += n
        }
    }

    /// Reads what is available into `buffer` (blocking); 0 at end of stream.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(SocketError) -> Int {
        while true {
            let n = Glibc.recv(fd, buffer.baseAddress, buffer.count, 0)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw SocketError(operation: "read", reason: errorText())
        }
    }

    /// A blocking write on `fd` that moves no byte for `seconds` fails (EAGAIN) instead of waiting forever.
    static func setSendTimeout(_ fd: Int32, seconds: Double) {
        let whole = min(seconds, 1e9)
        var t = timeval(tv_sec: Int(whole), tv_usec: Int((whole - whole.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
    }

    static func shutdown(_ fd: Int32, writeOnly: Bool) {
        _ = Glibc.shutdown(fd, Int32(writeOnly ? SHUT_WR : SHUT_RDWR))
    }
    static func close(_ fd: Int32) { _ = Glibc.close(fd) }
}
