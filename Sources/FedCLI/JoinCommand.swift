// JoinCommand: `fednoise join`, one process hosting a range of a served federation's clients.
import FedRuntime
import FedTensor
import FedTransport
import Foundation

public enum JoinCommand {
    static let help = """
    USAGE: fednoise join <config.json> --connect HOST:PORT --clients A..B (--tls DIR | --ca F --cert F --key F |
                         --insecure) [--set key.path=value …] [--retry-seconds S] [--reconnect-attempts N]
                         [--threads N] [--quiet]

    Hosts clients A to B (inclusive) of the federation that fednoise serve runs at HOST:PORT: they load their data
    partitions from the same <config.json> (and --set), train locally on this machine's cores when sampled, and
    exchange their uploads and NISS shares through the server. Returns when the server ends the run (status 0), or
    fails naming the reason if the connection is lost for good first. A dropped connection is retried (waits of
    0.2, 0.4, … up to 5 s) and the clients registered again; what was in flight meanwhile is lost, and the server's
    deadline leaves these clients out of the rounds they missed. A process restarted with the same --clients
    rejoins the same way.

    The configuration must be the server's (its digest is checked: another one is refused), and so must
    FEDNOISE_SESSION_TOKEN in the environment if the server has one. With --tls DIR the connection is TLS 1.3 with
    mutual authentication: this process presents DIR/clients-A-B.pem (fednoise certs), whose name must allow every
    client A..B, and accepts only a server whose certificate, signed by DIR/ca.pem, names 'hub'. --insecure instead
    connects over plaintext TCP without authentication (trusted networks only).

    OPTIONS:
      --connect HOST:PORT   the server (fednoise serve --listen)
      --clients A..B        the clients this process hosts (0-based, inclusive; e.g. 0..49)
    \(TLSOptions.help)
      --set key.path=value  override one key of the config (as the server did)
      --retry-seconds S     keep trying to connect for S seconds while the server is not up (default 30)
      --reconnect-attempts N  connections tried after the connection drops mid-run, 0 to fail at once (default 5)
      --threads N           compute threads (default: all cores)
      --quiet               print only errors
      -h, --help            show this help
    """

    static func run(_ argv: [String]) async throws {
        var args = try Arguments(argv, booleanFlags: ["help", "quiet", "insecure"], repeatable: ["set"])
        if args.flag("help") {
            say(help)
            return
        }
        let overrides = args.strings("set")
        let quiet = args.flag("quiet")
        let security = try TLSOptions(&args)
        let server = try SocketCommandOptions.address(args.string("connect"), flag: "connect")
        let clientsText = args.string("clients")
        let retry = try args.double("retry-seconds", in: 0...3600) ?? 30
        let reconnects = try args.int("reconnect-attempts", in: 0...1000) ?? 5
        let threads = try args.int("threads", in: 1...ComputeThreads.maximum)
        try args.finish(maxPositionals: 1)
        try security.requireChoice()
        guard let path = args.positionals.first else { throw UsageError("give the server's config file") }
        let config = try RunCommand.loadConfiguration(path, overrides: overrides)
        let ids = try SocketCommandOptions.clients(clientsText, count: config.clients.count)
        let tls = try security.nodeContext(clients: ids)
        if let threads { ComputeThreads.count = threads }
        let (train, test) = try RunCommand.loadData(config.dataset)
        try Preflight.checkPartition(config, trainCount: train.sampleCount)
        let federation = try Federation(configuration: config, train: train, test: test)
        let link = try await connect(server, session: PrivateRunFiles.session(digest: config.resumeDigest), tls: tls,
                                     retrySeconds: retry, reconnect: SocketReconnect(attempts: reconnects),
                                     log: { if !quiet { writeError("fednoise join: \($0)\n") } })
        let tag = "[\(config.name)] clients \(ids.lowerBound)..\(ids.upperBound - 1)"
        if !quiet { say("\(tag): connected to \(server)") }
        do {
            try await federation.join(clients: ids, transport: link)
        } catch let error as SocketTransportError {
            // The session a link asks for is the configuration digest: a refusal means another configuration.
            throw RunFailure(description: "\(tag): \(error)"
                + (error.description.contains("session") ? " (the session is the configuration's digest: use the "
                    + "server's config file and --set values)" : ""))
        }
        if let why = link.disconnection {
            throw RunFailure(description: "\(tag): the connection to \(server) ended before the run did: \(why)")
        }
        if !quiet { say("\(tag): the server ended the run") }
    }

    /// A link to `server`, retrying a refused connection every 0.2 s for up to `retrySeconds`.
    static func connect(_ server: SocketAddress, session: String, tls: TLSContext?, retrySeconds: Double,
                        reconnect: SocketReconnect = SocketReconnect(),
                        log: @escaping @Sendable (String) -> Void = { _ in }) async throws
        -> SocketLink<FederationMessage>
    {
        let deadline = ContinuousClock.now + .seconds(retrySeconds)
        while true {
            do {
                return try SocketLink<FederationMessage>(connectingTo: server, session: session, tls: tls,
                                                         reconnect: reconnect, log: log)
            } catch let error as TLSError {
                throw RunFailure(description: "\(error)")
            } catch let error as SocketError where ContinuousClock.now < deadline {
                _ = error
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }
}
