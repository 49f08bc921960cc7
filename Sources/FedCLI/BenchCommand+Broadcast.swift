// BenchCommand+Broadcast: `fednoise bench --broadcast`, a model-sized round start from a SocketHub to N clients.
import FedNN
import FedRuntime
import FedTensor
import FedTransport
import Foundation
import Synchronization

/// One run of the broadcast benchmark: a ``SocketHub`` and `links` ``SocketLink``s in this process over loopback
/// (TLS 1.3 with mutual authentication under a throwaway CA, or plaintext), `clients` clients split over the links
/// as `fednoise run --processes` splits them, and a ``RoundStart`` of `floats` weights broadcast `repeats` times
/// with ``SocketHub/broadcast(_:from:to:)``, the parameter server's path, with new weights each round as a real
/// federation has. Every client's copy of the untimed first broadcast and of the last one is checked bit for bit.
public struct BroadcastBench: Sendable {
    public var clients: Int
    public var links: Int
    public var floats: Int
    public var repeats: Int
    public var tls: Bool

    public init(clients: Int, links: Int, floats: Int, repeats: Int, tls: Bool) {
        precondition(clients >= 1 && links >= 1 && links <= clients && floats >= 0 && repeats >= 1)
        self.clients = clients
        self.links = links
        self.floats = floats
        self.repeats = repeats
        self.tls = tls
    }

    /// What a run measured.
    public struct Report: Sendable {
        /// Bytes of one encoded round start (what each client receives, frame headers aside).
        public var messageBytes: Int
        /// Wall seconds of each timed broadcast, from the call until every client's mailbox holds the message.
        public var seconds: [Double]
        /// CPU seconds this process used during each timed broadcast (all threads: the hub's and the links'), a
        /// figure that a busy machine disturbs less than the wall time.
        public var cpuSeconds: [Double]
        /// The TLS cipher suite the links negotiated (nil: plaintext).
        public var cipherSuite: String?
        /// Clients whose untimed first message and last message each had exactly the weights sent (bit for bit).
        public var exactCopies: Int
        /// Messages each client received (`repeats + 1` when nothing was lost).
        public var deliveries: [Int]
        /// Distinct arrays holding the clients' copies of the last broadcast: a link shares one among its clients
        /// when their copies arrive byte for byte the same (``SocketFrameDecoder``), so as few as one per link.
        public var lastCopyArrays: Int

        /// Aggregate GB/s of each timed broadcast: clients × message bytes / seconds.
        public func gigabytesPerSecond(clients: Int) -> [Double] {
            seconds.map { Double(clients * messageBytes) / $0 / 1e9 }
        }
    }

    /// The weights broadcast in `round`: scattered 32-bit patterns (NaNs with payloads, subnormals among them),
    /// different each round, led by the infinities, −0 and a signalling NaN, so that a copy is checked bit for bit.
    public static func weights(count: Int, round: Int = 0) -> [Float] {
        let special: [Float] = [.infinity, -.infinity, -0.0, Float(bitPattern: 0x7FA0_0001), .leastNonzeroMagnitude]
        let shift = UInt64(round) &* 0x9E37_79B9
        return (0..<count).map { i in
            i < special.count ? special[i]
                : Float(bitPattern: UInt32(truncatingIfNeeded: (UInt64(i) &+ shift) &* 2_654_435_761))
        }
    }

    /// Runs the benchmark; `progress` hears each timed repeat's seconds.
    /// - Throws: a socket or TLS error; ``RunFailure`` if a client is unreachable or got other bits.
    public func run(progress: (Int, Double) -> Void = { _, _ in }) async throws -> Report {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("fednoise-bench-\(UInt64.random(in: 0...UInt64.max))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let pki = TLSDirectory(folder)
        if tls { try pki.create(clients: clients, nodes: links, days: 1) }
        let hub = try SocketHub<FederationMessage>(listeningOn: SocketAddress(host: "127.0.0.1", port: 0),
                                                   tls: tls ? TLSContext(.hub, files: pki.hub) : nil)
        let ranges = TLSDirectory.ranges(clients: clients, nodes: links)
        let nodes = try ranges.map { range in
            try SocketLink<FederationMessage>(connectingTo: hub.address,
                                              tls: tls ? TLSContext(.link, files: pki.node(range)) : nil)
        }
        let first = Self.weights(count: floats)
        let received = Tally(clients: clients)
        var consumers: [Task<Void, Never>] = []
        for (node, range) in zip(nodes, ranges) {
            for c in range {
                let mailbox = try await node.register(.client(c))
                consumers.append(Task {
                    for await envelope in mailbox {
                        guard case .roundStart(let start) = envelope.message else { continue }
                        // The untimed first message is compared now; the last is kept and compared after the timed
                        // ones (a compare would slow them).
                        let exact = start.round == 0 && Self.same(start.weights, first)
                        received.counts.withLock { r in
                            r.deliveries[c] += 1
                            if exact { r.firstExact[c] = true }
                            r.last[c] = start.weights
                        }
                    }
                })
            }
        }
        let receivers = (0..<clients).map { EndpointID.client($0) }
        let participants = Array(0..<clients)
        var seconds: [Double] = []
        var cpuSeconds: [Double] = []
        var messageBytes = 0
        do {
            var weights = first
            for round in 0...repeats {
                if round > 0 { weights = Self.weights(count: floats, round: round) }
                let start = RoundStart(round: round, weights: weights, sampledSamples: clients,
                                       participants: participants)
                if round == 0 { messageBytes = try WireFormat.encode(FederationMessage.roundStart(start)).count }
                let cpu0 = Self.processCPUSeconds()
                let t0 = ContinuousClock.now
                let closed = try await hub.broadcast(.roundStart(start), from: .parameterServer, to: receivers)
                let elapsed = (ContinuousClock.now - t0) / .seconds(1)
                let cpu = Self.processCPUSeconds() - cpu0
                guard closed.isEmpty else {
                    throw RunFailure(description: "broadcast: clients \(closed.map(\.description).joined(separator: ", ")) are "
                                     + "closed")
                }
                if round > 0 {
                    seconds.append(elapsed)
                    cpuSeconds.append(cpu)
                    progress(round, elapsed)
                }
            }
        } catch {
            await hub.shutdown()
            throw error
        }
        let cipher = nodes.first?.cipherSuite
        await hub.shutdown()
        for consumer in consumers { await consumer.value }
        withExtendedLifetime(nodes) {}
        let last = Self.weights(count: floats, round: repeats)
        let (exact, deliveries, arrays) = received.counts.withLock { r in
            (r.last.indices.filter { c in r.firstExact[c] && r.last[c].map { Self.same($0, last) } == true }.count,
             r.deliveries, Set(r.last.compactMap { $0?.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) } }).count)
        }
        return Report(messageBytes: messageBytes, seconds: seconds, cpuSeconds: cpuSeconds, cipherSuite: cipher,
                      exactCopies: exact, deliveries: deliveries, lastCopyArrays: arrays)
    }

    /// Whether `a` and `b` hold the same bits.
    static func same(_ a: [Float], _ b: [Float]) -> Bool {
        a.withUnsafeBytes { a in
            b.withUnsafeBytes { b in
                a.count == b.count && (a.isEmpty || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
            }
        }
    }

    /// User and system CPU seconds of this process so far.
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}

/// What the clients of a ``BroadcastBench`` received: exact first copies, messages and the last weights per client.
private final class Tally: Sendable {
    let counts: Mutex<(firstExact: [Bool], deliveries: [Int], last: [[Float]?])>
    init(clients: Int) {
        counts = Mutex(([Bool](repeating: false, count: clients), [Int](repeating: 0, count: clients),
                        [[Float]?](repeating: nil, count: clients)))
    }
}

extension BenchCommand {
    /// `fednoise bench --broadcast`: reads its options from `args`, runs ``BroadcastBench``, prints GB/s per repeat
    /// and the median, writes the JSON rows.
    static func runBroadcast(_ args: inout Arguments) async throws {
        let plaintext = args.flag("plaintext")
        let tlsFlag = args.flag("tls")
        let clients = try args.int("clients", in: 1...256) ?? 30
        let links = try args.int("links", in: 1...64) ?? 2
        let megabytes = try args.double("megabytes", in: 0.000_004...512)
        let repeats = try args.int("repeats", in: 1...100) ?? 5
        let json = args.string("json")
        try args.finish()
        if plaintext && tlsFlag { throw UsageError("--tls and --plaintext exclude each other: give one") }
        guard links <= clients else {
            throw UsageError("--links (\(links)) must not exceed --clients (\(clients)): each link hosts clients")
        }
        let cnn = try ModelKind.cnn.network(inputShape: [28, 28, 1], classes: 10).parameterCount
        let floats = megabytes.map { Int(($0 * 1e6 / 4).rounded()) } ?? cnn
        if Double(clients) * Double(floats) * 4 > 4e9 {
            throw UsageError("--clients × --megabytes is \(fixed(Double(clients * floats) * 4e-6, 0)) MB per "
                             + "broadcast; at most 4000 MB")
        }
        let jsonPath = json ?? "runs/bench-broadcast.json"
        try OutputPlace.prepareFile(jsonPath, origin: json == nil ? "the results file" : "--json")
        let bench = BroadcastBench(clients: clients, links: links, floats: floats, repeats: repeats, tls: !plaintext)
        let cpu = HostCPU.current
        say("CPU: \(cpu.summary)")
        say("load average (1 min): \(loadAverage()) on \(ProcessInfo.processInfo.activeProcessorCount) cores")
        say("broadcast of a \(fixed(Double(floats) * 4e-6, 2)) MB round start (\(floats.formatted()) weights"
              + "\(megabytes == nil ? ", the McMahan CNN" : "")) to \(clients) clients on \(links) link(s) over "
              + "loopback \(plaintext ? "plaintext TCP" : "TLS 1.3"), \(repeats) timed repeat(s) after one untimed "
              + "broadcast, new weights each time…")
        let report = try await bench.run { round, seconds in say("  repeat \(round): \(fixed(seconds, 4)) s") }
        guard report.exactCopies == clients, report.deliveries.allSatisfy({ $0 == repeats + 1 }) else {
            throw RunFailure(description: "broadcast: \(report.exactCopies) of \(clients) clients received the exact weights; "
                             + "deliveries per client \(report.deliveries)")
        }
        let rates = report.gigabytesPerSecond(clients: clients)
        let gigabytes = Double(clients * report.messageBytes) / 1e9
        let perCPU = report.cpuSeconds.map { gigabytes / $0 }.sorted()[rates.count / 2]
        let median = rates.sorted()[rates.count / 2]
        let mode = plaintext ? "plaintext" : "tls"
        if let suite = report.cipherSuite { say("cipher suite: \(suite)") }
        say("checked: all \(clients) clients received the exact \(report.messageBytes.formatted()) bytes of the first "
              + "and of the last broadcast; the last one's copies are in \(report.lastCopyArrays) array(s) on "
              + "\(links) link(s)")
        for (i, rate) in rates.enumerated() {
            say("repeat \(i + 1): \(fixed(report.seconds[i], 4)) s  \(fixed(rate, 3)) GB/s   CPU "
                  + "\(fixed(report.cpuSeconds[i], 4)) s (\(fixed(gigabytes / report.cpuSeconds[i], 3)) GB per CPU second)")
        }
        say("median: \(fixed(median, 3)) GB/s aggregate (clients × message bytes / wall time, until every mailbox "
              + "holds it); \(fixed(perCPU, 3)) GB per CPU second of this process")
        let name = "broadcast \(mode) \(clients) clients \(links) links \(report.messageBytes) B"
        let threads = ProcessInfo.processInfo.activeProcessorCount
        var rows = rates.enumerated().map { i, rate in
            Row(benchmark: "\(name) repeat \(i + 1)", threads: threads, value: rate, unit: "GB/s")
        }
        rows.append(Row(benchmark: "\(name) median", threads: threads, value: median, unit: "GB/s"))
        rows.append(Row(benchmark: "\(name) median per CPU second", threads: threads, value: perCPU,
                        unit: "GB/CPU-s"))
        try writeRows(rows, to: jsonPath, cpu: cpu)
    }

    /// The 1-minute load average (`/proc/loadavg`), or "unknown".
    static func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init)
            ?? "unknown"
    }
}
