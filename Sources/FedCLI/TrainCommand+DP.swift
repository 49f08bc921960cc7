// TrainCommand+DP: `fednoise train --dp`: DP-SGD's flags, config keys, validation and training loop.
import FedData
import FedNN
import FedPrivacy
import FedTensor
import Foundation

/// The privacy side of a DP-SGD run, as written to summary.json.
struct DPReport: Codable {
    var noiseMultiplier: Double
    var maxGradNorm: Double
    var sampleRate: Double
    var expectedBatchSize: Double
    var stepsPerEpoch: Int
    var steps: Int
    var delta: Double
    var epsilon: Double
    var bestOrder: Double
    var perLayerClipping: Bool
    var neighbouring = "add/remove one training example (example-level DP)"
}

extension TrainConfiguration {
    func validateDP() throws(UsageError) {
        func check(_ ok: Bool, _ key: String, _ what: String) throws(UsageError) {
            if !ok { throw UsageError("\(key): \(what)") }
        }
        let dpKeys: [(String, Bool)] = [("noiseMultiplier", noiseMultiplier != nil), ("targetEpsilon", targetEpsilon != nil),
                                        ("sampleRate", sampleRate != nil), ("expectedBatchSize", expectedBatchSize != nil),
                                        ("perLayerClipping", perLayerClipping)]
        guard dp else {
            if let key = dpKeys.first(where: \.1)?.0 { throw UsageError("\(key): only applies with dp (--dp)") }
            return
        }
        try check(sampling == "poisson", "sampling",
                  "'\(sampling)' refused: DP-SGD's accountant (RDP of the Poisson-subsampled Gaussian) assumes every "
                  + "example is sampled independently with rate q; shuffled fixed-size batches have no tight "
                  + "analysis, so their ε would be wrong. Use poisson")
        try check((noiseMultiplier == nil) != (targetEpsilon == nil), noiseMultiplier == nil ? "noiseMultiplier" : "targetEpsilon",
                  "give exactly one of noiseMultiplier (--noise-multiplier) and targetEpsilon (--target-epsilon)")
        if let z = noiseMultiplier { try check(z >= 0 && z <= 1e6, "noiseMultiplier", "must be in [0, 1e6], got \(z)") }
        if let e = targetEpsilon { try check(e > 0 && e <= 1e4, "targetEpsilon", "must be in (0, 10000], got \(e)") }
        try check(maxGradNorm > 0 && maxGradNorm.isFinite, "maxGradNorm", "must be > 0, got \(maxGradNorm)")
        try check(delta > 0 && delta < 1, "delta", "must be in (0, 1), got \(delta)")
        try check(sampleRate == nil || expectedBatchSize == nil, "sampleRate",
                  "give at most one of sampleRate (--sample-rate) and expectedBatchSize (--expected-batch-size)")
        if let q = sampleRate { try check(q > 0 && q <= 1, "sampleRate", "must be in (0, 1], got \(q)") }
        if let b = expectedBatchSize {
            try check(b >= 1 && b <= 65_536, "expectedBatchSize", "must be in 1…65536, got \(b)")
        }
    }
}

extension TrainCommand {
    static let dpHelp = """
      --dp                 train with DP-SGD (example-level DP, Abadi et al. 2016): Poisson sampling, per-example
                           clipping (ghost norms), Gaussian noise, RDP accounting; ε printed every epoch
      --noise-multiplier Z σ: noise std / max grad norm               (one of these two with --dp)
      --target-epsilon E   find the smallest σ whose ε after all epochs is ≤ E
      --max-grad-norm C    per-example clipping norm (default 1)
      --delta D            δ of the reported ε, in (0, 1) (default 1e-5)
      --sample-rate Q      Poisson sampling rate q in (0, 1]               (at most one of these two;
      --expected-batch-size B  q = B / N                                     default q = batch-size / N)
      --per-layer-clipping clip each trainable layer to C/√K (K layers) instead of all parameters to C
                           An epoch is ⌊1/q⌋ steps; --batch-size is then only the largest chunk run at once.
    """

    /// Reads the DP flags into `c`, noting which flag set each key.
    static func applyDPFlags(_ args: inout Arguments, to c: inout TrainConfiguration, note given: inout [String: String])
        throws(UsageError)
    {
        func set<T>(_ value: T?, _ key: String, _ flag: String, _ apply: (T) -> Void) {
            guard let value else { return }
            apply(value)
            given[key] = flag
        }
        if args.flag("dp") { c.dp = true; given["dp"] = "dp" }
        if args.flag("per-layer-clipping") { c.perLayerClipping = true; given["perLayerClipping"] = "per-layer-clipping" }
        set(try args.double("noise-multiplier"), "noiseMultiplier", "noise-multiplier") { c.noiseMultiplier = $0 }
        set(try args.double("target-epsilon"), "targetEpsilon", "target-epsilon") { c.targetEpsilon = $0 }
        set(try args.double("max-grad-norm"), "maxGradNorm", "max-grad-norm") { c.maxGradNorm = $0 }
        set(try args.double("delta"), "delta", "delta") { c.delta = $0 }
        set(try args.double("sample-rate"), "sampleRate", "sample-rate") { c.sampleRate = $0 }
        set(try args.int("expected-batch-size"), "expectedBatchSize", "expected-batch-size") { c.expectedBatchSize = $0 }
        set(args.string("sampling"), "sampling", "sampling") { c.sampling = $0 }
    }

    /// The DP settings for N training examples: q, and σ (given, or searched for the target ε over all epochs).
    public static func dpSettings(_ config: TrainConfiguration, examples n: Int) throws -> DPSGDSettings {
        let q = config.sampleRate ?? Double(config.expectedBatchSize ?? config.batchSize) / Double(n)
        guard q > 0 && q <= 1 else {
            let key = config.sampleRate != nil ? "sampleRate" : config.expectedBatchSize != nil ? "expectedBatchSize" : "batchSize"
            throw UsageError("\(key): gives sample rate \(q) with \(n) training examples; it must be in (0, 1]")
        }
        var dp = DPSGDSettings(noiseMultiplier: config.noiseMultiplier ?? 0, maxGradientNorm: config.maxGradNorm,
                               sampleRate: q, perLayerClipping: config.perLayerClipping)
        if let target = config.targetEpsilon {
            do {
                dp.noiseMultiplier = try RDPAccountant.noiseMultiplier(
                    targetEpsilon: target, delta: config.delta, sampleRate: q, steps: config.epochs * dp.stepsPerEpoch)
            } catch {
                throw UsageError("targetEpsilon: \(target) cannot be met: \(error)")
            }
        }
        return dp
    }

    static func trainDP(_ config: TrainConfiguration) throws {
        let (train, test) = try loadData(config)
        let network = try config.model.network(inputShape: train.sampleShape, classes: train.classCount)
        let indices = try trainingIndices(config, train)
        let dp = try dpSettings(config, examples: indices.count)
        let expected = dp.sampleRate * Double(indices.count)
        say("\(config.model.rawValue) on \(train.name) with DP-SGD: \(network.parameterCount.formatted()) parameters, "
              + "\(train.sampleCount.formatted()) train / \(test.sampleCount.formatted()) test samples, "
              + "\(ComputeThreads.count) thread(s)")
        say("σ = \(fixed(dp.noiseMultiplier, 6)), C = \(config.maxGradNorm), q = \(fixed(dp.sampleRate, 6)) "
              + "(expected batch \(fixed(expected, 1))), \(dp.stepsPerEpoch) steps per epoch, δ = \(config.delta)"
              + (dp.perLayerClipping ? ", per-layer clipping" : ""))
        var parameters = try startingWeights(config, network)
        let settings = TrainingSettings(epochs: config.epochs, batchSize: config.batchSize,
                                        learningRate: Float(config.learningRate), momentum: Float(config.momentum),
                                        weightDecay: Float(config.weightDecay),
                                        learningRateDecay: Float(config.learningRateDecay))
        var trainer = DPSGDTrainer(network: network, settings: settings, dp: dp, key: StreamKey(seed: config.seed, 1),
                                   frozen: try frozenLayers(config, network))
        let capacity = min(max(config.batchSize, Int(expected + 4 * expected.squareRoot()) + 1), 2048)
        let workspace = Workspace(network: network, capacity: capacity)
        let line = ProgressLine()
        var records: [EpochRecord] = []
        let started = monotonicSeconds()
        var spent = (epsilon: 0.0, bestOrder: 0.0)
        for epoch in 0..<config.epochs {
            let t0 = monotonicSeconds()
            let (loss, acc, _) = trainer.runEpoch(epoch, parameters: &parameters,
                                                  on: augmented(config, train, epoch: epoch), indices: indices,
                                                  workspace: workspace, copies: config.augmentCopies) { p in
                let rate = Double(p.samplesSeen) / max(monotonicSeconds() - t0, 1e-9)
                line.update("epoch \(epoch + 1)/\(config.epochs)  step \(p.step)/\(p.stepsPerEpoch)  "
                            + "loss \(fixed(p.meanLoss))  acc \(percent(p.meanAccuracy, digits: 1))  "
                            + "\(grouped(rate)) samples/s")
            }
            let seconds = monotonicSeconds() - t0
            spent = try trainer.accountant.epsilon(delta: config.delta)
            let eval = evaluate(network, parameters: parameters, on: test, workspace: workspace)
            line.clear()
            let record = EpochRecord(epoch: epoch + 1, trainLoss: loss, trainAccuracy: acc, testLoss: eval.loss,
                                     testAccuracy: eval.accuracy, seconds: seconds,
                                     samplesPerSecond: expected * Double(dp.stepsPerEpoch) / seconds,
                                     epsilon: spent.epsilon)
            records.append(record)
            say("epoch \(epoch + 1)/\(config.epochs): train loss \(fixed(loss)) acc \(percent(acc)) | "
                  + "test loss \(fixed(eval.loss)) acc \(percent(eval.accuracy)) | ε = \(fixed(spent.epsilon, 3)) "
                  + "(δ = \(config.delta)) | \(fixed(seconds, 1)) s")
        }
        let total = monotonicSeconds() - started
        let report = DPReport(noiseMultiplier: dp.noiseMultiplier, maxGradNorm: config.maxGradNorm,
                              sampleRate: dp.sampleRate, expectedBatchSize: expected, stepsPerEpoch: dp.stepsPerEpoch,
                              steps: trainer.spend.steps, delta: config.delta, epsilon: spent.epsilon,
                              bestOrder: spent.bestOrder, perLayerClipping: dp.perLayerClipping)
        try writeResults(config: config, records: records, seconds: total, parameters: network.parameterCount,
                         privacy: report)
        try saveWeightsIfAsked(config, network, parameters)
        try writeGroupReport(config, network, parameters, test: test, workspace: workspace)
        say("example-level DP: ε = \(fixed(spent.epsilon, 4)) at δ = \(config.delta) after \(trainer.spend.steps) steps "
              + "(RDP, best order \(spent.bestOrder))")
        say("wrote \(config.output)/epochs.csv, summary.json, curves.svg (\(fixed(total, 1)) s in all)")
    }
}
