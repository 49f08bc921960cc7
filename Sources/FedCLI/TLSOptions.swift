// TLSOptions: the TLS flags of serve, join and run --processes: --tls DIR, --ca/--cert/--key, or --insecure.
import FedTransport
import Foundation

/// The security flags a socket command was given, read before its configuration (which names the clients).
struct TLSOptions {
    var directory: String?
    var authority: String?
    var certificate: String?
    var key: String?
    var insecure: Bool

    static let help = """
      --tls DIR             TLS 1.3 with mutual authentication, with the certificates fednoise certs wrote in DIR
      --ca FILE --cert FILE --key FILE
                            the same with explicit PEM files (the CA, this process's certificate and its key)
      --insecure            plaintext TCP without authentication instead (loopback or a trusted network only)
    """

    /// TLS with the certificates `fednoise certs` wrote in `directory`.
    init(directory: String) {
        self.directory = directory
        insecure = false
    }

    /// Reads `--tls`, `--ca`, `--cert`, `--key` and `--insecure` (declare `insecure` among the boolean flags).
    init(_ args: inout Arguments) throws(UsageError) {
        directory = args.string("tls")
        authority = args.string("ca")
        certificate = args.string("cert")
        key = args.string("key")
        insecure = args.flag("insecure")
        let files = [authority, certificate, key].compactMap { $0 }
        if insecure && (directory != nil || !files.isEmpty) {
            throw UsageError("--insecure turns TLS off: do not combine it with --tls, --ca, --cert or --key")
        }
        if directory?.isEmpty == true { throw UsageError("--tls needs the folder fednoise certs wrote") }
        if directory == nil && !files.isEmpty && files.count < 3 {
            throw UsageError("--ca, --cert and --key go together (or give --tls DIR)")
        }
    }

    /// Whether a TLS flag was given.
    var usesTLS: Bool { directory != nil || authority != nil }

    /// Fails unless the connection is secured or plaintext was asked for explicitly.
    func requireChoice() throws(UsageError) {
        guard usesTLS || insecure else {
            throw UsageError("give --tls DIR (certificates from fednoise certs) or --ca/--cert/--key for TLS, or "
                             + "--insecure for plaintext TCP without authentication (loopback or a trusted network)")
        }
    }

    /// The hub's TLS context (`serve`), or nil with --insecure.
    func hubContext() throws(UsageError) -> TLSContext? {
        guard usesTLS else { return nil }
        return try load(.hub, files: files(default: directory.map { TLSDirectory(URL(fileURLWithPath: $0)).hub }))
    }

    /// The TLS context of a node hosting `clients` (`join`), or nil with --insecure. Its certificate must allow
    /// every one of them.
    func nodeContext(clients: Range<Int>) throws(UsageError) -> TLSContext? {
        guard usesTLS, !clients.isEmpty else { return nil }
        let range = clients.lowerBound...(clients.upperBound - 1)
        let files = files(default: directory.map { TLSDirectory(URL(fileURLWithPath: $0)).node(range) })
        if authority == nil, !FileManager.default.fileExists(atPath: files.certificate) {
            throw UsageError("--tls \(directory!): no certificate for clients \(range.lowerBound)..\(range.upperBound) "
                             + "(expected \(files.certificate); fednoise certs --nodes K splits the clients as "
                             + "run --processes does, or give --ca/--cert/--key)")
        }
        let context = try load(.link, files: files)
        if let outside = clients.first(where: { !context.identity.allows(.client($0)) }) {
            throw UsageError("the certificate \(files.certificate) names '\(context.identity)', which does not allow "
                             + "client \(outside) (--clients \(range.lowerBound)..\(range.upperBound))")
        }
        return context
    }

    private func files(default fromDirectory: TLSFiles?) -> TLSFiles {
        if let authority, let certificate, let key {
            return TLSFiles(authority: authority, certificate: certificate, key: key)
        }
        return fromDirectory!
    }

    private func load(_ role: TLSContext.Role, files: TLSFiles) throws(UsageError) -> TLSContext {
        do {
            return try TLSContext(role, files: files)
        } catch {
            throw UsageError("TLS (\(usesDirectory ? "--tls" : "--ca/--cert/--key")): \(error)")
        }
    }

    private var usesDirectory: Bool { authority == nil }
}
