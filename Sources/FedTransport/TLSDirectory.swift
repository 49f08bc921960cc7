// TLSDirectory: the files of a test federation's PKI in one directory: what `fednoise certs` writes and TLS loads.
import Foundation
import Glibc

/// A directory holding a federation's certificates, as `fednoise certs` writes them:
/// `ca.pem` (and `ca-key.pem`), `hub.pem` and `hub-key.pem`, and for each node hosting clients A..B
/// `clients-A-B.pem` and `clients-A-B-key.pem`. Keys are written with mode 0600, the directory with 0700.
public struct TLSDirectory: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    /// The files of the hub (`fednoise serve`).
    public var hub: TLSFiles { files("hub") }

    /// The files of the node hosting `clients` (`fednoise join --clients A..B`).
    public func node(_ clients: ClosedRange<Int>) -> TLSFiles {
        files("clients-\(clients.lowerBound)-\(clients.upperBound)")
    }

    private func files(_ stem: String) -> TLSFiles {
        TLSFiles(authority: url.appendingPathComponent("ca.pem").path,
                 certificate: url.appendingPathComponent("\(stem).pem").path,
                 key: url.appendingPathComponent("\(stem)-key.pem").path)
    }

    /// The client ranges of `nodes` nodes sharing `clients` clients as `fednoise run --processes` splits them.
    public static func ranges(clients: Int, nodes: Int) -> [ClosedRange<Int>] {
        (0..<nodes).map { ($0 * clients / nodes)...(($0 + 1) * clients / nodes - 1) }
    }

    /// Makes a new CA and certificates for the hub and for `nodes` nodes sharing `clients` clients, valid for
    /// `days`, and writes them here (creating the directory). Returns the paths written.
    /// - Precondition: `1 <= nodes <= clients`.
    @discardableResult
    public func create(clients: Int, nodes: Int, days: Int) throws -> [String] {
        precondition(nodes >= 1 && nodes <= clients && days >= 1)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let authority = try CertificateAuthority(days: days)
        var written: [String] = []
        func write(_ pair: PEMPair, _ stem: String) throws {
            for (text, name, mode) in [(pair.certificate, "\(stem).pem", mode_t(0o644)),
                                       (pair.key, "\(stem)-key.pem", mode_t(0o600))] {
                let path = url.appendingPathComponent(name).path
                try Self.write(text, to: path, mode: mode)
                written.append(path)
            }
        }
        try write(authority.pem, "ca")
        try write(try authority.issue("hub", days: days), "hub")
        for range in Self.ranges(clients: clients, nodes: nodes) {
            try write(try authority.issue(PeerIdentity.clients(range).name, days: days),
                      "clients-\(range.lowerBound)-\(range.upperBound)")
        }
        return written
    }

    /// Writes `text` to `path` with permissions `mode` from the start (a key is never readable by others).
    static func write(_ text: String, to path: String, mode: mode_t) throws {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw TLSError("cannot write \(path): \(POSIXSocket.errorText())") }
        defer { Glibc.close(fd) }
        guard fchmod(fd, mode) == 0 else {
            throw TLSError("cannot set the mode of \(path): \(POSIXSocket.errorText())")
        }
        let bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw TLSError("cannot write \(path): \(POSIXSocket.errorText())") }
            done += n
        }
    }
}
