// ServeCommand: `fednoise serve`, the parameter server and tracker of a federation whose clients join over TCP.
import FedRuntime
import FedTensor
import FedTransport
import Foundation

public enum ServeCommand {
    static let help = """
    USAGE: fednoise serve <config.json> --listen HOST:PORT (--tls DIR | --ca F --cert F --key F | --insecure)
                          [--set key.path=value …] [--wait-seconds S] [--threads N] [--quiet] [--allow-divergence]
                          [--independent-tracker]

    Runs the parameter server and the tracker of the federation in <config.json> and listens on HOST:PORT for the
    processes hosting its clients (fednoise join, on this machine or others). Once all K clients have joined (in
    any order, from any number of processes), it runs every round and writes rounds.csv, summary.json and rounds.svg
    into the config's output, as fednoise run does: with the same configuration the results are bit-identical to
    the in-process run. When the run ends the joined processes are told to stop.

    With --tls DIR (certificates from fednoise certs: DIR/ca.pem, DIR/hub.pem, DIR/hub-key.pem) every connection
    is TLS 1.3 with mutual authentication: a joining process must present a certificate signed by the same CA, it
    may register only the clients its certificate names (clients:A..B) and send only as endpoints it registered;
    anything else is refused and logged. A peer that does not complete its handshake within 10 s is dropped.
    --insecure instead accepts plaintext TCP without authentication: anyone who can reach HOST:PORT can join as a
    client, read the global model and NISS noise shares, and send uploads; use it on loopback or a trusted network
    only. NISS also assumes a tracker independent of the PS: here the tracker runs beside the PS and, by default,
    draws neighbour lists from the run's seed (so the model is bit-identical to fednoise run); with
    --independent-tracker its seed comes from the system's CSPRNG instead, never written anywhere.

    Every joining process must use the same configuration (the same file and --set): a process whose
    configuration digest differs is refused and logged. If FEDNOISE_SESSION_TOKEN is set in the environment, a joiner
    must have the same token in its environment too (fednoise run --processes sets a random one for its children).

    OPTIONS:
      --listen HOST:PORT    where to listen (e.g. 127.0.0.1:7000; port 0 picks a free port and prints it)
    \(TLSOptions.help)
      --set key.path=value  override one key of the config (joiners must pass the same)
      --wait-seconds S      give up if not every client has joined after S seconds (default 600, at most 86400)
      --threads N           compute threads for evaluating the model (default: all cores)
      --quiet               no per-round lines
      --allow-divergence    as for fednoise run
      --independent-tracker seed the tracker from the system's CSPRNG, not the run's seed (NISS neighbour lists
                            then differ from the in-process run's, and so does the model)
      -h, --help            show this help
    """

    static func run(_ argv: [String]) async throws {
        var args = try Arguments(argv,
                                 booleanFlags: ["help", "quiet", "allow-divergence", "insecure", "independent-tracker"],
                                 repeatable: ["set"])
        if args.flag("help") {
            say(help)
            return
        }
        let overrides = args.strings("set")
        let quiet = args.flag("quiet"), allowDivergence = args.flag("allow-divergence")
        // getrandom(2) through the standard library's system generator: the operator's config cannot predict it.
        var entropy = SystemRandomNumberGenerator()
        let trackerSeed = args.flag("independent-tracker") ? UInt64.random(in: 0...UInt64.max, using: &entropy) : nil
        let security = try TLSOptions(&args)
        let listen = try SocketCommandOptions.address(args.string("listen"), flag: "listen")
        let wait = try args.double("wait-seconds", in: 0.1...86_400) ?? 600
        let threads = try args.int("threads", in: 1...ComputeThreads.maximum)
        try args.finish(maxPositionals: 1)
        try security.requireChoice()
        guard let path = args.positionals.first else { throw UsageError("give a config file, e.g. config/smoke.json") }
        let (config, origins) = try RunCommand.loadConfigurationWithOrigins(path, overrides: overrides)
        if let threads { ComputeThreads.count = threads }
        let tls = try security.hubContext()
        let hub = try SocketHub<FederationMessage>(listeningOn: listen,
                                                   session: PrivateRunFiles.session(digest: config.resumeDigest),
                                                   tls: tls,
                                                   log: { writeError("fednoise serve: \($0)\n") })
        let k = config.clients.count
        let mode = tls == nil ? ("plaintext, --insecure", "--insecure")
            : ("TLS 1.3, mutual authentication", security.directory.map { "--tls \($0)" } ?? "--ca F --cert F --key F")
        say("[\(config.name)] listening on \(hub.address) (\(mode.0)) for \(k) clients: "
              + "fednoise join \(path) --connect \(hub.address) "
              + "--clients \(tls == nil ? "0..\(k - 1)" : "A..B") \(mode.1)")
        let watch = InterruptWatch(label: config.name)
        defer { watch.end() }
        let ids = (0..<k).map(EndpointID.client)
        do {
            _ = try await RunCommand.execute(config, quiet: quiet, allowDivergence: allowDivergence, stop: watch.stop) {
                federation, control in
                try await federation.serve(transport: hub, control: control, trackerSeed: trackerSeed) {
                    try await hub.waitForEndpoints(ids, timeoutSeconds: wait)
                }
            }
        } catch let error as ConfigurationError {
            throw UsageError("\(origins.source(of: error.keyPath)): \(error.description)")
        } catch var error as RunInterrupted {
            error.status = watch.status
            throw error
        }
    }
}

/// What `serve`, `join` and `run --processes` share: the address and client-range flags (TLS: TLSOptions).
enum SocketCommandOptions {
    static func address(_ text: String?, flag: String) throws(UsageError) -> SocketAddress {
        guard let text else { throw UsageError("--\(flag) HOST:PORT is required (e.g. --\(flag) 127.0.0.1:7000)") }
        guard let address = SocketAddress(text) else {
            throw UsageError("--\(flag) must be HOST:PORT with a port in 0…65535, got '\(text)'")
        }
        return address
    }

    /// `A..B` (inclusive) or `A`, within `0..<count`.
    static func clients(_ text: String?, count: Int) throws(UsageError) -> Range<Int> {
        guard let text else { throw UsageError("--clients A..B is required (e.g. --clients 0..\(count - 1))") }
        let parts = text.components(separatedBy: "..")
        guard parts.count <= 2, let a = Int(parts[0]), let b = Int(parts.last!), a <= b else {
            throw UsageError("--clients must be A..B with A ≤ B (e.g. 0..\(count - 1)), got '\(text)'")
        }
        guard a >= 0, b < count else {
            throw UsageError("--clients \(text) is outside the federation's clients 0..\(count - 1)")
        }
        return a..<(b + 1)
    }
}
