// ParadoxCellRun: trains one cell of the noise study (centrally or by FedAvg) and measures it.
import FedAttack
import FedData
import FedNN
import FedRuntime
import FedTensor
import Foundation

/// Everything measured for one cell: one row of cells.csv.
public struct ParadoxCellResult: Sendable, Equatable {
    public var cell: ParadoxCell
    public var parameters: Int
    public var trainAccuracy: Double
    public var trainLoss: Double
    public var testAccuracy: Double
    public var testLoss: Double
    /// Std of test accuracy over the last R epochs or rounds, and the mean |Δ| between consecutive ones.
    public var stabilityStd: Double
    public var meanAbsoluteChange: Double
    /// The first mechanism's σ at its first site, the clean tensor's RMS there (final model), and the SNR.
    public var sigma: Double
    public var signalRMS: Double
    public var snr: SignalToNoise
    public var attack: MembershipInferenceResult

    static let header = "model,setting,mechanism,level,seed,parameters,train_accuracy,train_loss,test_accuracy,"
        + "test_loss,generalization_gap,stability_std,mean_abs_change,sigma,signal_rms,snr_power,snr_power_db,"
        + "snr_amplitude,snr_amplitude_db,mia_auc,mia_tpr_at_1pct_fpr,mia_advantage,mia_yeom_tpr,mia_yeom_fpr"

    var csvRow: String {
        let values: [Double] = [trainAccuracy, trainLoss, testAccuracy, testLoss, trainAccuracy - testAccuracy,
                                stabilityStd, meanAbsoluteChange, sigma, signalRMS, snr.power, snr.powerDB,
                                snr.amplitude, snr.amplitudeDB, attack.auc, attack.tprAt1PercentFPR, attack.advantage,
                                attack.yeomTPR, attack.yeomFPR]
        return cell.key + ",\(parameters)," + values.map { "\($0)" }.joined(separator: ",")
    }
}

enum ParadoxCellRun {
    /// Trains `cell` and measures it. Deterministic for the cell (its seed), whatever the thread count.
    static func run(_ cell: ParadoxCell, study: ParadoxConfiguration, train: DatasetSamples,
                    test: DatasetSamples) async throws -> ParadoxCellResult {
        let base = try cell.model.network(inputShape: train.sampleShape, classes: train.classCount)
        let noise = cell.noise
        let network = try noise?.network(base) ?? base
        var parameters: [Float]
        var series: [Double]
        switch cell.setting {
        case .centralized:
            (parameters, series) = centralized(cell, network: network, noise: noise, study: study, train: train,
                                               test: test)
        case .federated:
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
            c.noiseInfusion = noise
            c.checkpointEvery = 0
            c.diagnostics = false
            c.accuracyTargets = []
            let federation = try Federation(configuration: c, train: train, test: test)
            let summary = try await federation.run()
            parameters = federation.globalWeights ?? []
            series = summary.rounds.compactMap(\.testAccuracy)
        }
        let workspace = Workspace(network: network, capacity: min(256, max(train.sampleCount, test.sampleCount)))
        let n = study.attackSamples
        let members = Array(0..<min(n, train.sampleCount)), others = Array(0..<min(n, test.sampleCount))
        let trainEval = evaluate(network, parameters: parameters, on: train, indices: members, workspace: workspace)
        let testEval = evaluate(network, parameters: parameters, on: test, workspace: workspace)
        let attack = MembershipInference.lossThreshold(
            memberLosses: MembershipInference.perExampleLosses(network, parameters: parameters, on: train,
                                                               indices: members, workspace: workspace),
            nonMemberLosses: MembershipInference.perExampleLosses(network, parameters: parameters, on: test,
                                                                  indices: others, workspace: workspace))
        let (sigma, rms) = siteSignal(noise, base: base, parameters: parameters, train: train, members: members)
        return ParadoxCellResult(
            cell: cell, parameters: ParadoxCNN.trainableCount(base), trainAccuracy: trainEval.accuracy,
            trainLoss: trainEval.loss, testAccuracy: testEval.accuracy, testLoss: testEval.loss,
            stabilityStd: StabilityMetrics.lastWindowStd(series, window: study.stabilityWindow),
            meanAbsoluteChange: StabilityMetrics.meanAbsoluteChange(series), sigma: sigma, signalRMS: rms,
            snr: SignalToNoise(signalRMS: rms, noiseStd: sigma), attack: attack)
    }

    /// Centralised training: the noise of `TrainCommand` (layers, gradient per step, client sites per epoch).
    static func centralized(_ cell: ParadoxCell, network: Network, noise: NoiseInfusion?, study: ParadoxConfiguration,
                            train: DatasetSamples, test: DatasetSamples) -> ([Float], [Double]) {
        var parameters = network.initialParameters(key: StreamKey(seed: cell.seed, 0))
        let batch = min(study.batchSize, train.sampleCount)
        let settings = TrainingSettings(epochs: study.epochs, batchSize: batch,
                                        learningRate: Float(study.learningRate), momentum: Float(study.momentum))
        var trainer = Trainer(network: network, settings: settings, key: StreamKey(seed: cell.seed, 1))
        let workspace = Workspace(network: network, capacity: max(batch, 64))
        let indices = Array(0..<train.sampleCount)
        var series: [Double] = []
        for epoch in 0..<study.epochs {
            let start = parameters
            trainer.gradientTransform = noise?.gradientTransform(network: network,
                                                                 key: StreamKey(seed: cell.seed, 2, 1, UInt64(epoch)),
                                                                 time: epoch)
            _ = trainer.runEpoch(epoch, parameters: &parameters, on: train, indices: indices, workspace: workspace)
            noise?.perturbClient(&parameters, start: start, ranges: NoiseInfusion.noiseRanges(network),
                                 key: StreamKey(seed: cell.seed, 2, 2, UInt64(epoch)), time: epoch)
            series.append(evaluate(network, parameters: parameters, on: test, workspace: workspace).accuracy)
        }
        return (parameters, series)
    }

    /// σ of the first mechanism at its first site and RMS of the clean tensor there, on the final model: the
    /// members' inputs (input), the activation it follows (activation), the model's weights (parameter sites,
    /// per-layer RMS averaged in power; the update site uses the model too, an approximation). Relative levels give
    /// σ = λ·RMS, so their SNR is 1/λ² exactly.
    static func siteSignal(_ noise: NoiseInfusion?, base: Network, parameters: [Float], train: DatasetSamples,
                           members: [Int]) -> (sigma: Double, rms: Double) {
        guard let m = noise?.resolved.first else { return (0, .nan) }
        let level = m.depthLevels?.first ?? m.level
        var rms: Double
        switch m.site {
        case .input, .activation:
            let upTo = m.site == .input ? -1 : (m.afterLayers?.first ?? NoiseInfusion.hiddenActivations(base).first ?? -1)
            let prefix = upTo < 0 ? nil : try? Network(inputShape: base.inputShape, layers: Array(base.layers[0...upTo]))
            let batch = min(members.count, 256)
            let ws = Workspace(network: prefix ?? base, capacity: batch)
            var labels = [Int32](repeating: 0, count: batch)
            members.prefix(batch).withUnsafeBufferPointer { idx in
                labels.withUnsafeMutableBufferPointer { train.gather(idx, inputs: ws.input, labels: $0.baseAddress!) }
            }
            if let prefix {
                parameters.withUnsafeBufferPointer { ws.forward(parameters: $0.baseAddress!, batch: batch, training: false) }
                rms = rootMeanSquare(ws.output, count: batch * prefix.outputSize)
            } else {
                rms = rootMeanSquare(ws.input, count: batch * base.inputSize)
            }
        case .gradient:
            // The gradient's RMS is not measured: relative levels are in units of it (RMS 1, SNR 1/λ²); absolute
            // ones get no SNR (NaN) rather than one against the wrong tensor.
            return m.levelMode == .relative ? (level, 1) : (level, .nan)
        case .clientModel, .clientUpdate, .globalModel:
            var power = 0.0, layers = 0
            parameters.withUnsafeBufferPointer { p in
                for r in NoiseInfusion.noiseRanges(base) where !r.isEmpty {
                    let x = rootMeanSquare(p.baseAddress! + r.lowerBound, count: r.count)
                    power += x * x
                    layers += 1
                }
            }
            rms = (power / Double(max(layers, 1))).squareRoot()
        }
        if m.levelMode == .relative { return (level * rms, rms) }
        return (level, rms)
    }
}
