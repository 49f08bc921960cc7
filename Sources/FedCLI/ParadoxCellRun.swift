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
    /// The ε a DP cell spent at `dp.delta` (example-level for DP-SGD, client-level for DP-FedAvg); nil (an empty
    /// field) for every heuristic cell.
    public var epsilon: Double? = nil
    /// Offline LiRA with `referenceModels` reference models (nil, empty fields: not run).
    public var calibrated: MembershipInferenceResult? = nil

    static let header = "model,setting,mechanism,level,seed,parameters,train_accuracy,train_loss,test_accuracy,"
        + "test_loss,generalization_gap,stability_std,mean_abs_change,sigma,signal_rms,snr_power,snr_power_db,"
        + "snr_amplitude,snr_amplitude_db,mia_auc,mia_tpr_at_1pct_fpr,mia_advantage,mia_yeom_tpr,mia_yeom_fpr,epsilon,"
        + "lira_auc,lira_tpr_at_1pct_fpr"

    var csvRow: String {
        let values: [Double] = [trainAccuracy, trainLoss, testAccuracy, testLoss, trainAccuracy - testAccuracy,
                                stabilityStd, meanAbsoluteChange, sigma, signalRMS, snr.power, snr.powerDB,
                                snr.amplitude, snr.amplitudeDB, attack.auc, attack.tprAt1PercentFPR, attack.advantage,
                                attack.yeomTPR, attack.yeomFPR]
        return cell.key + ",\(parameters)," + values.map { "\($0)" }.joined(separator: ",")
            + "," + (epsilon.map { "\($0)" } ?? "")
            + "," + (calibrated.map { "\($0.auc),\($0.tprAt1PercentFPR)" } ?? ",")
    }
}

/// Where one cell's wall time went: training (with its per-epoch or per-round test evaluation, as `train` and `run`
/// do it) and the study's own measurement afterwards (final evaluations, the attacks, SNR). Not in cells.csv, whose
/// bytes must not depend on timing; `timing.csv` holds it.
struct ParadoxCellTiming: Sendable {
    var trainSeconds: Double
    /// Everything after training except the calibrated attack's reference models.
    var measureSeconds: Double
    /// Training and scoring the offline-LiRA reference models (0 without `referenceModels`): K more trainings,
    /// the price of that optional attack, reported apart from the study's overhead.
    var calibrationSeconds: Double
}

enum ParadoxCellRun {
    /// Trains `cell` and measures it. Deterministic for the cell (its seed), whatever the thread count.
    static func run(_ cell: ParadoxCell, study: ParadoxConfiguration, train: DatasetSamples,
                    test: DatasetSamples) async throws -> ParadoxCellResult {
        try await timedRun(cell, study: study, train: train, test: test).result
    }

    /// `run`, with the wall time of training and of the measurement after it.
    static func timedRun(_ cell: ParadoxCell, study: ParadoxConfiguration, train: DatasetSamples,
                         test: DatasetSamples) async throws -> (result: ParadoxCellResult, timing: ParadoxCellTiming) {
        let base = try cell.model.network(inputShape: train.sampleShape, classes: train.classCount)
        let noise = cell.noise
        let network = try noise?.network(base) ?? base
        let t0 = monotonicSeconds()
        let (parameters, series, epsilon, lastTest) = try await trainModel(cell, network: network, study: study,
                                                                           train: train, test: test)
        let t1 = monotonicSeconds()
        // Noise layers that only act in training are the identity here: evaluating without them gives the same
        // bits without copying their tensors, and the activations seen on the way are the clean ones.
        let evaluated = inferenceNetwork(network, base: base)
        let capacity = evaluationCapacity(study, train: train)
        // The clean model's evaluation workspace is kept between cells (its buffers allocated and zeroed once).
        let shelf = evaluated.clean ? shelfKey(cell.model, train: train, capacity: capacity) : nil
        let workspace = shelf.map { key in
            evaluationWorkspaces.take(key) { Workspace(network: base, capacity: capacity) }
        } ?? Workspace(network: evaluated.network, capacity: capacity)
        defer { if let shelf { evaluationWorkspaces.put(shelf, workspace) } }
        let n = study.attackSamples
        let members = Array(0..<min(n, train.sampleCount)), others = Array(0..<min(n, test.sampleCount))
        let site = evaluated.clean ? SiteActivationRMS(noise, base: base, members: members.count) : nil
        // One evaluation pass gives the accuracy and loss, the attack's per-example losses and the SNR's clean RMS.
        let (trainEval, memberLosses) = evaluateWithLosses(evaluated.network, parameters: parameters, on: train,
                                                           indices: members, workspace: workspace, tap: site?.tap)
        // Training's last epoch or round already evaluated the final model on the test set: kept, not recomputed
        // (DP-SGD's logits scored in this workspace's batches, as a pass of its own would).
        let (testEval, testLosses) = switch lastTest {
        case .scored(let evaluation, let losses)?: (evaluation, losses)
        case .logits(let logits)?: logits.scored(batch: workspace.capacity)
        case nil: evaluateWithLosses(evaluated.network, parameters: parameters, on: test, workspace: workspace)
        }
        // The non-members are the first test examples; a pass of its own when they are not all of them, so that
        // their batches (and bits) are those of `perExampleLosses` on them.
        let nonMemberLosses = others.count == test.sampleCount ? testLosses
            : MembershipInference.perExampleLosses(evaluated.network, parameters: parameters, on: test,
                                                   indices: others, workspace: workspace)
        let attack = MembershipInference.lossThreshold(memberLosses: memberLosses, nonMemberLosses: nonMemberLosses)
        let t2 = monotonicSeconds()
        let calibrated = study.referenceModels >= 2 ? try await calibratedAttack(
            cell, network: network, study: study, train: train, test: test, members: members, others: others,
            memberLosses: memberLosses, nonMemberLosses: nonMemberLosses) : nil
        let t3 = monotonicSeconds()
        let time = cell.setting == .centralized ? study.epochs - 1 : study.rounds
        let (sigma, rms) = siteSignal(noise, base: base, parameters: parameters, train: train, members: members,
                                      time: time, cleanRMS: site?.measured ?? [:])
        let result = ParadoxCellResult(
            cell: cell, parameters: ParadoxCNN.trainableCount(base), trainAccuracy: trainEval.accuracy,
            trainLoss: trainEval.loss, testAccuracy: testEval.accuracy, testLoss: testEval.loss,
            stabilityStd: StabilityMetrics.lastWindowStd(series, window: study.stabilityWindow),
            meanAbsoluteChange: StabilityMetrics.meanAbsoluteChange(series), sigma: sigma, signalRMS: rms,
            snr: SignalToNoise(signalRMS: rms, noiseStd: sigma), attack: attack, epsilon: epsilon,
            calibrated: calibrated)
        let calibration = calibrated == nil ? 0 : t3 - t2
        let timing = ParadoxCellTiming(trainSeconds: t1 - t0, measureSeconds: monotonicSeconds() - t1 - calibration,
                                       calibrationSeconds: calibration)
        return (result, timing)
    }

    /// Evaluation workspaces of the clean models, shared by the cells of a process.
    static let evaluationWorkspaces = WorkspaceShelf()

    /// The shelf key of `model`'s clean evaluation workspace.
    static func shelfKey(_ model: ModelKind, train: DatasetSamples, capacity: Int) -> String {
        "\(model.rawValue) \(train.sampleShape) \(train.classCount) \(capacity)"
    }

    /// Puts `copies` evaluation workspaces of each model of `cells` on the shelf (at most that many in all), so
    /// that no cell's measurement allocates and zeroes one: the study's set-up, not a cell's overhead.
    static func prepareEvaluation(_ cells: [ParadoxCell], study: ParadoxConfiguration, train: DatasetSamples,
                                  copies: Int) throws {
        let capacity = evaluationCapacity(study, train: train)
        for model in Set(cells.map(\.model)) {
            let base = try model.network(inputShape: train.sampleShape, classes: train.classCount)
            evaluationWorkspaces.fill(shelfKey(model, train: train, capacity: capacity), count: copies) {
                Workspace(network: base, capacity: capacity)
            }
        }
    }

    /// The batch of every evaluation pass of a cell: the training batch, at least 64, as centralised training's
    /// per-epoch evaluation uses (so its last one is the cell's test evaluation), and small enough for the
    /// activations to stay in cache (at 256 a `small-cnn` evaluation ran slower per image than training).
    static func evaluationCapacity(_ study: ParadoxConfiguration, train: DatasetSamples) -> Int {
        max(min(study.batchSize, train.sampleCount), 64)
    }

    /// The final model's test evaluation as training left it: with its per-example losses, or (DP-SGD, whose
    /// evaluation batches are its own) the logits to score them from.
    enum FinalTest {
        case scored(Evaluation, [Double])
        case logits(EvaluationLogits)
    }

    /// Trains the cell's model on `train`: centrally (with its noise, or DP-SGD) or by a federation (FedAvg with
    /// its noise, or DP-FedAvg). The final model, its per-epoch or per-round test accuracies, a DP cell's ε, and
    /// the final model's test evaluation as training computed it (nil when it did not).
    static func trainModel(_ cell: ParadoxCell, network: Network, study: ParadoxConfiguration, train: DatasetSamples,
                           test: DatasetSamples) async throws
        -> (parameters: [Float], series: [Double], epsilon: Double?, lastTest: FinalTest?) {
        switch cell.setting {
        case .centralized where cell.dp == .dpSGD:
            let r = try dpSGD(cell, network: network, study: study, train: train, test: test)
            return (r.parameters, r.series, r.epsilon, r.lastTest.map { .logits($0) })
        case .centralized:
            let r = centralized(cell, network: network, noise: cell.noise, study: study, train: train, test: test)
            return (r.parameters, r.series, nil, r.lastTest.map { .scored($0.0, $0.1) })
        case .federated:
            let federation = try Federation(configuration: federationConfiguration(cell, study: study), train: train,
                                            test: test)
            let summary = try await federation.run()
            // The server evaluated the final model on the test set in its last round: keep those numbers.
            let last = summary.rounds.last
            let lastTest = federation.finalTestLosses.flatMap { losses -> (Evaluation, [Double])? in
                guard let accuracy = last?.testAccuracy, let loss = last?.testLoss else { return nil }
                return (Evaluation(loss: loss, accuracy: accuracy, count: test.sampleCount), losses)
            }
            return (federation.globalWeights ?? [], summary.rounds.compactMap(\.testAccuracy),
                    cell.dp != nil ? summary.privacy.epsilon ?? .nan : nil, lastTest.map { .scored($0.0, $0.1) })
        }
    }

    /// Centralised training: the noise of `TrainCommand` (layers, gradient per step, client sites per epoch).
    static func centralized(_ cell: ParadoxCell, network: Network, noise: NoiseInfusion?, study: ParadoxConfiguration,
                            train: DatasetSamples, test: DatasetSamples)
        -> (parameters: [Float], series: [Double], lastTest: (Evaluation, [Double])?) {
        var parameters = network.initialParameters(key: StreamKey(seed: cell.seed, 0))
        let batch = min(study.batchSize, train.sampleCount)
        let settings = TrainingSettings(epochs: study.epochs, batchSize: batch,
                                        learningRate: Float(study.learningRate), momentum: Float(study.momentum))
        var trainer = Trainer(network: network, settings: settings, key: StreamKey(seed: cell.seed, 1))
        let workspace = Workspace(network: network, capacity: evaluationCapacity(study, train: train))
        let indices = Array(0..<train.sampleCount)
        var series: [Double] = []
        var lastTest: (Evaluation, [Double])? = nil
        for epoch in 0..<study.epochs {
            let start = parameters
            (trainer.gradientTransform, trainer.blockGradientTransform) = noise?.gradientNoise(
                network: network, key: StreamKey(seed: cell.seed, 2, 1, UInt64(epoch)), time: epoch) ?? (nil, nil)
            _ = trainer.runEpoch(epoch, parameters: &parameters, on: train, indices: indices, workspace: workspace)
            noise?.perturbClient(&parameters, start: start, ranges: NoiseInfusion.noiseRanges(network),
                                 key: StreamKey(seed: cell.seed, 2, 2, UInt64(epoch)), time: epoch)
            // The last epoch also keeps the per-example losses for the attack (`evaluate`'s numbers either way).
            if epoch == study.epochs - 1 {
                let r = evaluateWithLosses(network, parameters: parameters, on: test, workspace: workspace)
                series.append(r.evaluation.accuracy)
                lastTest = r
            } else {
                series.append(evaluate(network, parameters: parameters, on: test, workspace: workspace).accuracy)
            }
        }
        return (parameters, series, lastTest)
    }

    /// σ of the first mechanism at its first site and RMS of the clean tensor there, on the final model
    /// (`NoiseSiteSNR.measure` at schedule time `time`; relative levels give SNR 1/λ² exactly). `cleanRMS`: the
    /// site's clean RMS by label when the member evaluation already read it (`SiteActivationRMS`).
    static func siteSignal(_ noise: NoiseInfusion?, base: Network, parameters: [Float], train: DatasetSamples,
                           members: [Int], time: Int,
                           cleanRMS: [String: Double] = [:]) -> (sigma: Double, rms: Double) {
        guard let noise, let first = NoiseSiteSNR.measure(noise, base: base, parameters: parameters, data: train,
                                                          indices: members, time: time, limit: 1,
                                                          cleanRMS: cleanRMS).first
        else { return (0, .nan) }
        return (first.sigma, first.rms)
    }

    /// The network a cell's evaluations run: `base` when every noise layer of `network` acts only in training
    /// (the identity at inference, so both give the same bits; `clean`: the activations on the way are the clean
    /// ones the SNR needs), else `network` itself.
    static func inferenceNetwork(_ network: Network, base: Network) -> (network: Network, clean: Bool) {
        network.layers.allSatisfy { ($0 as? NoiseLayer)?.trainOnly ?? true } ? (base, true) : (network, false)
    }
}

/// The clean RMS at a cell's first noise site when that is an activation, read off the member evaluation pass
/// (`ActivationTap` on the clean network): the site layer's output for the first `NoiseSiteSNR.cleanSamples`
/// members, summed by `SumOfSquaresStream`, so the same samples and the same bits as `NoiseSiteSNR.cleanRMS`
/// (its own forward pass on them as one batch, and a workspace for it) when a sample's activations do not depend
/// on the batch it is in.
final class SiteActivationRMS {
    let label: String
    let layer: Int
    /// Floats per sample at the site, and the samples measured.
    let size: Int
    let samples: Int
    private var stream = SumOfSquaresStream()
    private var taken = 0

    /// nil when `noise` has no first site or it is not an activation (input and parameter sites cost no pass).
    init?(_ noise: NoiseInfusion?, base: Network, members: Int) {
        guard let noise, let first = NoiseSiteSNR.sites(noise, base: base).first, first.mechanism.site == .activation,
              let layer = first.layer, base.layers.indices.contains(layer), members > 0
        else { return nil }
        label = first.label
        self.layer = layer
        size = base.shapes[layer + 1].reduce(1, *)
        samples = min(members, NoiseSiteSNR.cleanSamples)
    }

    /// Feeds the first `samples` samples to pass layer `layer` into the sum.
    var tap: ActivationTap {
        ActivationTap(layer: layer) { [self] output, n in
            let k = min(n, samples - taken)
            guard k > 0 else { return }
            stream.add(output, count: k * size)
            taken += k
        }
    }

    /// Label → clean RMS once all `samples` have passed (empty before: the caller then measures it itself).
    var measured: [String: Double] { taken == samples ? [label: stream.rootMeanSquare] : [:] }
}

/// Workspaces kept for reuse by key (model, shapes, capacity): one per cell measuring at once (`--jobs`), so a
/// cell's measurement takes one already allocated instead of allocating and zeroing its buffers again. A workspace
/// is reused step after step in training anyway: a pass overwrites what it reads.
final class WorkspaceShelf: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [String: [Workspace]] = [:]

    /// A workspace put back under `key`, or `make()`'s.
    func take(_ key: String, make: () -> Workspace) -> Workspace {
        lock.lock()
        let kept = free[key]?.popLast()
        lock.unlock()
        return kept ?? make()
    }

    /// Makes workspaces with `make()` until `count` are kept under `key`.
    func fill(_ key: String, count: Int, make: () -> Workspace) {
        lock.lock()
        let missing = max(0, count - (free[key]?.count ?? 0))
        lock.unlock()
        let made = (0..<missing).map { _ in make() }
        lock.lock()
        free[key, default: []].append(contentsOf: made)
        lock.unlock()
    }

    /// Puts `workspace` back for the next `take(key)`.
    func put(_ key: String, _ workspace: Workspace) {
        lock.lock()
        free[key, default: []].append(workspace)
        lock.unlock()
    }
}
