// RunCommand: `fednoise run`, a federation from a config file, with per-round progress and result files.
import FedData
import FedNN
import FedRuntime
import FedTensor
import Foundation

public enum RunCommand {
    static let help = """
    USAGE: fednoise run <config.json> [--set key.path=value …] [--threads N] [--quiet]

    Runs a federation (FedAvg, DP-FedAvg or NISS; the parameter server, tracker and every client are actors talking
    through an in-process transport) and writes rounds.csv, summary.json and rounds.svg into the config's output.

    The config holds: name, seed, rounds, clients {count, fraction, partition (iid|shards|dirichlet),
    shardsPerClient, dirichletAlpha}, model (cnn|mlp|logistic), initialization (uniform|he|glorot),
    dataset {kind, path, trainLimit, testLimit}, training {localEpochs, batchSize, learningRate, momentum},
    strategy {kind (fedAvg|dpFedAvg|niss), dp {clipTarget (update|parameters), clippingThreshold, epsilon, delta,
    sensitivity (clientLevel|clientLevelReplace|nbafl), composition (rdp|nbaflLinear), clientBudgets},
    niss {tau2, clientTau2, targetShares, minimumShares, unitNoiseVariance, encoding (seeded|dense),
    collusionFraction, dropout (redo|accept)}}, evaluateEvery, accuracyTargets (rounds-to-target in summary.json),
    deadlineSeconds, diagnostics, output. Missing keys keep their defaults; see config/*.json.

    OPTIONS:
      --set key.path=value   override one key, e.g. --set rounds=5 --set strategy.dp.epsilon=4
      --threads N            compute threads (default: all cores)
      --quiet                no per-round lines
      -h, --help             show this help
    """

    static let optionalKeys: Set<String> = ["deadlineSeconds", "dataset.path", "dataset.trainLimit",
                                            "dataset.testLimit", "strategy.niss.unitNoiseVariance"]

    /// Reads, overrides and validates a federation config; errors name the input (file or `--set`) and key path.
    public static func loadConfiguration(_ path: String?, overrides: [String]) throws -> FederationConfiguration {
        let (config, origins) = try ConfigurationFile.loadWithOrigins(
            FederationConfiguration.self, defaults: FederationConfiguration(), path: path, overrides: overrides,
            optionalKeys: optionalKeys)
        do {
            try config.validate()
        } catch {
            throw UsageError("\(origins.source(of: error.keyPath)): \(error.description)")
        }
        return config
    }

    static func run(_ argv: [String]) async throws {
        var args = try Arguments(argv, booleanFlags: ["help", "quiet"], repeatable: ["set"])
        if args.flag("help") {
            say(help)
            return
        }
        let overrides = args.strings("set")
        let quiet = args.flag("quiet")
        if let threads = try args.int("threads", in: 1...1024) { ComputeThreads.count = threads }
        try args.finish(maxPositionals: 1)
        guard let path = args.positionals.first else { throw UsageError("give a config file, e.g. config/smoke.json") }
        let config = try loadConfiguration(path, overrides: overrides)
        _ = try await execute(config, quiet: quiet)
    }

    /// Loads the data, runs the federation with progress lines, writes the result files, returns the summary.
    public static func execute(_ config: FederationConfiguration, quiet: Bool = false, label: String? = nil)
        async throws -> FederationSummary
    {
        let (train, test) = try loadData(config.dataset)
        let federation = try Federation(configuration: config, train: train, test: test)
        let tag = label ?? config.name
        say("[\(tag)] \(config.strategy.kind.rawValue), \(config.model.rawValue) "
              + "(\(federation.network.parameterCount.formatted()) parameters) on \(train.name): "
              + "K=\(config.clients.count) C=\(config.clients.fraction) (m=\(config.clientsPerRound)) "
              + "E=\(config.training.localEpochs) B=\(config.training.batchSize) η=\(config.training.learningRate) "
              + "\(config.clients.partition.rawValue), \(config.rounds) rounds")
        let line = ProgressLine()
        let observer = Task {
            var uploads = 0
            for await event in federation.events {
                switch event {
                case .roundStarted(let round, _):
                    uploads = 0
                    line.update("[\(tag)] round \(round)/\(config.rounds): training…")
                case .uploadReceived(let round, _):
                    uploads += 1
                    line.update("[\(tag)] round \(round)/\(config.rounds): \(uploads)/\(config.clientsPerRound) uploads")
                case .roundCompleted(let r):
                    line.clear()
                    if !quiet { say(describe(r, tag: tag, rounds: config.rounds)) }
                case .finished:
                    return
                }
            }
        }
        for w in federation.warnings { say("[\(tag)] warning: \(w)") }
        let summary = try await federation.run()
        await observer.value
        try ResultFiles.write(summary, configuration: config)
        let acc = summary.finalTestAccuracy.map { percent($0) } ?? "n/a"
        let best = summary.bestTestAccuracy.map { " (best \(percent($0.accuracy)) at round \($0.round))" } ?? ""
        say("[\(tag)] final test accuracy \(acc)\(best); privacy: \(summary.privacy); \(fixed(summary.seconds, 1)) s; "
              + "wrote \(config.output)/rounds.csv, summary.json, rounds.svg")
        return summary
    }

    static func describe(_ r: RoundReport, tag: String, rounds: Int) -> String {
        var s = "[\(tag)] round \(r.round)/\(rounds): train loss \(fixed(r.meanTrainLoss))"
        if let acc = r.testAccuracy, let loss = r.testLoss { s += " | test loss \(fixed(loss)) acc \(percent(acc))" }
        if !r.noiseStds.isEmpty && r.expectedNoiseVariance > 0 {
            let sigmas = r.noiseStds
            s += " | σ_k \(String(format: "%.3g", sigmas.min()!))…\(String(format: "%.3g", sigmas.max()!))"
            s += ", noise var \(String(format: "%.3g", r.expectedNoiseVariance)) expected"
            if let v = r.realisedNoiseVariance { s += " / \(String(format: "%.3g", v)) realised" }
        }
        if let n = r.niss {
            s += " | σ² \(String(format: "%.3g", n.unitNoiseVariance)), v \(n.shares.min() ?? 0)…\(n.shares.max() ?? 0), "
                + "shares \(bytes(n.shareBytes))"
            if let worst = n.collusion.map({ $0.residualVariance / $0.clientVariance }).min() {
                s += " | collusion: residual ≥ \(String(format: "%.2f", worst))·σ_k²"
            }
        }
        if r.attempts > 1 { s += " | redone \(r.attempts - 1)×" }
        if !r.dropped.isEmpty { s += " | left out: \(r.dropped.map(String.init).joined(separator: ", "))" }
        return s + " | \(fixed(r.seconds, 1)) s"
    }

    static func loadData(_ d: FederationConfiguration.DatasetSelection) throws -> (DatasetSamples, DatasetSamples) {
        try loadSamples(kind: d.kind, path: d.path, trainLimit: d.trainLimit, testLimit: d.testLimit)
    }
}

/// The train and test sets of `kind` from `path` (nil: the embedded MNIST subset), cut to the first
/// `trainLimit` / `testLimit` samples, as NHWC sample sources.
func loadSamples(kind: DatasetKind, path: String?, trainLimit: Int?, testLimit: Int?) throws
    -> (train: DatasetSamples, test: DatasetSamples)
{
    var (train, test) = try path.map {
        try DatasetLoader.load(kind: kind, directory: URL(fileURLWithPath: $0))
    } ?? DatasetLoader.embeddedMNIST()
    if let n = trainLimit, n < train.count { train = train.subset(indices: 0..<n) }
    if let n = testLimit, n < test.count { test = test.subset(indices: 0..<n) }
    return (DatasetSamples(train), DatasetSamples(test))
}

/// rounds.csv, summary.json and rounds.svg for a federation.
enum ResultFiles {
    static func write(_ summary: FederationSummary, configuration: FederationConfiguration) throws {
        let dir = URL(fileURLWithPath: configuration.output)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var csv = "round,sampled,dropped,train_loss,test_loss,test_accuracy,sigma_min,sigma_max,"
            + "expected_noise_variance,realised_noise_variance,seconds,weights_digest,attempts,"
            + "unit_noise_variance,shares_min,shares_max,share_bytes,dense_share_bytes,seeded_share_bytes,"
            + "distortion_variance,collusion_min_residual_over_sigma2\n"
        for r in summary.rounds {
            let n = r.niss
            let collusion = n?.collusion.map { $0.residualVariance / $0.clientVariance }.min()
            let fields: [String] = [
                "\(r.round)", "\(r.sampled.count)", "\(r.dropped.count)", "\(r.meanTrainLoss)",
                r.testLoss.map { "\($0)" } ?? "", r.testAccuracy.map { "\($0)" } ?? "",
                r.noiseStds.min().map { "\($0)" } ?? "", r.noiseStds.max().map { "\($0)" } ?? "",
                "\(r.expectedNoiseVariance)", r.realisedNoiseVariance.map { "\($0)" } ?? "", fixed(r.seconds, 3),
                r.weightsDigest, "\(r.attempts)", n.map { "\($0.unitNoiseVariance)" } ?? "",
                n?.shares.min().map { "\($0)" } ?? "", n?.shares.max().map { "\($0)" } ?? "",
                n.map { "\($0.shareBytes)" } ?? "", n.map { "\($0.denseShareBytes)" } ?? "",
                n.map { "\($0.seededShareBytes)" } ?? "", n?.distortionVariance.map { "\($0)" } ?? "",
                collusion.map { "\($0)" } ?? "",
            ]
            csv += fields.joined(separator: ",") + "\n"
        }
        try csv.write(to: dir.appendingPathComponent("rounds.csv"), atomically: true, encoding: .utf8)
        struct Accuracy: Encodable {
            var best: Double?
            var bestRound: Int?
            /// "0.99": the first evaluated round at or above 99% (null: never reached).
            var firstRoundReaching: [String: Int?]
        }
        struct Document: Encodable {
            var configuration: FederationConfiguration
            var accuracy: Accuracy
            var summary: FederationSummary
            var privacy: String
        }
        let best = summary.bestTestAccuracy
        let accuracySummary = Accuracy(
            best: best?.accuracy, bestRound: best?.round,
            firstRoundReaching: Dictionary(configuration.accuracyTargets.map {
                ("\($0)", summary.firstRound(reaching: $0))
            }, uniquingKeysWith: { first, _ in first }))
        let encoder = resultEncoder()
        try encoder.encode(Document(configuration: configuration, accuracy: accuracySummary, summary: summary,
                                    privacy: "\(summary.privacy)"))
            .write(to: dir.appendingPathComponent("summary.json"))
        let evaluated = summary.rounds.filter { $0.testAccuracy != nil }
        let accuracy = LinePlot(
            title: "\(configuration.name): test accuracy per round", xLabel: "round", yLabel: "test accuracy",
            series: [PlotSeries(name: "test accuracy", points: evaluated.map { (Double($0.round), $0.testAccuracy!) })])
        let loss = LinePlot(
            title: "\(configuration.name): loss per round", xLabel: "round", yLabel: "cross-entropy",
            series: [
                PlotSeries(name: "test loss", points: evaluated.map { (Double($0.round), $0.testLoss!) }),
                PlotSeries(name: "train loss", points: summary.rounds.map { (Double($0.round), $0.meanTrainLoss) }),
            ])
        try LinePlot.stacked([accuracy, loss]).write(to: dir.appendingPathComponent("rounds.svg"), atomically: true,
                                                      encoding: .utf8)
    }
}

/// A byte count for people: 812 B, 3.2 kB, 6.6 MB, 1.2 GB.
func bytes(_ n: Int) -> String {
    let x = Double(n)
    if x < 1_000 { return "\(n) B" }
    if x < 1e6 { return String(format: "%.1f kB", x / 1e3) }
    if x < 1e9 { return String(format: "%.1f MB", x / 1e6) }
    return String(format: "%.2f GB", x / 1e9)
}
