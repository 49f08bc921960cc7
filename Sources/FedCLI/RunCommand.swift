// RunCommand: `fednoise run`, a federation from a config file, with per-round progress and result files.
import FedData
import FedNN
import FedRuntime
import FedStrategy
import FedTensor
import Foundation

/// How ``RunCommand/execute`` runs the federation it built: in this process, or serving clients in others.
public typealias FederationRunner = @Sendable (Federation, RunControl) async throws -> FederationSummary

public enum RunCommand {

    static let optionalKeys: Set<String> = ["deadlineSeconds", "dataset.path", "dataset.trainLimit",
                                            "dataset.minorityClass",
                                            "dataset.testLimit", "strategy.niss.unitNoiseVariance",
                                            "strategy.dp.totalEpsilon", "training.dpsgd.noiseMultiplier",
                                            "training.dpsgd.targetEpsilon", "training.dpsgd.expectedBatchSize",
                                            "training.dpsgd.samplingRate", "noiseInfusion",
                                            "noiseInfusion.preset", "noiseInfusion.level", "noiseInfusion.mechanisms",
                                            "batchNorm"]

    /// Example entries of the lists whose default is empty, so their entries' keys and types are checked.
    nonisolated(unsafe) static let arrayElements: [String: Any] = [
        "strategy.dp.clientBudgets": ClientBudget(from: 0, to: 0, epsilon: 1, delta: 1e-5),
        "strategy.niss.clientTau2": ClientTau(from: 0, to: 0, tau2: 0),
    ]

    /// Reads, overrides and validates a federation config; errors name the input (file or `--set`) and key path.
    public static func loadConfiguration(_ path: String?, overrides: [String]) throws -> FederationConfiguration {
        try loadConfigurationWithOrigins(path, overrides: overrides).0
    }

    /// `loadConfiguration`, also returning which input set each key, to blame later (data-dependent) errors right.
    static func loadConfigurationWithOrigins(_ path: String?, overrides: [String]) throws
        -> (FederationConfiguration, ConfigurationFile.Origins)
    {
        let (config, origins) = try ConfigurationFile.loadWithOrigins(
            FederationConfiguration.self, defaults: FederationConfiguration(), path: path, overrides: overrides,
            optionalKeys: optionalKeys, arrayElements: arrayElements)
        do {
            try config.validate()
        } catch {
            throw UsageError("\(origins.source(of: error.keyPath)): \(error.description)")
        }
        return (config, origins)
    }

    static func run(_ argv: [String]) async throws {
        var args = try Arguments(argv, booleanFlags: ["help", "quiet", "allow-divergence", "insecure"],
                                 repeatable: ["set"])
        let resume = args.string("resume")
        if args.flag("help") {
            say(help)
            return
        }
        let overrides = args.strings("set")
        let quiet = args.flag("quiet")
        let allowDivergence = args.flag("allow-divergence")
        let threads = try args.int("threads", in: 1...ComputeThreads.maximum)
        let processes = try args.int("processes", in: 2...64)
        let transportName = args.string("transport")
        let security = try LocalProcesses.Security(&args, processes: processes)
        let rankTimeout = try args.double("rank-timeout", in: 2...86_400)
        try args.finish(maxPositionals: 1)
        guard transportName == nil || transportName == "mpi" || transportName == "in-process" else {
            throw UsageError("--transport must be in-process or mpi, got '\(transportName!)'")
        }
        let overMPI = transportName == "mpi"
        if rankTimeout != nil && !overMPI { throw UsageError("--rank-timeout applies only with --transport mpi") }
        if overMPI && (processes != nil || resume != nil) {
            throw UsageError("--transport mpi cannot be combined with --processes or --resume")
        }
        var (config, origins): (FederationConfiguration, ConfigurationFile.Origins?)
        if let resume {
            guard !resume.isEmpty else { throw UsageError("--resume needs the folder of the interrupted run") }
            if let path = args.positionals.first {
                (config, origins) = try loadConfigurationWithOrigins(path, overrides: overrides)
            } else {
                guard overrides.isEmpty else {
                    throw UsageError("--resume DIR --set …: give the config file too (the checkpoint's own "
                                     + "configuration is used as is)")
                }
                (config, origins) = (try CheckpointFile.read(folder: resume).configuration, nil)
            }
            config.output = resume
        } else {
            guard let path = args.positionals.first else {
                throw UsageError("give a config file, e.g. config/smoke.json (or --resume DIR)")
            }
            (config, origins) = try loadConfigurationWithOrigins(path, overrides: overrides)
        }
        if let threads { ComputeThreads.count = threads }
        let watch = InterruptWatch(label: config.name)
        defer { watch.end() }
        do {
            if overMPI {
                try await runOverMPI(config, quiet: quiet, allowDivergence: allowDivergence, interrupts: watch,
                                     rankTimeout: rankTimeout ?? 60)
                return
            }
            _ = try await execute(config, quiet: quiet, allowDivergence: allowDivergence, resume: resume != nil,
                                  stop: watch.stop, runner: processes.map { n -> FederationRunner in
                                      { try await LocalProcesses.run($0, control: $1, processes: n, security: security) }
                                  })
        } catch let error as ConfigurationError {
            throw UsageError("\(origins?.source(of: error.keyPath) ?? "the checkpoint"): \(error.description)")
        } catch var error as RunInterrupted {
            error.status = watch.status
            throw error
        }
    }

    /// Checks the output folder, loads the data, checks what needs it (NISS share counts, training memory), runs
    /// the federation with progress lines, writes the result files and returns the summary. A round in which no
    /// client answered is reported as such; a run in which none ever did, or whose loss or model became NaN or
    /// infinite (it stops there unless `allowDivergence` or `continueAfterDivergence`), fails after writing its
    /// files. rounds.csv grows row by row; checkpoints go to checkpoint.fnck. `resume` continues from the
    /// checkpoint in `config.output`; `stop` ends the run after the current round (it throws `RunInterrupted`).
    /// `roundWatch`, when given, follows the run's events (where it is, for a message if it is ended from outside).
    /// `runner` runs the federation built here (default: `run()`, everything in this process).
    public static func execute(_ config: FederationConfiguration, quiet: Bool = false, label: String? = nil,
                               allowDivergence: Bool = false, resume: Bool = false, stop: StopRequest? = nil,
                               runner: FederationRunner? = nil, roundWatch: RoundWatch? = nil)
        async throws -> FederationSummary
    {
        do {
            try OutputPlace.prepareFolder(config.output, origin: "the folder")
        } catch {
            throw ConfigurationError(keyPath: "output", message: error.description)
        }
        let checkpoint = try resume ? CheckpointFile.resumable(config) : nil
        if !resume { CheckpointFile.removeStaleResults(folder: config.output) }
        let (train, test) = try loadData(config.dataset)
        try Preflight.checkPartition(config, trainCount: train.sampleCount)
        let federation = try Federation(configuration: config, train: train, test: test)
        let samples = federation.partitions.map(\.count)
        try Preflight.checkShares(config, samples: samples)
        // The runtime sizes each training client's workspace by min(B, largest d_k): check what it allocates.
        try Preflight.checkMemory(network: federation.network,
                                  capacity: max(1, min(config.training.batchSize, samples.max() ?? 1)),
                                  concurrent: min(ComputeThreads.count, config.clientsPerRound),
                                  key: "training.batchSize", largestClient: samples.max())
        let tag = label ?? config.name
        say("[\(tag)] \(config.strategy.kind.rawValue), \(config.model.rawValue) "
              + "(\(federation.network.parameterCount.formatted()) parameters) on \(train.name): "
              + "K=\(config.clients.count) C=\(config.clients.fraction) "
              + (config.clients.sampling == .poisson ? "(Poisson, q=C) " : "(m=\(config.clientsPerRound)) ")
              + "E=\(config.training.localEpochs) B=\(config.training.batchSize) η=\(config.training.learningRate) "
              + "\(config.clients.partition.rawValue), \(config.rounds) rounds")
        if let checkpoint {
            say("[\(tag)] resuming after round \(checkpoint.round) of \(config.rounds) from "
                  + CheckpointFile.url(in: config.output).path)
        }
        let rows = try RoundsCSV(path: URL(fileURLWithPath: config.output).appendingPathComponent("rounds.csv").path,
                                 reports: checkpoint?.reports ?? [])
        let line = ProgressLine()
        let observer = Task {
            var uploads = 0
            for await event in federation.events {
                roundWatch?.observe(event)
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
        let saving = CheckpointTimer(folder: config.output)
        let keepGoing = allowDivergence || config.continueAfterDivergence
        var summary: FederationSummary
        do {
            var control = RunControl(
                resume: checkpoint, stop: stop, save: { try saving.write($0) }, completed: { try rows.append($0) },
                continueAfterDivergence: keepGoing)
            // Noise infusion: snr.csv, the SNR at every active site per evaluated round (RunSNRFile).
            let snr = try RunSNRFile(config, train: train, resumeAfter: checkpoint?.round)
            if let snr { control.evaluated = { round, weights in try snr.append(round: round, weights: weights) } }
            if let runner {
                summary = try await runner(federation, control)
            } else {
                summary = try await federation.run(control: control)
            }
        } catch {
            observer.cancel()
            rows.close()
            throw error
        }
        await observer.value
        rows.close()
        let silent = summary.rounds.filter(RoundAnswers.nobodyAnswered).map(\.round)
        if !silent.isEmpty {
            let list = silent.count > 10 ? "\(silent.count) rounds" : "round(s) \(silent.map(String.init).joined(separator: ", "))"
            let why = config.deadlineSeconds.map { " (deadlineSeconds = \($0) s)" } ?? ""
            summary.warnings.append("no client answered in \(list)\(why): the model was kept and no train loss exists "
                                    + "for them (rounds.csv leaves train_loss empty)")
        }
        let diverged = summary.divergence
            ?? Divergence.firstDivergedRound(summary, finalWeights: federation.globalWeights)
        if let diverged {
            summary.warnings.append("diverged: \(diverged)")
        }
        for w in summary.warnings.dropFirst(federation.warnings.count) { say("[\(tag)] warning: \(w)") }
        try ResultFiles.write(summary, configuration: config)
        if let weights = federation.globalWeights, !summary.rounds.isEmpty {
            try writeGroupReport(network: federation.network, weights: weights, test: test, folder: config.output,
                                 tag: tag)
        }
        let written = "wrote \(config.output)/rounds.csv, summary.json, rounds.svg"
        if summary.interrupted {
            throw RunInterrupted(
                status: 128 + SIGINT,
                description: "[\(tag)] interrupted after round \(summary.rounds.last?.round ?? 0) of \(config.rounds) "
                    + "(\(written), checkpoint.fnck); continue with: fednoise run --resume \(config.output)")
        }
        if summary.rounds.isEmpty {
            throw RunFailure(description: "[\(tag)] no round ran: \(summary.warnings.last ?? "stopped") (\(written))")
        }
        let stopped = summary.rounds.count < config.rounds
        // A finished run needs no checkpoint; a run stopped by divergence keeps its last one (resumable with
        // --allow-divergence).
        if !stopped { try? FileManager.default.removeItem(at: CheckpointFile.url(in: config.output)) }
        if silent.count == summary.rounds.count {
            throw RunFailure(
                description: "[\(tag)] no client answered in any of the \(silent.count) round(s)"
                    + (config.deadlineSeconds.map { ": every sampled client missed deadlineSeconds = \($0) s; raise it" }
                        ?? "") + " (\(written))")
        }
        if let diverged, !keepGoing {
            throw RunFailure(
                description: "[\(tag)] training diverged at \(diverged)"
                    + (stopped ? ", so the run stopped there (continueAfterDivergence: true keeps going); " : "; ")
                    + Divergence.hint(flag: "--allow-divergence", rate: "training.learningRate")
                    + " (\(written))")
        }
        let acc = summary.finalTestAccuracy.map { percent($0) } ?? "n/a"
        let best = summary.bestTestAccuracy.map { " (best \(percent($0.accuracy)) at round \($0.round))" } ?? ""
        let privacy = PrivacyBlock.entries(summary).map { "\($0.relation): \($0.guarantee)" }.joined(separator: "; ")
        say("[\(tag)] final test accuracy \(acc)\(best); privacy: \(privacy); \(fixed(summary.seconds, 1)) s; "
              + saving.describe(roundSeconds: summary.rounds.map(\.seconds)) + written)
        return summary
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

/// A byte count for people: 812 B, 3.2 kB, 6.6 MB, 1.2 GB.
func bytes(_ n: Int) -> String {
    let x = Double(n)
    if x < 1_000 { return "\(n) B" }
    if x < 1e6 { return String(format: "%.1f kB", x / 1e3) }
    if x < 1e9 { return String(format: "%.1f MB", x / 1e6) }
    return String(format: "%.2f GB", x / 1e9)
}
