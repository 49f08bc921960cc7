// FairnessStudy: one DP-SGD run of the two-layer ReLU CNN on synthetic patch data, with per-group metrics and FNRs.
import FedAttack
import FedData
import FedNN
import FedTensor
import Foundation

/// The study's settings (spec C.2 defaults; `quick` is the smoke-test grid).
struct FairnessSettings: Codable {
    var data = SyntheticPatchSettings()
    var filtersPerClass = 20
    var initialStd = 0.01
    var trainCount = 500
    var testCount = 2_000
    var expectedBatch = 50
    var learningRate = 0.1
    var steps = 300
    var maxGradNorm = 1.0
    var delta = 1e-5
    var sigmas = [0, 0.5, 1, 2, 4]
    var tailNorms = [1.0, 2, 5]
    var commonNorm = 5.0
    /// PGD-10 L2 budget on the synthetic inputs (no pixel box), α = ε/4.
    var attackEpsilon: Float = 1
    /// Pre-training shift angles θ (degrees) and the fine-tuning σ and tail norm.
    var rotations = [0.0, 22.5, 45, 67.5, 90]
    var fineTuneSigma = 4.0
    /// Fine-tuning is short (noise-limited), where a good start should matter.
    var fineTuneSteps = 50
    var fineTuneTailNorm = 2.0
    var seed: UInt64 = 1
    /// Effective FNR logged every this many steps.
    var fnrEvery = 50
    /// Claim 5 (mitigations) at this σ and tail norm: frozen filter fractions and augmentation copies.
    var mitigationSigma = 2.0
    var mitigationTailNorm = 2.0
    var freezeFractions = [0.5, 0.75]
    var augmentCopies = [4, 16]

    static var quick: FairnessSettings {
        var s = FairnessSettings()
        s.data.dimension = 64
        s.filtersPerClass = 4
        s.trainCount = 200
        s.testCount = 200
        s.expectedBatch = 20
        s.steps = 20
        s.sigmas = [0, 2]
        s.tailNorms = [1]
        s.rotations = [0, 90]
        s.fnrEvery = 10
        s.fineTuneSteps = 10
        s.freezeFractions = [0.5]
        s.augmentCopies = [2]
        return s
    }
}

/// One run's results: overall and per group (g = class·S + subgroup) and per subpopulation (common 0, tail 1…).
struct FairnessRun {
    var sigma: Double
    var tailNorm: Double
    var epsilon: Double
    var groups: GroupReport
    var subgroups: GroupReport
    /// Robust (PGD) correctness per group; the loss column holds the adversarial losses.
    var robustGroups: GroupReport
    var robust: RobustEvaluation
    /// Per group: ‖u‖/σ_n, and the effective FNR at initialisation and at the end.
    var paperFNR: [Double]
    var effectiveFNRStart: [Double]
    var effectiveFNREnd: [Double]
    /// (step, effective FNR per group) every `fnrEvery` steps, from step 0 to the end.
    var fnrTrace: [(step: Int, fnr: [Double])]
    var parameters: [Float]
    /// Claim 5: the fraction of filters frozen and the augmentation copies k (1: none).
    var frozenFraction = 0.0
    var copies = 1
}

enum FairnessStudy {
    static func network(_ s: FairnessSettings, frozenFraction: Double = 0) throws -> Network {
        try Network(inputShape: [s.data.patches, s.data.dimension],
                    layers: [TwoLayerReLUCNN(classes: s.data.classes, filtersPerClass: s.filtersPerClass,
                                             initialStd: Float(s.initialStd),
                                             frozenFiltersPerClass: Int((frozenFraction * Double(s.filtersPerClass))
                                                .rounded()))])
    }

    /// Trains from `start` (nil: N(0, σ₀²)) with DP-SGD at σ on data drawn with `data`, then evaluates.
    static func run(_ s: FairnessSettings, data: SyntheticPatchSettings, sigma: Double, tailNorm: Double,
                    start: [Float]? = nil, steps: Int? = nil, stream: UInt64, frozenFraction: Double = 0,
                    copies: Int = 1) throws -> FairnessRun {
        let steps = steps ?? s.steps
        let key = StreamKey(seed: s.seed, stream)
        // Train and test sets share the features (same settings) and differ in their draws.
        let train = try SyntheticPatches(settings: data, count: s.trainCount, key: StreamKey(seed: s.seed, 1, stream))
        let test = try SyntheticPatches(settings: data, count: s.testCount, key: StreamKey(seed: s.seed, 2, stream))
        let net = try network(s, frozenFraction: frozenFraction)
        var parameters = start ?? net.initialParameters(key: key.child(3))
        // Claim 5's augmentation: k copies of each example with fresh noise patches, redrawn every step.
        func augmented(_ step: Int) -> AugmentedSamples<ArraySamples> {
            AugmentedSamples(train.samples, augmentation: .freshNoise(data), copies: copies,
                             key: key.child(6, UInt64(step)))
        }
        let q = Double(s.expectedBatch) / Double(s.trainCount)
        let dp = DPSGDSettings(noiseMultiplier: sigma, maxGradientNorm: s.maxGradNorm, sampleRate: q)
        var trainer = DPSGDTrainer(network: net, settings: TrainingSettings(learningRate: Float(s.learningRate)),
                                   dp: dp, key: key.child(4))
        let workspace = Workspace(network: net, capacity: 128)
        let indices = Array(0..<s.trainCount), groupCount = data.groups
        var trace: [(step: Int, fnr: [Double])] = []
        for step in 0...steps {
            if step % s.fnrEvery == 0 || step == steps {
                trace.append((step, copies == 1
                    ? FeatureToNoise.effective(trainer: &trainer, parameters: &parameters, on: train.samples,
                                               indices: indices, groups: train.groups, groupCount: groupCount,
                                               workspace: workspace)
                    : effectiveWithCopies(&trainer, parameters, augmented(step), train.groups, groupCount, copies,
                                          workspace)))
            }
            if step < steps {
                if copies == 1 {
                    trainer.step(parameters: &parameters, on: train.samples, indices: indices, workspace: workspace)
                } else {
                    trainer.step(parameters: &parameters, on: augmented(step), indices: indices, workspace: workspace,
                                 copies: copies)
                }
            }
        }
        let epsilon = sigma > 0 ? (try? trainer.epsilon(delta: s.delta)) ?? .infinity : .infinity
        let e = evaluateExamples(net, parameters: parameters, on: test.samples, workspace: workspace)
        let correct = zip(e.labels, e.predictions).map { $0 == $1 }
        let S = data.subgroups
        let attacker = AdversarialAttacker(network: net, workspace: workspace,
                                           pixels: PixelSpace(lower: -.infinity, upper: .infinity))
        var robustFlags = [Bool](repeating: false, count: s.testCount)
        var adversarialLoss = [Double](repeating: 0, count: s.testCount)
        let robust = attacker.evaluate(parameters: parameters, on: test.samples,
                                       attack: .pgd(.l2, epsilon: s.attackEpsilon, steps: 10),
                                       key: key.child(5)) {
            robustFlags[$0.index] = $0.robust
            adversarialLoss[$0.index] = $0.adversarialLoss
        }
        let sigmaN = FeatureToNoise.noiseStd(dp, examples: s.trainCount)
        return FairnessRun(
            sigma: sigma, tailNorm: tailNorm, epsilon: epsilon,
            groups: GroupReport(groupCount: groupCount, group: test.groups, correct: correct, loss: e.losses),
            subgroups: GroupReport(groupCount: S, group: test.groups.map { $0 % S }, correct: correct, loss: e.losses),
            robustGroups: GroupReport(groupCount: groupCount, group: test.groups, correct: robustFlags,
                                      loss: adversarialLoss),
            robust: robust,
            paperFNR: (0..<groupCount).map { data.norm(class: $0 / S, subgroup: $0 % S) / sigmaN },
            effectiveFNRStart: trace.first!.fnr, effectiveFNREnd: trace.last!.fnr, fnrTrace: trace,
            parameters: parameters, frozenFraction: frozenFraction, copies: copies)
    }

    /// `FeatureToNoise.effective` under augmentation multiplicity: each group's mean clipped *averaged* gradient
    /// (the k copies' mean, clipped as one: what a step adds), over up to 256 members.
    static func effectiveWithCopies(_ trainer: inout DPSGDTrainer, _ parameters: [Float],
                                    _ data: AugmentedSamples<ArraySamples>, _ groups: [Int], _ groupCount: Int,
                                    _ copies: Int, _ workspace: Workspace) -> [Double] {
        let dp = trainer.dp
        let noiseNorm = dp.noiseMultiplier * dp.maxGradientNorm
            * Double(trainer.network.trainableCount(frozen: trainer.frozen)).squareRoot()
        return (0..<groupCount).map { g in
            let members = groups.indices.filter { groups[$0] == g }
            guard !members.isEmpty else { return .nan }
            let picked = Array(members.prefix(256))
            var sum = [Float](repeating: 0, count: trainer.network.parameterCount)
            _ = trainer.multiplicityClippedSum(parameters: parameters, on: data, batch: picked, copies: copies,
                                               workspace: workspace, into: &sum)
            let norm = sum.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let expected = dp.sampleRate * Double(members.count) * norm / Double(picked.count)
            return noiseNorm > 0 ? expected / noiseNorm : .infinity
        }
    }

    /// The data settings of the grid cell with tail-subpopulation feature norm `tail`, rotated by θ degrees.
    static func data(_ s: FairnessSettings, tail: Double, degrees: Double = 0) -> SyntheticPatchSettings {
        var d = s.data
        d.featureNorms = (0..<d.classes).map { _ in (0..<d.subgroups).map { $0 == 0 ? s.commonNorm : tail } }
        d.rotation = degrees * Double.pi / 180
        return d
    }
}

/// Spearman's rank correlation of (x, y) pairs (average ranks for ties).
func spearman(_ x: [Double], _ y: [Double]) -> Double {
    func ranks(_ v: [Double]) -> [Double] {
        let order = v.indices.sorted { v[$0] < v[$1] }
        var r = [Double](repeating: 0, count: v.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
            for k in i...j { r[order[k]] = Double(i + j) / 2 }
            i = j + 1
        }
        return r
    }
    let rx = ranks(x), ry = ranks(y), n = Double(x.count)
    let mx = rx.reduce(0, +) / n, my = ry.reduce(0, +) / n
    var sxy = 0.0, sxx = 0.0, syy = 0.0
    for i in x.indices {
        sxy += (rx[i] - mx) * (ry[i] - my)
        sxx += (rx[i] - mx) * (rx[i] - mx)
        syy += (ry[i] - my) * (ry[i] - my)
    }
    return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : .nan
}
