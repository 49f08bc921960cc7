// TrainCommand: `fednoise train`, centralised training with live progress, per-epoch metrics and result files.
import FedData
import FedNN
import FedTensor
import Foundation

/// Everything a centralised training run needs; decoded from `config/*.json` and overridden by flags.
public struct TrainConfiguration: Codable, Sendable, Equatable {
    public var model: ModelKind = .cnn
    /// How the initial weights are drawn (default: PyTorch's U(±1/√fan_in)).
    public var initialization: Initialization = .uniform
    public var dataset: DatasetKind = .mnist
    /// A directory with the dataset's files; nil means the embedded MNIST subset (MNIST only).
    public var data: String?
    public var epochs = 3
    public var batchSize = 64
    public var learningRate = 0.05
    public var momentum = 0.9
    public var weightDecay = 0.0
    /// Per-epoch multiplicative learning-rate decay (1 = constant).
    public var learningRateDecay = 1.0
    public var seed: UInt64 = 1
    /// Use only the first N training / test samples (nil: all).
    public var trainLimit: Int?
    public var testLimit: Int?
    /// Where epochs.csv, summary.json and curves.svg go.
    public var output = "runs/train"
    /// Keep training after a NaN or infinite loss or weight (default: stop at that epoch, exit status 1).
    public var allowDivergence = false
    /// Example-level DP-SGD instead of plain SGD (see `TrainCommand+DP.swift` for its keys).
    public var dp = false
    /// σ; exactly one of noiseMultiplier and targetEpsilon with dp.
    public var noiseMultiplier: Double?
    public var targetEpsilon: Double?
    public var maxGradNorm = 1.0
    public var delta = 1e-5
    /// q, or the expected batch size q·N (at most one; neither: q = batchSize / N).
    public var sampleRate: Double?
    public var expectedBatchSize: Int?
    public var perLayerClipping = false
    /// "poisson" (what the accountant assumes) is the only sampling DP-SGD accepts.
    public var sampling = "poisson"
    /// Heuristic noise infusion (Part A; `TrainCommand+Noise.swift`), nil: none.
    public var noise: NoiseInfusion?
    /// Weights files to start from / write (`TrainCommand+Weights.swift`); keep only `minorityFraction` of class
    /// `minorityClass`'s training examples (`TrainCommand+Groups.swift`).
    public var initFrom: String?, saveWeights: String?, minorityClass: Int?, minorityFraction = 1.0
    /// Layers kept fixed, and data augmentation (`TrainCommand+Mitigations.swift`).
    public var freeze: [String]?, augmentShift = 0, augmentFlip = false, augmentCopies = 1

    public init() {}

    /// Reads a JSON file; errors name the file and the key (unknown keys are rejected).
    public static func load(_ path: String) throws -> TrainConfiguration {
        try ConfigurationFile.load(TrainConfiguration.self, defaults: TrainConfiguration(), path: path,
                                   optionalKeys: ["data", "trainLimit", "testLimit", "noiseMultiplier", "targetEpsilon",
                                                  "sampleRate", "expectedBatchSize", "noise", "initFrom", "saveWeights",
                                                  "minorityClass", "freeze"])
    }

    /// Checks ranges; the error names the key.
    public func validate() throws(UsageError) {
        func check(_ ok: Bool, _ key: String, _ what: String) throws(UsageError) {
            if !ok { throw UsageError("\(key): \(what)") }
        }
        try check(epochs >= 1 && epochs <= 10_000, "epochs", "must be in 1…10000, got \(epochs)")
        try check(batchSize >= 1 && batchSize <= 65_536, "batchSize", "must be in 1…65536, got \(batchSize)")
        try check(learningRate > 0 && learningRate <= 1_000, "learningRate", "must be in (0, 1000], got \(learningRate)")
        try check(momentum >= 0 && momentum < 1, "momentum", "must be in [0, 1), got \(momentum)")
        try check(weightDecay >= 0 && weightDecay <= 1_000, "weightDecay",
                  "must be in [0, 1000], got \(weightDecay)")
        try check(learningRateDecay > 0 && learningRateDecay <= 1, "learningRateDecay",
                  "must be in (0, 1], got \(learningRateDecay)")
        try check((trainLimit ?? 1) >= 1, "trainLimit", "must be ≥ 1, got \(trainLimit ?? 0)")
        try check((testLimit ?? 1) >= 1, "testLimit", "must be ≥ 1, got \(testLimit ?? 0)")
        try check(!output.allSatisfy(\.isWhitespace), "output", "is empty; give the folder for the results")
        try check(data.map { !$0.isEmpty } ?? true, "data", "is empty; give a folder or leave it out")
        // Blamed on the dataset choice: it is what needs a directory (the embedded subset is MNIST).
        try check(data != nil || dataset == .mnist, "dataset",
                  "\(dataset.rawValue) needs a directory (data / --data); the embedded subset is MNIST only")
        try validateDP()
        try validateNoise()
        try validateMitigations()
    }
}

/// One row of epochs.csv.
struct EpochRecord: Codable {
    var epoch: Int
    var trainLoss: Double
    var trainAccuracy: Double
    var testLoss: Double
    var testAccuracy: Double
    var seconds: Double
    var samplesPerSecond: Double
    /// Example-level ε at the configured δ after this epoch (DP-SGD runs only).
    var epsilon: Double? = nil
    /// Noise infusion: the SNR at every active site after this epoch (`TrainCommand.epochSNR`).
    var snr: [SiteSNR]? = nil
}

public enum TrainCommand {

    static func run(_ argv: [String]) throws {
        var args = try Arguments(argv, booleanFlags: ["help", "allow-divergence", "dp", "per-layer-clipping",
                                                                   "augment-flip"])
        if args.flag("help") {
            say(help)
            return
        }
        let (config, threads) = try configuration(&args)
        if let threads { ComputeThreads.count = threads }
        try train(config)
    }

    /// Reads every option (an unknown or misspelt one is reported first), lays the flags over the `--config` file
    /// and validates the result; an invalid value's error names the flag that gave it, or else the file.
    public static func configuration(_ args: inout Arguments) throws -> (TrainConfiguration, threads: Int?) {
        let path = args.string("config")
        var config = try path.map(TrainConfiguration.load) ?? TrainConfiguration()
        let given = try applyFlags(&args, to: &config)
        let threads = try args.int("threads", in: 1...ComputeThreads.maximum)
        try args.finish()
        do {
            try config.validate()
        } catch {
            // validate() says "key: what is wrong".
            let key = String(error.description.prefix { $0 != ":" })
            let what = error.description.dropFirst(key.count + 2)
            if let flag = given[key] { throw UsageError("--\(flag): \(what)") }
            if let path { throw UsageError("\(path): key '\(key)': \(what)") }
            throw error
        }
        return (config, threads)
    }

    /// Lays the flags over `c`; returns the flag that set each key (for error messages).
    @discardableResult
    static func applyFlags(_ args: inout Arguments, to c: inout TrainConfiguration) throws
        -> [String: String]
    {
        var given: [String: String] = [:]
        func note<T>(_ value: T?, _ key: String, _ flag: String, _ set: (T) -> Void) {
            guard let value else { return }
            set(value)
            given[key] = flag
        }
        note(try args.choice("model", ModelKind.self), "model", "model") { c.model = $0 }
        note(try args.choice("init", Initialization.self), "initialization", "init") { c.initialization = $0 }
        note(try args.choice("dataset", DatasetKind.self), "dataset", "dataset") { c.dataset = $0 }
        note(args.string("data"), "data", "data") { c.data = $0 }
        note(try args.int("epochs"), "epochs", "epochs") { c.epochs = $0 }
        note(try args.int("batch-size"), "batchSize", "batch-size") { c.batchSize = $0 }
        note(try args.double("lr"), "learningRate", "lr") { c.learningRate = $0 }
        note(try args.double("momentum"), "momentum", "momentum") { c.momentum = $0 }
        note(try args.double("weight-decay"), "weightDecay", "weight-decay") { c.weightDecay = $0 }
        note(try args.double("lr-decay"), "learningRateDecay", "lr-decay") { c.learningRateDecay = $0 }
        note(try args.int("seed", in: 0...Int.max), "seed", "seed") { c.seed = UInt64($0) }
        note(try args.int("train-limit"), "trainLimit", "train-limit") { c.trainLimit = $0 }
        note(try args.int("test-limit"), "testLimit", "test-limit") { c.testLimit = $0 }
        note(args.string("output"), "output", "output") { c.output = $0 }
        note(args.flag("allow-divergence") ? true : nil, "allowDivergence", "allow-divergence") {
            c.allowDivergence = $0
        }
        try applyDPFlags(&args, to: &c, note: &given)
        try applyNoiseFlags(&args, to: &c, note: &given)
        applyWeightFlags(&args, to: &c, note: &given)
        try applyGroupFlags(&args, to: &c, note: &given)
        try applyMitigationFlags(&args, to: &c, note: &given)
        return given
    }


    static func train(_ config: TrainConfiguration) throws {
        try OutputPlace.prepareFolder(config.output, origin: "output")
        try checkWeightPaths(config)
        if config.dp { return try trainDP(config) }
        let (train, test) = try loadData(config)
        let network = try noisyNetwork(config, try config.model.network(inputShape: train.sampleShape,
                                                                          classes: train.classCount))
        // A batch larger than the data is one batch of all of it (the order does not depend on B): train with
        // min(B, n) and size the workspace by it, not by B. Evaluation wants at least 64.
        let batch = min(config.batchSize, train.sampleCount)
        let capacity = max(batch, min(64, max(train.sampleCount, test.sampleCount)))
        do {
            try Preflight.checkMemory(network: network, capacity: capacity, concurrent: 1, key: "batchSize")
        } catch {
            throw UsageError("batchSize (--batch-size): \(error.message)")
        }
        say("\(config.model.rawValue) on \(train.name): \(network.parameterCount.formatted()) parameters, "
              + "\(train.sampleCount.formatted()) train / \(test.sampleCount.formatted()) test samples, "
              + "\(ComputeThreads.count) thread(s)")
        if let noise = config.noise { say("privacy: \(noise.privacyLine)") }
        var parameters = try startingWeights(config, network)
        let settings = TrainingSettings(epochs: config.epochs, batchSize: batch,
                                        learningRate: Float(config.learningRate), momentum: Float(config.momentum),
                                        weightDecay: Float(config.weightDecay),
                                        learningRateDecay: Float(config.learningRateDecay))
        var trainer = Trainer(network: network, settings: settings, key: StreamKey(seed: config.seed, 1),
                              frozen: try frozenLayers(config, network))
        let workspace = Workspace(network: network, capacity: capacity)
        let line = ProgressLine()
        var records: [EpochRecord] = []
        let indices = try trainingIndices(config, train)
        let started = monotonicSeconds()
        for epoch in 0..<config.epochs {
            let t0 = monotonicSeconds()
            let start = parameters
            (trainer.gradientTransform, trainer.blockGradientTransform) = config.noise?.gradientNoise(
                network: network, key: noiseKey(config, epoch: epoch, 1), time: epoch) ?? (nil, nil)
            let (loss, acc) = trainer.runEpoch(epoch, parameters: &parameters,
                                               on: augmented(config, train, epoch: epoch), indices: indices,
                                               workspace: workspace) { p in
                let rate = Double(p.samplesSeen - epoch * train.sampleCount) / max(monotonicSeconds() - t0, 1e-9)
                line.update("epoch \(epoch + 1)/\(config.epochs)  step \(p.step)/\(p.stepsPerEpoch)  "
                            + "loss \(fixed(p.meanLoss))  acc \(percent(p.meanAccuracy, digits: 1))  "
                            + "\(grouped(rate)) samples/s")
            }
            config.noise?.perturbClient(&parameters, start: start, ranges: NoiseInfusion.noiseRanges(network),
                                        key: noiseKey(config, epoch: epoch, 2), time: epoch)
            let seconds = monotonicSeconds() - t0
            let eval = evaluate(network, parameters: parameters, on: test, workspace: workspace)
            line.clear()
            let record = EpochRecord(epoch: epoch + 1, trainLoss: loss, trainAccuracy: acc, testLoss: eval.loss,
                                     testAccuracy: eval.accuracy, seconds: seconds,
                                     samplesPerSecond: Double(train.sampleCount) / seconds,
                                     snr: epochSNR(config, train: train, parameters: parameters, epoch: epoch))
            records.append(record)
            say("epoch \(epoch + 1)/\(config.epochs): train loss \(fixed(loss)) acc \(percent(acc)) | "
                  + "test loss \(fixed(eval.loss)) acc \(percent(eval.accuracy)) | \(fixed(seconds, 1)) s, "
                  + "\(grouped(record.samplesPerSecond)) samples/s")
            if let what = diverged(trainLoss: loss, testLoss: eval.loss, parameters: parameters) {
                if config.allowDivergence {
                    say("warning: epoch \(epoch + 1): \(what); continuing (--allow-divergence)")
                    continue
                }
                try writeResults(config: config, records: records, seconds: monotonicSeconds() - started,
                                 parameters: network.parameterCount)
                throw RunFailure(description: "training diverged at epoch \(epoch + 1) of \(config.epochs): \(what); "
                    + Divergence.hint(flag: "--allow-divergence", rate: "--lr")
                    + " (wrote the \(records.count) epoch(s) to \(config.output)/epochs.csv, summary.json, curves.svg)")
            }
        }
        let total = monotonicSeconds() - started
        try writeResults(config: config, records: records, seconds: total, parameters: network.parameterCount)
        try saveWeightsIfAsked(config, network, parameters)
        try writeGroupReport(config, network, parameters, test: test, workspace: workspace)
        say("wrote \(config.output)/epochs.csv, summary.json, curves.svg (\(fixed(total, 1)) s in all)")
    }

    /// What is not finite after an epoch, or nil.
    static func diverged(trainLoss: Double, testLoss: Double, parameters: [Float]) -> String? {
        if !trainLoss.isFinite { return "the train loss is \(trainLoss)" }
        if Divergence.hasNonFinite(parameters) { return "the model holds NaN or infinite weights" }
        if !testLoss.isFinite { return "the test loss is \(testLoss)" }
        return nil
    }

    static func loadData(_ config: TrainConfiguration) throws -> (train: DatasetSamples, test: DatasetSamples) {
        try loadSamples(kind: config.dataset, path: config.data, trainLimit: config.trainLimit,
                        testLimit: config.testLimit)
    }
}
