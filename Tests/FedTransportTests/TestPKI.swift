// TestPKI: one CA per test process, certificates for the hub and for links of any identity, in a private directory.
import FedTransport
import Foundation
import Synchronization

/// A test federation's CA in a temporary directory (removed by nobody: it is small, under the system's temp dir).
final class TestPKI: Sendable {
    static let shared = try! TestPKI()

    let directory: URL
    let authority: CertificateAuthority
    /// The hub's files (for a hub context with other settings than `hub`'s).
    let hubFiles: TLSFiles
    let hub: TLSContext
    private let issued = Mutex<[String: TLSFiles]>([:])

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("fednoise-pki-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        authority = try CertificateAuthority(days: 1)
        try authority.pem.certificate.write(to: directory.appendingPathComponent("ca.pem"), atomically: true,
                                            encoding: .utf8)
        hubFiles = try Self.write(authority.issue("hub", days: 1), "hub", in: directory,
                                  ca: directory.appendingPathComponent("ca.pem").path)
        hub = try TLSContext(.hub, files: hubFiles, handshakeSeconds: 2)
    }

    /// Writes `pair` as `stem.pem` and `stem-key.pem` in `directory`.
    static func write(_ pair: PEMPair, _ stem: String, in directory: URL, ca: String) throws -> TLSFiles {
        let certificate = directory.appendingPathComponent("\(stem).pem"), key = directory.appendingPathComponent("\(stem)-key.pem")
        try pair.certificate.write(to: certificate, atomically: true, encoding: .utf8)
        try pair.key.write(to: key, atomically: true, encoding: .utf8)
        return TLSFiles(authority: ca, certificate: certificate.path, key: key.path)
    }

    /// The files of a link whose certificate names `identity` (issued once per identity, under the lock: two tests
    /// asking at once must not write the same files).
    func files(_ identity: String) throws -> TLSFiles {
        try issued.withLock { issued in
            if let files = issued[identity] { return files }
            let stem = "link-" + identity.unicodeScalars
                .map { $0.properties.isAlphabetic || ("0"..."9").contains($0) ? String($0) : "_" }.joined()
            let files = try Self.write(authority.issue(identity, days: 1), stem, in: directory,
                                       ca: directory.appendingPathComponent("ca.pem").path)
            issued[identity] = files
            return files
        }
    }

    /// The hub's context and a link's for `identity`.
    func contexts(link identity: String) -> (hub: TLSContext, link: TLSContext) {
        (hub, try! TLSContext(.link, files: files(identity), handshakeSeconds: 2))
    }
}
