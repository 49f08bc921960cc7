// ParadoxDP: the study's real-DP cells: DP-SGD (centralised) and DP-FedAvg (federated), to compare at equal accuracy.
import FedData
import FedNN
import FedPrivacy
import FedRuntime
import FedTensor

/// Which DP mechanism a DP cell runs.
public enum StudyDPKind: String, Codable, Sendable, CaseIterable {
    /// Example-level DP-SGD (Abadi et al. 2016), as `fednoise train --dp`.
    case dpSGD = "DP-SGD"
    /// Client-level DP-FedAvg (NISS paper Alg. 1), as `strategy.kind = dpFedAvg`.
    case dpFedAvg = "DP-FedAvg"
}

/// The grid's DP cells (config key `dp`): per model (except large-cnn, whose BatchNorm neither DP-SGD's
/// per-example gradients nor DP-FedAvg's noise on the statistics support) and seed, one DP-SGD cell per noise
/// multiplier in the centralised setting and one DP-FedAvg cell per per-round ε in the federated one. Their level
/// is σ or the per-round ε, and they report the ε the run spent (the heuristic cells never report one).
public struct StudyDP: Codable, Sendable, Equatable {
    /// DP-SGD σ: Poisson sampling at q = batchSize/N, per-example clipping at `maxGradNorm`, RDP accounting.
    public var noiseMultipliers: [Double] = []
    /// DP-FedAvg's per-round client-level ε (σ_k by the analytic Gaussian mechanism for the update clipped at
    /// `clippingThreshold`); the cell reports the run's ε over its rounds (RDP).
    public var epsilons: [Double] = []
    public var maxGradNorm = 1.0
    public var clippingThreshold = 3.0
    public var delta = 1e-5

    public init() {}

    /// The DP cells of `setting` (empty for large-cnn).
    func cells(model: ModelKind, setting: ParadoxSetting, seed: UInt64) -> [ParadoxCell] {
        guard model != .largeCNN else { return [] }
        let (kind, levels) = setting == .centralized ? (StudyDPKind.dpSGD, noiseMultipliers) : (.dpFedAvg, epsilons)
        return levels.map { ParadoxCell(model: model, setting: setting, mechanism: nil, level: $0, seed: seed, dp: kind) }
    }

    func validate() throws(UsageError) {
        for (i, z) in noiseMultipliers.enumerated() where !(z > 0 && z <= 1e4) {
            throw UsageError("'dp.noiseMultipliers[\(i)]': must be in (0, 10000], got \(z)")
        }
        let range = FederationConfiguration.Limits.epsilon
        for (i, e) in epsilons.enumerated() where !range.contains(e) {
            throw UsageError("'dp.epsilons[\(i)]': must be in [\(range.lowerBound), \(range.upperBound)], got \(e)")
        }
        if noiseMultipliers.count > 100 || epsilons.count > 100 { throw UsageError("'dp': at most 100 values per list") }
        if !(maxGradNorm > 0 && maxGradNorm <= 1e6) { throw UsageError("'dp.maxGradNorm': must be in (0, 1e6]") }
        if !(clippingThreshold > 0 && clippingThreshold <= 1e6) {
            throw UsageError("'dp.clippingThreshold': must be in (0, 1e6]")
        }
        if !(delta > 0 && delta < 1) { throw UsageError("'dp.delta': must be in (0, 1), got \(delta)") }
    }
}

extension ParadoxCellRun {
    /// DP-SGD on the whole training set, `study.epochs` epochs of ⌊1/q⌋ Poisson steps: the final model, the
    /// per-epoch test accuracies, the example-level ε at `dp.delta`, and the last epoch's test logits (its
    /// evaluation kept, so that the cell's test evaluation needs no pass of its own).
    static func dpSGD(_ cell: ParadoxCell, network: Network, study: ParadoxConfiguration, train: DatasetSamples,
                      test: DatasetSamples) throws
        -> (parameters: [Float], series: [Double], epsilon: Double, lastTest: EvaluationLogits?) {
        var parameters = network.initialParameters(key: StreamKey(seed: cell.seed, 0))
        let n = train.sampleCount
        let q = min(1, Double(study.batchSize) / Double(n))
        let dp = DPSGDSettings(noiseMultiplier: cell.level, maxGradientNorm: study.dp.maxGradNorm, sampleRate: q,
                               perLayerClipping: false)
        let settings = TrainingSettings(epochs: study.epochs, batchSize: study.batchSize,
                                        learningRate: Float(study.learningRate), momentum: Float(study.momentum))
        var trainer = DPSGDTrainer(network: network, settings: settings, dp: dp, key: StreamKey(seed: cell.seed, 1))
        let expected = q * Double(n)
        let workspace = Workspace(network: network,
                                  capacity: min(max(study.batchSize, Int(expected + 4 * expected.squareRoot()) + 1), 2048))
        let indices = Array(0..<n)
        var series: [Double] = []
        var lastTest: EvaluationLogits? = nil
        for epoch in 0..<study.epochs {
            _ = trainer.runEpoch(epoch, parameters: &parameters, on: train, indices: indices, workspace: workspace)
            // The last epoch keeps the logits too (`evaluate`'s numbers either way).
            if epoch == study.epochs - 1 {
                let r = evaluateKeepingLogits(network, parameters: parameters, on: test, workspace: workspace)
                series.append(r.evaluation.accuracy)
                lastTest = r.logits
            } else {
                series.append(evaluate(network, parameters: parameters, on: test, workspace: workspace).accuracy)
            }
        }
        return (parameters, series, try trainer.accountant.epsilon(delta: study.dp.delta).epsilon, lastTest)
    }

    /// The federation of a cell: FedAvg, or DP-FedAvg at the cell's per-round ε for a DP-FedAvg cell.
    static func federationConfiguration(_ cell: ParadoxCell, study: ParadoxConfiguration) -> FederationConfiguration {
        var c = FederationConfiguration()
        c.name = "paradox"
        c.seed = cell.seed
        c.rounds = study.rounds
        c.model = cell.model
        c.clients.count = study.clients
        c.clients.fraction = study.fraction
        c.training.localEpochs = study.localEpochs
        c.training.batchSize = study.batchSize
        c.training.learningRate = study.learningRate
        c.training.momentum = study.momentum
        c.noiseInfusion = cell.noise
        c.checkpointEvery = 0
        c.diagnostics = false
        c.accuracyTargets = []
        if cell.dp == .dpFedAvg {
            c.strategy.kind = .dpFedAvg
            c.strategy.dp.epsilon = cell.level
            c.strategy.dp.delta = study.dp.delta
            c.strategy.dp.clippingThreshold = study.dp.clippingThreshold
            c.strategy.dp.calibration = .analytic
        }
        return c
    }
}
