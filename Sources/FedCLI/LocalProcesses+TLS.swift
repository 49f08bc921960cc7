// LocalProcesses+TLS: how `run --processes` secures its loopback hub: a throwaway CA, given certificates, or none.
import FedTransport
import Foundation

extension LocalProcesses {
    /// The security of a local multi-process run.
    enum Security: Sendable {
        /// TLS with a CA and certificates made for this run in a private temporary folder (the default).
        case throwaway
        /// TLS with the certificates `fednoise certs` wrote in this folder.
        case directory(String)
        /// Plaintext (`--insecure`).
        case insecure

        /// Reads `--tls DIR` and `--insecure` (only meaningful with `--processes`).
        init(_ args: inout Arguments, processes: Int?) throws(UsageError) {
            let directory = args.string("tls"), insecure = args.flag("insecure")
            if (directory != nil || insecure) && processes == nil {
                throw UsageError("--tls and --insecure apply to --processes N only")
            }
            if directory != nil && insecure {
                throw UsageError("--insecure turns TLS off: do not combine it with --tls")
            }
            if directory?.isEmpty == true { throw UsageError("--tls needs the folder fednoise certs wrote") }
            self = insecure ? .insecure : directory.map(Security.directory) ?? .throwaway
        }

        /// The hub's context, the children's TLS arguments, and what to do when the run ends.
        func prepare(clients: Int, hosts: Int) throws -> (TLSContext?, [String], @Sendable () -> Void) {
            switch self {
            case .insecure:
                return (nil, ["--insecure"], {})
            case .directory(let path):
                let folder = TLSDirectory(URL(fileURLWithPath: path))
                for range in TLSDirectory.ranges(clients: clients, nodes: hosts)
                where !FileManager.default.fileExists(atPath: folder.node(range).certificate) {
                    throw UsageError("--tls \(path): no certificate for clients "
                                     + "\(range.lowerBound)..\(range.upperBound) (expected \(folder.node(range).certificate)); make them with fednoise certs "
                                     + "--out \(path) --clients \(clients) --nodes \(hosts) --force")
                }
                return (try TLSOptions.hub(directory: path), ["--tls", path], {})
            case .throwaway:
                let folder = FileManager.default.temporaryDirectory
                    .appendingPathComponent("fednoise-tls-\(ProcessInfo.processInfo.processIdentifier)-"
                                            + "\(UInt64.random(in: 0...UInt64.max))")
                let remove: @Sendable () -> Void = { try? FileManager.default.removeItem(at: folder) }
                do {
                    try TLSDirectory(folder).create(clients: clients, nodes: hosts, days: 2)
                    return (try TLSOptions.hub(directory: folder.path), ["--tls", folder.path], remove)
                } catch {
                    remove()
                    throw error
                }
            }
        }
    }
}

extension TLSOptions {
    /// The hub's context from the certificates in `directory`.
    static func hub(directory: String) throws(UsageError) -> TLSContext {
        try TLSOptions(directory: directory).hubContext()!
    }
}
