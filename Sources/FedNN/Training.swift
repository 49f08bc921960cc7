// Training: the local SGD loop over a sample source, and evaluation of a model on one.
import FedTensor
import Foundation

/// Loss and accuracy over a set of samples.
public struct Evaluation: Sendable, Equatable, Codable {
    public var loss: Double
    public var accuracy: Double
    public var count: Int

    public init(loss: Double, accuracy: Double, count: Int) {
        self.loss = loss
        self.accuracy = accuracy
        self.count = count
    }
}

/// Progress of a training loop, reported after every step.
public struct TrainingProgress: Sendable {
    public var epoch: Int
    public var step: Int
    public var stepsPerEpoch: Int
    /// Mean training loss and accuracy over the samples of this epoch so far.
    public var meanLoss: Double
    public var meanAccuracy: Double
    public var samplesSeen: Int
}

/// Settings of a local SGD loop (the E, B and η of FedAvg).
public struct TrainingSettings: Sendable, Equatable, Codable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    /// Epoch e (from 0) trains with learningRate · learningRateDecay^e (1: constant).
    public var learningRateDecay: Float

    public init(epochs: Int = 1, batchSize: Int = 10, learningRate: Float = 0.01, momentum: Float = 0,
                weightDecay: Float = 0, learningRateDecay: Float = 1) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.learningRateDecay = learningRateDecay
    }
}

/// Minibatch SGD over one client's or one run's samples, epoch by epoch, keeping the optimiser state between epochs.
public struct Trainer {
    public let network: Network
    public let settings: TrainingSettings
    /// Batch orders come from `key.child(epoch)`; noisy layers draw from `key` at a per-step counter.
    public let key: StreamKey
    public var frozen: Set<Int>
    /// With plain SGD (momentum and weight decay 0), apply each layer's update inside its backward pass
    /// (`Workspace.backwardAndStep`): same result, less memory traffic. The workspace's `gradient` then does not
    /// hold the last step's gradient. Set false to keep it.
    public var fusedUpdate = true
    /// A hook called after every backward pass with the parameters and their gradient, before the step (e.g.
    /// FedProx's proximal term adds μ·(w − w_t)). Setting it turns off the fused update.
    public var gradientTransform: GradientTransform?
    /// A gradient transform applied block by block inside the SGD step, after `gradientTransform` (e.g. noise
    /// infusion's gradient noise: `NoiseInfusion.gradientNoise`). Setting it turns off the fused update.
    public var blockGradientTransform: BlockGradientTransform?
    /// A hook that replaces the SGD step: it gets the parameters and the (transformed) gradient and updates the
    /// parameters. Setting it turns off the fused update; `settings`' momentum and weight decay are then its business.
    public var optimizerStep: OptimizerStep?
    /// Training time t that noise-infusion layers' schedules read (`NoiseSource.time`): the round in a federation;
    /// nil: the epoch.
    public var noiseTime: Int?
    private var sgd: SGD
    private var labels: [Int32]
    private var samplesSeen = 0

    public init(network: Network, settings: TrainingSettings, key: StreamKey, frozen: Set<Int> = []) {
        precondition(settings.batchSize > 0 && settings.epochs >= 0, "invalid training settings")
        self.network = network
        self.settings = settings
        self.key = key
        self.frozen = frozen
        self.sgd = SGD(learningRate: settings.learningRate, momentum: settings.momentum,
                       weightDecay: settings.weightDecay)
        self.labels = [Int32](repeating: 0, count: settings.batchSize)
    }

    /// One pass over `indices` (in `BatchOrder`: seeded shuffle, last partial batch kept). Returns the mean training
    /// loss and accuracy of the batches as they were trained.
    public mutating func runEpoch(
        _ epoch: Int, parameters: inout [Float], on data: some SampleSource, indices: [Int], workspace: Workspace,
        progress: ((TrainingProgress) -> Void)? = nil
    ) -> (loss: Double, accuracy: Double) {
        precondition(workspace.capacity >= settings.batchSize, "workspace smaller than the batch size")
        guard !indices.isEmpty else { return (.nan, .nan) }
        sgd.learningRate = settings.learningRate * pow(settings.learningRateDecay, Float(epoch))
        let batches = BatchOrder(indices: indices, batchSize: settings.batchSize, key: key, epoch: epoch)
        let order = batches.order
        let b = settings.batchSize
        let steps = batches.count
        var lossSum = 0.0, correct = 0, count = 0
        // Frozen coordinates get a zero gradient; weight decay and the hooks could still move them: put them back.
        var keep = FrozenSnapshot(network: network, frozen: frozen)
        let guardFrozen = !keep.isEmpty && (sgd.weightDecay != 0 || gradientTransform != nil
                                            || blockGradientTransform != nil || optimizerStep != nil)
        for stepIndex in 0..<steps {
            if guardFrozen { keep.take(parameters) }
            let lo = stepIndex * b, hi = min(lo + b, order.count)
            order.withUnsafeBufferPointer { o in
                labels.withUnsafeMutableBufferPointer { l in
                    data.gather(UnsafeBufferPointer(rebasing: o[lo..<hi]), inputs: workspace.input,
                                labels: l.baseAddress!)
                }
            }
            let r = trainingStep(network, parameters: &parameters, labels: labels, batch: hi - lo,
                                 workspace: workspace, sgd: &sgd, frozen: frozen,
                                 noise: NoiseSource(key: key, step: UInt64(samplesSeen), time: noiseTime ?? epoch),
                                 fusedUpdate: fusedUpdate, gradientTransform: gradientTransform,
                                 blockGradientTransform: blockGradientTransform, optimizerStep: optimizerStep)
            if guardFrozen { keep.restore(&parameters) }
            lossSum += r.loss * Double(hi - lo)
            correct += r.correct
            count += hi - lo
            samplesSeen += hi - lo
            progress?(TrainingProgress(epoch: epoch, step: stepIndex + 1, stepsPerEpoch: steps,
                                       meanLoss: lossSum / Double(count), meanAccuracy: Double(correct) / Double(count),
                                       samplesSeen: samplesSeen))
        }
        return (lossSum / Double(count), Double(correct) / Double(count))
    }
}

/// Trains `parameters` in place for `settings.epochs` epochs over `indices` of `data` (all samples if nil).
/// Deterministic for a given key, whatever the thread count.
public func train(
    _ network: Network, parameters: inout [Float], on data: some SampleSource, indices: [Int]? = nil,
    settings: TrainingSettings, key: StreamKey, workspace: Workspace, frozen: Set<Int> = [],
    progress: ((TrainingProgress) -> Void)? = nil
) {
    var trainer = Trainer(network: network, settings: settings, key: key, frozen: frozen)
    let all = indices ?? Array(0..<data.sampleCount)
    for epoch in 0..<settings.epochs {
        _ = trainer.runEpoch(epoch, parameters: &parameters, on: data, indices: all, workspace: workspace,
                             progress: progress)
    }
}

/// Changes a step's gradient in place, given the parameters it was computed at (same layout, same length).
public typealias GradientTransform =
    @Sendable (_ parameters: UnsafeBufferPointer<Float>, _ gradient: UnsafeMutableBufferPointer<Float>) -> Void

/// A gradient transform made for one step's gradient and applied to it block by block, each block just before its
/// SGD update while it is in cache (`SGD.step(…, preparing:)`), instead of in a pass of its own: called with the
/// parameters and the whole gradient (which it may measure, e.g. per-layer RMS), it returns what to do to a block
/// of coordinates. For the same result as transforming the whole gradient first, a coordinate's new value may
/// depend on that measurement and the coordinate only (noise drawn by index does).
public typealias BlockGradientTransform =
    @Sendable (_ parameters: UnsafeBufferPointer<Float>, _ gradient: UnsafeMutableBufferPointer<Float>)
        -> @Sendable (Range<Int>) -> Void

/// Updates the parameters in place from a step's gradient (replaces the SGD step).
public typealias OptimizerStep =
    @Sendable (_ parameters: UnsafeMutableBufferPointer<Float>, _ gradient: UnsafeBufferPointer<Float>) -> Void

/// One SGD step on the batch already in `workspace.input`; returns the batch's mean loss and correct count.
/// With `fusedUpdate` and a plain `sgd` (`SGD.isPlain`), layers update their weights inside the backward pass
/// (`Workspace.backwardAndStep`): the same parameters, but `workspace.gradient` is not left holding the gradient.
@discardableResult
public func trainingStep(
    _ network: Network, parameters: inout [Float], labels: [Int32], batch: Int, workspace: Workspace,
    sgd: inout SGD, frozen: Set<Int> = [], noise: NoiseSource = .none, fusedUpdate: Bool = false,
    gradientTransform: GradientTransform? = nil, blockGradientTransform: BlockGradientTransform? = nil,
    optimizerStep: OptimizerStep? = nil
) -> (loss: Double, correct: Int) {
    let classes = network.outputSize
    var result = (lossSum: 0.0, correct: 0)
    let fused = fusedUpdate && sgd.isPlain && gradientTransform == nil && blockGradientTransform == nil
        && optimizerStep == nil
    parameters.withUnsafeMutableBufferPointer { p in
        // Only this workspace's backward pass follows: it reads a fused pool's routes, not its input.
        workspace.forward(parameters: p.baseAddress!, batch: batch, training: true, noise: noise,
                          keepsPoolInputs: false)
        labels.withUnsafeBufferPointer { l in
            // The loss gradient overwrites the logits: nothing reads them after this.
            result = softmaxCrossEntropy(logits: workspace.output, labels: l.baseAddress!, batch: batch,
                                         classes: classes, gradient: workspace.output)
        }
        if fused {
            workspace.backwardAndStep(parameters: p.baseAddress!, outputGradient: workspace.output, batch: batch,
                                      learningRate: sgd.learningRate, frozen: frozen)
        } else {
            workspace.backward(parameters: p.baseAddress!, outputGradient: workspace.output, batch: batch,
                               frozen: frozen, accumulate: false)
        }
    }
    if !fused {
        if let gradientTransform {
            parameters.withUnsafeBufferPointer { gradientTransform($0, workspace.gradient) }
        }
        let prepare = blockGradientTransform.map { t in parameters.withUnsafeBufferPointer { t($0, workspace.gradient) } }
        if let optimizerStep {
            prepare?(0..<workspace.gradient.count)
            parameters.withUnsafeMutableBufferPointer { optimizerStep($0, UnsafeBufferPointer(workspace.gradient)) }
        } else if let prepare {
            sgd.step(parameters: &parameters, gradient: workspace.gradient, preparing: prepare)
        } else {
            sgd.step(parameters: &parameters, gradient: workspace.gradient)
        }
    }
    return (result.lossSum / Double(batch), result.correct)
}

/// Mean loss and accuracy of `parameters` on `indices` of `data` (all if nil), in batches of the workspace capacity.
public func evaluate(
    _ network: Network, parameters: [Float], on data: some SampleSource, indices: [Int]? = nil, workspace: Workspace
) -> Evaluation {
    let all = indices ?? Array(0..<data.sampleCount)
    guard !all.isEmpty else { return Evaluation(loss: .nan, accuracy: .nan, count: 0) }
    var tally = EvaluationTally()
    forEachEvaluationBatch(parameters: parameters, on: data, indices: all, workspace: workspace) { _, n, labels in
        tally.add(workspace.output, labels: labels, n: n, classes: network.outputSize)
    }
    return tally.evaluation(count: all.count)
}

/// An evaluation's running loss sum and correct count, batch by batch in order (`softmaxCrossEntropy`'s batch
/// sums added as they come), and the `Evaluation` they make.
struct EvaluationTally {
    var lossSum = 0.0
    var correct = 0

    mutating func add(_ logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, n: Int, classes: Int) {
        let r = softmaxCrossEntropy(logits: logits, labels: labels, batch: n, classes: classes, gradient: nil)
        lossSum += r.lossSum
        correct += r.correct
    }

    func evaluation(count: Int) -> Evaluation {
        Evaluation(loss: lossSum / Double(count), accuracy: Double(correct) / Double(count), count: count)
    }
}

/// `evaluate` and every example's cross-entropy −log softmax(z)_y (Float64, max logit subtracted) from one
/// forward pass: the membership-inference attack's losses (`MembershipInference.perExampleLosses`) and the mean
/// loss and accuracy, bit for bit what the two separate passes give, at half the cost.
/// A `tap` reads one layer's output on the way (an activation the caller needs anyway) without a pass of its own.
public func evaluateWithLosses(
    _ network: Network, parameters: [Float], on data: some SampleSource, indices: [Int]? = nil, workspace: Workspace,
    tap: ActivationTap? = nil
) -> (evaluation: Evaluation, losses: [Double]) {
    let all = indices ?? Array(0..<data.sampleCount)
    guard !all.isEmpty else { return (Evaluation(loss: .nan, accuracy: .nan, count: 0), []) }
    var tally = EvaluationTally()
    var losses: [Double] = []
    losses.reserveCapacity(all.count)
    let classes = network.outputSize
    forEachEvaluationBatch(parameters: parameters, on: data, indices: all, workspace: workspace,
                           tap: tap) { _, n, labels in
        scoreBatch(workspace.output, labels: labels, n: n, classes: classes, tally: &tally, losses: &losses)
    }
    return (tally.evaluation(count: all.count), losses)
}

/// One batch of `evaluateWithLosses`: added to the tally, its examples' losses appended.
private func scoreBatch(_ logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, n: Int, classes: Int,
                        tally: inout EvaluationTally, losses: inout [Double]) {
    tally.add(logits, labels: labels, n: n, classes: classes)
    for i in 0..<n {
        let z = logits + i * classes
        var top = -Double.infinity
        for k in 0..<classes { top = max(top, Double(z[k])) }
        var sum = 0.0
        for k in 0..<classes { sum += exp(Double(z[k]) - top) }
        losses.append(top + log(sum) - Double(z[Int(labels[i])]))
    }
}

/// Every example's logits and label from an evaluation pass, in `indices` order (count × classes, sample-major).
public struct EvaluationLogits: Sendable, Equatable {
    public var logits: [Float]
    public var labels: [Int32]
    public var classes: Int
}

/// `evaluate`, keeping every example's logits: an evaluation that runs anyway (e.g. a training's per-epoch test
/// evaluation) can then give `evaluateWithLosses`'s numbers later without a forward pass (`scored(batch:)`).
public func evaluateKeepingLogits(
    _ network: Network, parameters: [Float], on data: some SampleSource, indices: [Int]? = nil, workspace: Workspace
) -> (evaluation: Evaluation, logits: EvaluationLogits) {
    let all = indices ?? Array(0..<data.sampleCount)
    let classes = network.outputSize
    var kept = EvaluationLogits(logits: [], labels: [], classes: classes)
    guard !all.isEmpty else { return (Evaluation(loss: .nan, accuracy: .nan, count: 0), kept) }
    kept.logits.reserveCapacity(all.count * classes)
    kept.labels.reserveCapacity(all.count)
    var tally = EvaluationTally()
    forEachEvaluationBatch(parameters: parameters, on: data, indices: all, workspace: workspace) { _, n, labels in
        tally.add(workspace.output, labels: labels, n: n, classes: classes)
        kept.logits.append(contentsOf: UnsafeBufferPointer(start: workspace.output, count: n * classes))
        kept.labels.append(contentsOf: UnsafeBufferPointer(start: labels, count: n))
    }
    return (tally.evaluation(count: all.count), kept)
}

extension EvaluationLogits {
    /// `evaluateWithLosses`'s numbers from these logits, taken in batches of `batch` as `evaluateWithLosses` with a
    /// workspace of capacity `batch` takes them (the mean loss sums per batch): the same bits as that pass when an
    /// example's logits do not depend on the batch it was in.
    public func scored(batch: Int) -> (evaluation: Evaluation, losses: [Double]) {
        precondition(batch > 0, "batch must be positive")
        let count = labels.count
        guard count > 0 else { return (Evaluation(loss: .nan, accuracy: .nan, count: 0), []) }
        var tally = EvaluationTally()
        var losses: [Double] = []
        losses.reserveCapacity(count)
        logits.withUnsafeBufferPointer { z in
            labels.withUnsafeBufferPointer { y in
                var lo = 0
                while lo < count {
                    let hi = min(lo + batch, count)
                    scoreBatch(z.baseAddress! + lo * classes, labels: y.baseAddress! + lo, n: hi - lo,
                               classes: classes, tally: &tally, losses: &losses)
                    lo = hi
                }
            }
        }
        return (tally.evaluation(count: count), losses)
    }
}

/// Reads one layer's output during an evaluation pass (`evaluateWithLosses(… tap:)`): `read(output, n)` is called
/// for every batch, in order, right after layer `layer` ran, with its output for the batch's `n` samples
/// (n × the layer's output size, sample-major). The pointer is valid only during the call: a later layer working
/// in place may overwrite the buffer.
public struct ActivationTap {
    public var layer: Int
    public var read: (_ output: UnsafePointer<Float>, _ n: Int) -> Void

    public init(layer: Int, read: @escaping (_ output: UnsafePointer<Float>, _ n: Int) -> Void) {
        self.layer = layer
        self.read = read
    }
}

/// Runs the evaluation-mode forward pass over `indices` of `data` in batches of the workspace capacity, in order;
/// `body(first, n, labels)` then reads `workspace.output` for positions `first ..< first + n` of `indices`.
/// `tap` reads its layer's output as each batch passes (through `layerHook`, restored afterwards).
func forEachEvaluationBatch(parameters: [Float], on data: some SampleSource, indices all: [Int], workspace: Workspace,
                            tap: ActivationTap? = nil, _ body: (Int, Int, UnsafePointer<Int32>) -> Void) {
    var labels = [Int32](repeating: 0, count: workspace.capacity)
    var batch = 0
    let previous = workspace.layerHook
    if let tap {
        precondition(workspace.network.layers.indices.contains(tap.layer), "tap layer \(tap.layer) not in the network")
        workspace.layerHook = { [unowned workspace] i, backward in
            previous?(i, backward)
            if !backward && i == tap.layer { tap.read(workspace.activations[i + 1], batch) }
        }
    }
    defer { if tap != nil { workspace.layerHook = previous } }
    // A tapped convolution's output is read before its ReLU: run that ReLU as a layer of its own meanwhile.
    let fusing = workspace.fusesReLUForward
    if let tap, workspace.reluFusedForward[tap.layer] { workspace.fusesReLUForward = false }
    defer { workspace.fusesReLUForward = fusing }
    parameters.withUnsafeBufferPointer { p in
        all.withUnsafeBufferPointer { idx in
            labels.withUnsafeMutableBufferPointer { l in
                var lo = 0
                while lo < all.count {
                    let hi = min(lo + workspace.capacity, all.count)
                    batch = hi - lo
                    data.gather(UnsafeBufferPointer(rebasing: idx[lo..<hi]), inputs: workspace.input,
                                labels: l.baseAddress!)
                    // Only a hook (a tap) reads inner activations; without one they need not be kept.
                    workspace.forward(parameters: p.baseAddress!, batch: hi - lo, training: false,
                                      keepsActivations: workspace.layerHook != nil)
                    body(lo, hi - lo, UnsafePointer(l.baseAddress!))
                    lo = hi
                }
            }
        }
    }
}
