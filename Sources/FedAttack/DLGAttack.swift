// DLGAttack: Deep Leakage from Gradients (Zhu et al. 2019) with iDLG labels, run against one observed gradient.
import FedNN
import FedTensor
import Foundation

/// Which optimiser moves the dummy data.
public enum AttackOptimizer: String, Sendable, Codable, CaseIterable {
    /// L-BFGS with a strong-Wolfe line search (the reference uses torch's L-BFGS, lr 1).
    case lbfgs
    /// Adam, lr `adamLearningRate` (0.1 by default, as in Geiping et al.).
    case adam
}

/// How the labels are found.
public enum LabelStrategy: String, Sendable, Codable, CaseIterable {
    /// iDLG for batch 1 (then only the image is optimised); a batch > 1 falls back to `joint`.
    case idlg
    /// DLG: dummy label logits ŷ ~ N(0, 1) optimised with the image, target softmax(ŷ).
    case joint
}

/// Settings of one attack run.
public struct AttackSettings: Sendable {
    public var optimizer: AttackOptimizer = .lbfgs
    public var iterations = 300
    public var distance: MatchingDistance = .l2
    public var labels: LabelStrategy = .idlg
    public var adamLearningRate = 0.1
    /// h of the mixed-derivative difference.
    public var step = GradientMatcher.defaultStep
    /// Stop once MSE ≤ this (0: never; the run still records every iteration until then).
    public var stopAtMSE = 0.0
    /// Keep the reconstruction at these iterations (0: the initial dummy).
    public var snapshots: [Int] = []
    /// Unroll the client's E local steps at η inside the attack (nil: match one gradient).
    public var unroll: (steps: Int, learningRate: Float)? = nil
    public init() {}
}

/// The state after one attack iteration.
public struct IterationRecord: Sendable {
    public var iteration: Int
    /// Objective evaluations so far (line-search trials included).
    public var evaluations: Int
    /// D at this iterate (Adam: at the point its step started from).
    public var loss: Double
    public var mse: Double
    public var psnr: Double
    public var ssim: Double
    public var labelAccuracy: Double
    public var seconds: Double
}

/// What an attack produced.
public struct AttackResult: Sendable {
    public var records: [IterationRecord]
    /// Reconstructions (batch × H·W·C, clamped to [0, 1], matched to the true order) by iteration.
    public var snapshots: [Int: [Float]]
    public var final: [Float]
    public var inferredLabels: [Int32]
    public var labelSource: String
    public var seconds: Double
}

/// Runs DLG against `observed` (the gradient the server inferred from the upload) for the client batch `truth`,
/// which is used only to score each iteration. Dummy data and labels start N(0, 1) from `key`.
public func runDLG(model: AttackModel, observed: [Float], truth: ClientBatch, settings: AttackSettings,
                   key: StreamKey, progress: ((IterationRecord) -> Void)? = nil) -> AttackResult {
    let start = Date()
    let b = truth.count, classes = model.classes, n = b * model.inputSize
    let (h, w, c) = (model.imageShape[0], model.imageShape[1], model.imageShape[2])
    let matcher = GradientMatcher(network: model.network, batch: b, parameters: model.parameters, target: observed,
                                  distance: settings.distance, step: settings.step)
    if let unroll = settings.unroll, unroll.steps > 1 {
        matcher.localSteps = unroll.steps
        matcher.localLearningRate = unroll.learningRate
    }
    var fixedLabels: [Int32]? = nil
    var labelSource = "joint (DLG)"
    if settings.labels == .idlg, b == 1, let label = inferLabelIDLG(gradient: observed, model: model) {
        fixedLabels = [label]
        labelSource = "iDLG"
    }
    var rng = Philox(key)
    var x0 = (0..<n).map { _ in rng.nextGaussian() }
    if fixedLabels == nil { x0 += (0..<(b * classes)).map { _ in rng.nextGaussian() } }

    func split(_ v: [Double]) -> (image: [Float], targets: [Double], logits: [Double]) {
        let image = v[0..<n].map { Float($0) }
        if let fixedLabels {
            return (image, ClientBatch(images: [], labels: fixedLabels).oneHot(classes: classes), [])
        }
        let logits = Array(v[n...])
        return (image, softmaxRows(logits, classes: classes), logits)
    }
    let objective: Objective = { v in
        let (image, t, _) = split(v)
        let e = matcher.evaluate(input: image, targets: t)
        guard fixedLabels == nil else { return (e.value, e.inputGradient) }
        var grad = e.inputGradient
        for row in 0..<b {  // chain through softmax: ∂D/∂ŷ = t ⊙ (a − ⟨t, a⟩)
            let r = row * classes..<(row + 1) * classes
            var ta = 0.0
            for i in r { ta += t[i] * e.targetGradient[i] }
            for i in r { grad.append(t[i] * (e.targetGradient[i] - ta)) }
        }
        return (e.value, grad)
    }
    var records: [IterationRecord] = []
    var snapshots: [Int: [Float]] = [:]
    var labels: [Int32] = fixedLabels ?? []
    func record(_ it: Int, _ v: [Double], _ value: Double) -> Bool {
        let (image, _, logits) = split(v)
        if fixedLabels == nil {
            labels = (0..<b).map { row in
                let r = logits[row * classes..<(row + 1) * classes]
                return Int32(r.firstIndex(of: r.max()!)! - row * classes)
            }
        }
        let q = reconstructionQuality(reconstructed: image, truth: truth.images, count: b, height: h, width: w,
                                      channels: c)
        var correct = 0
        for i in 0..<b where labels[i] == truth.labels[q.assignment[i]] { correct += 1 }
        let r = IterationRecord(iteration: it, evaluations: matcher.evaluations, loss: value, mse: q.mse,
                                psnr: q.psnr, ssim: q.ssim, labelAccuracy: Double(correct) / Double(b),
                                seconds: Date().timeIntervalSince(start))
        records.append(r)
        if settings.snapshots.contains(it) { snapshots[it] = ordered(image, q.assignment) }
        progress?(r)
        return !(settings.stopAtMSE > 0 && q.mse <= settings.stopAtMSE)
    }
    func ordered(_ image: [Float], _ assignment: [Int]) -> [Float] {
        var out = [Float](repeating: 0, count: image.count)
        let per = model.inputSize
        for i in 0..<b { for k in 0..<per { out[assignment[i] * per + k] = min(max(image[i * per + k], 0), 1) } }
        return out
    }
    _ = record(0, x0, objective(x0).value)
    let result: (x: [Double], value: Double)
    switch settings.optimizer {
    case .lbfgs: result = LBFGS().minimize(objective, from: x0, iterations: settings.iterations, callback: record)
    case .adam:
        result = Adam(learningRate: settings.adamLearningRate).minimize(objective, from: x0,
                                                                        iterations: settings.iterations,
                                                                        callback: record)
    }
    let (image, _, _) = split(result.x)
    let q = reconstructionQuality(reconstructed: image, truth: truth.images, count: b, height: h, width: w,
                                  channels: c)
    return AttackResult(records: records, snapshots: snapshots, final: ordered(image, q.assignment),
                        inferredLabels: labels, labelSource: labelSource,
                        seconds: Date().timeIntervalSince(start))
}
