// CertsCommand: `fednoise certs`, a CA and the certificates of a test federation's hub and nodes, made with libcrypto.
import FedTransport
import Foundation

public enum CertsCommand {
    static let help = """
    USAGE: fednoise certs --out DIR --clients N [--nodes K] [--days D] [--force]

    Makes a certificate authority for one federation and signs a certificate for its hub (fednoise serve) and for
    each of K nodes (fednoise join) hosting the N clients split as fednoise run --processes K+1 splits them: node i
    hosts clients i·N/K to (i+1)·N/K − 1. Keys are Ed25519, made with the system's OpenSSL (libcrypto); no openssl
    command is run. Each certificate names what its holder may be in its common name: 'hub', or 'clients:A..B';
    the hub refuses a node that registers a client outside its range or sends as an endpoint it did not register.

    Writes into DIR (created with mode 0700): ca.pem and ca-key.pem, hub.pem and hub-key.pem, and for each node
    clients-A-B.pem and clients-A-B-key.pem. Keys are written with mode 0600. Give the hub's machine ca.pem, hub.pem
    and hub-key.pem, each node's machine ca.pem and its own pair (never ca-key.pem), then:
      fednoise serve CONFIG --listen HOST:PORT --tls DIR
      fednoise join CONFIG --connect HOST:PORT --clients A..B --tls DIR

    OPTIONS:
      --out DIR      where to write (refused if DIR/ca.pem exists, unless --force)
      --clients N    the federation's clients (1…1000000)
      --nodes K      the processes hosting them (default 1, at most N and 1024)
      --days D       validity of every certificate (default 30, 1…3650)
      --force        overwrite the files of an existing CA in DIR
      -h, --help     show this help
    """

    static func run(_ argv: [String]) throws {
        var args = try Arguments(argv, booleanFlags: ["help", "force"])
        if args.flag("help") {
            say(help)
            return
        }
        let out = args.string("out"), force = args.flag("force")
        let clients = try args.int("clients", in: 1...1_000_000)
        let nodes = try args.int("nodes", in: 1...1024) ?? 1
        let days = try args.int("days", in: 1...3650) ?? 30
        try args.finish()
        guard let out, !out.isEmpty else { throw UsageError("--out DIR is required (where to write the certificates)") }
        guard let clients else { throw UsageError("--clients N is required (the federation's number of clients)") }
        guard nodes <= clients else { throw UsageError("--nodes \(nodes) is more than --clients \(clients)") }
        let directory = TLSDirectory(URL(fileURLWithPath: out))
        if !force && FileManager.default.fileExists(atPath: directory.hub.authority) {
            throw UsageError("--out \(out) already holds a CA (\(directory.hub.authority)); pass --force to replace it")
        }
        let written = try directory.create(clients: clients, nodes: nodes, days: days)
        say("wrote \(written.count) files into \(out) (CA, hub, \(nodes) node\(nodes == 1 ? "" : "s"); "
              + "valid \(days) days):")
        let ranges = TLSDirectory.ranges(clients: clients, nodes: nodes)
        for range in ranges.prefix(8) {
            say("  fednoise join CONFIG --connect HOST:PORT --clients \(range.lowerBound)..\(range.upperBound) "
                  + "--tls \(out)")
        }
        if ranges.count > 8 { say("  … and \(ranges.count - 8) more nodes (clients-A-B.pem in \(out))") }
    }
}
