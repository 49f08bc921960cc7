// DPSGDTrainer: DP-SGD with Poisson sampling, ghost-norm clipping, Gaussian noise and an RDP accountant.
import FedPrivacy
import FedTensor
import Foundation

/// Example-level differentially private SGD (Abadi et al. 2016, Alg. 1), shaped like `Trainer` so a client can swap
/// one for the other. Each step:
/// 1. Poisson-samples the batch from `indices` with rate q (`PoissonSampling`; an empty batch is a normal step);
/// 2. computes every example's gradient norm without materialising per-example gradients (pass 1,
///    `Workspace.addPerExampleGradientNorms`), then back-propagates the loss-gradient rows scaled by
///    c_i = min(1, C/‖g_i‖) (pass 2), which yields Σ_i c_i g_i because every layer's parameter gradient is linear in
///    its per-example output gradient (ghost clipping: Li et al. 2022, Sec. 4; Bu et al. 2023). With
///    `perLayerClipping`, one pass clips each layer to C/√K (`Workspace.addPerLayerClippedGradients`);
/// 3. adds N(0, σ²C²) to every trainable coordinate (frozen layers and frozen filters get neither gradient nor
///    noise, and their coordinates are left out of the per-example norm ‖g_i‖ that is clipped: pitfalls §1.1 takes it
///    over the trainable tensors; spec C.1 item 7 and C.4: freezing shrinks the noise's dimension, not the
///    sensitivity C, so the accountant is unchanged),
///    divides by the expected batch size q·N and takes the optimiser step (post-processing). With plain SGD
///    (momentum and weight decay 0) and the batch in one chunk, the clipped sum never reaches memory as a vector:
///    each layer's step w ← w − (η/B)·Σ c_i g_i is applied inside the book-keeping backward (Linear: one GEMM straight
///    into the weights, as plain training does), then w ← w − (η/B)·σC·z; the same update up to Float32 rounding.
/// Batches larger than the workspace run in chunks that accumulate into one step. The noise of step t is the
/// Philox stream `key.child(noise, t)` indexed by parameter coordinate, the batch of step t comes from
/// `key.child(sampling, t)`: results are bit-identical whatever the thread count.
public struct DPSGDTrainer {
    public let network: Network
    public let settings: TrainingSettings
    public let dp: DPSGDSettings
    public let key: StreamKey
    public var frozen: Set<Int>
    /// Every step taken so far (σ, q per step), for ε; `spend` says the same in three numbers.
    /// (`settings.batchSize` is not used: the expected batch is q·N, and the workspace's capacity bounds how many
    /// examples run at once.)
    public internal(set) var accountant = RDPAccountant()
    var sgd: SGD
    private var rows: [Float] = []
    private var norms: [Double] = []
    private var factors: [Float] = []
    private var saved: [Float] = []
    private var labels: [Int32] = []
    /// A step's standard normals when they are drawn beside the clipped pass (DPSGDTrainer+Overlap.swift).
    var normals: [Float] = []
    /// Whether a plain-SGD step draws its noise on a second thread beside the clipped pass: nil (the default) lets
    /// a cost model decide (`drawsNoiseBesidePass`), true or false forces it (tests, benchmarks). Speed only: the
    /// parameters come out bit for bit the same either way.
    public var noiseBesidePass: Bool?

    public init(network: Network, settings: TrainingSettings, dp: DPSGDSettings, key: StreamKey,
                frozen: Set<Int> = []) {
        precondition(dp.problem == nil, "DPSGDTrainer: \(dp.problem ?? "")")
        precondition(settings.epochs >= 0, "invalid training settings")
        self.network = network
        self.settings = settings
        self.dp = dp
        self.key = key
        self.frozen = frozen
        self.sgd = SGD(learningRate: settings.learningRate, momentum: settings.momentum,
                       weightDecay: settings.weightDecay)
    }

    /// What this trainer did, in an accountant's terms: `steps` sampled-Gaussian steps at noise multiplier σ and
    /// sampling rate q, each for the add/remove-one-example relation (a client adds it to its own accountant).
    public var spend: RDPAccountant.Run {
        RDPAccountant.Run(noiseMultiplier: dp.noiseMultiplier, sampleRate: dp.sampleRate, steps: accountant.steps)
    }

    /// ε at δ for the steps taken so far (RDP of the Poisson-subsampled Gaussian, Opacus' conversion).
    public func epsilon(delta: Double) throws -> Double { try accountant.epsilon(delta: delta).epsilon }

    /// The layers that get gradients and noise.
    var trainableLayers: [Int] {
        network.layers.indices.filter { !frozen.contains($0) && !network.parameterRanges[$0].isEmpty }
    }

    /// One epoch of `dp.stepsPerEpoch` steps over `indices` (N = indices.count, expected batch q·N). Returns the
    /// mean training loss and accuracy over the sampled examples (NaN if none) and the steps taken. With
    /// `copies` k > 1, `data` holds k augmented copies of each example (`AugmentedSamples` layout: example i's at
    /// rows i·k ..< (i + 1)·k) and each step is `step(… copies:)`, augmentation multiplicity.
    public mutating func runEpoch(
        _ epoch: Int, parameters: inout [Float], on data: some SampleSource, indices: [Int], workspace: Workspace,
        copies: Int = 1, progress: ((TrainingProgress) -> Void)? = nil
    ) -> (loss: Double, accuracy: Double, steps: Int) {
        guard !indices.isEmpty else { return (.nan, .nan, 0) }
        sgd.learningRate = settings.learningRate * pow(settings.learningRateDecay, Float(epoch))
        let steps = dp.stepsPerEpoch
        var lossSum = 0.0, correct = 0, count = 0
        for s in 0..<steps {
            let r = copies == 1 ? step(parameters: &parameters, on: data, indices: indices, workspace: workspace)
                : step(parameters: &parameters, on: data, indices: indices, workspace: workspace, copies: copies)
            lossSum += r.lossSum
            correct += r.correct
            count += r.batch
            progress?(TrainingProgress(epoch: epoch, step: s + 1, stepsPerEpoch: steps,
                                       meanLoss: lossSum / Double(max(count, 1)),
                                       meanAccuracy: Double(correct) / Double(max(count, 1)), samplesSeen: count))
        }
        return (count > 0 ? lossSum / Double(count) : .nan, count > 0 ? Double(correct) / Double(count) : .nan, steps)
    }

    /// One DP-SGD step on a fresh Poisson sample of `indices`; returns the summed loss, correct count and batch size.
    @discardableResult
    public mutating func step(parameters: inout [Float], on data: some SampleSource, indices: [Int],
                              workspace: Workspace) -> (lossSum: Double, correct: Int, batch: Int) {
        let t = UInt64(accountant.steps)
        var rng = Philox(key.child(0x5341_4D50, t))  // "SAMP"
        let picked = PoissonSampling.positions(count: indices.count, rate: dp.sampleRate, rng: &rng)
        let batch = picked.map { indices[$0] }
        let expected = dp.sampleRate * Double(indices.count)
        let noise = noiseSpec(expectedBatch: expected, step: t)
        let result: (lossSum: Double, correct: Int)
        if sgd.isPlain && !dp.perLayerClipping && batch.count <= workspace.capacity {
            // Plain SGD on one chunk: w ← w − (η/B)·Σ c_i g_i inside the clipped backward, then w ← w − (η/B)·σC·z.
            let stepSize = Double(sgd.learningRate) / expected, a = Float(-stepSize * noise.spread)
            if a != 0 && drawsNoiseBesidePass(batch: batch.count, noise: noise) {
                // The same bits, the noise drawn on a second thread meanwhile (DPSGDTrainer+Overlap.swift).
                result = clippedPassBesideNoise(parameters: &parameters, on: data, batch: batch, workspace: workspace,
                                                noiseStep: t, fusedStep: Float(stepSize), noise: noise, scale: a)
            } else {
                result = clippedPass(parameters: &parameters, on: data, batch: batch, workspace: workspace,
                                     noiseStep: t, fusedStep: Float(stepSize))
                parameters.withUnsafeMutableBufferPointer { noise.addScaled(to: $0, scale: a) }
            }
        } else {
            result = clippedSum(parameters: &parameters, on: data, batch: batch, workspace: workspace, noiseStep: t)
            // Weight decay would move frozen coordinates (their gradient is 0, λ·w is not): put them back.
            var keep = FrozenSnapshot(network: network, frozen: frozen)
            if sgd.weightDecay != 0 && !keep.isEmpty { keep.take(parameters) }
            // Noise, division and SGD step fused block by block (`privatize` then `SGD.step`, bit for bit).
            let g = workspace.gradient.baseAddress!
            sgd.step(parameters: &parameters, gradient: workspace.gradient) { block in noise.apply(g, block) }
            if sgd.weightDecay != 0 && !keep.isEmpty { keep.restore(&parameters) }
        }
        try! accountant.step(noiseMultiplier: dp.noiseMultiplier, sampleRate: dp.sampleRate)
        return (result.lossSum, result.correct, picked.count)
    }

    /// Leaves Σ_i clip(g_i) over the examples `batch` (dataset indices) in `workspace.gradient` (zero for an empty
    /// batch), chunk by chunk; returns their summed loss and correct count. `noiseStep` feeds noisy layers.
    public mutating func clippedSum(parameters: inout [Float], on data: some SampleSource, batch: [Int],
                                    workspace: Workspace, noiseStep: UInt64) -> (lossSum: Double, correct: Int) {
        clippedPass(parameters: &parameters, on: data, batch: batch, workspace: workspace, noiseStep: noiseStep,
                    fusedStep: nil)
    }

    /// `clippedSum`, or with `fusedStep` s (plain SGD, flat clipping, `batch` in one chunk) the update
    /// w ← w − s·Σ_i clip(g_i) applied to `parameters` layer by layer as each clipped sum is formed (a GEMM straight
    /// into the weights where the layer supports it, `FusedUpdate`); `workspace.gradient` is then scratch.
    mutating func clippedPass(parameters: inout [Float], on data: some SampleSource, batch: [Int],
                              workspace: Workspace, noiseStep: UInt64, fusedStep: Float?) -> (lossSum: Double, correct: Int) {
        parameters.withUnsafeMutableBufferPointer { p in
            clippedPass(parameters: p.baseAddress!, count: p.count, on: data, batch: batch, workspace: workspace,
                        noiseStep: noiseStep, fusedStep: fusedStep)
        }
    }

    /// `clippedPass` on the parameter vector at `mutableW` (`count` = the network's parameter count).
    mutating func clippedPass(parameters mutableW: UnsafeMutablePointer<Float>, count: Int, on data: some SampleSource,
                              batch: [Int], workspace: Workspace, noiseStep: UInt64,
                              fusedStep: Float?) -> (lossSum: Double, correct: Int) {
        precondition(count == network.parameterCount, "clippedPass: wrong parameter count")
        precondition(fusedStep == nil || (!dp.perLayerClipping && batch.count <= workspace.capacity))
        if fusedStep == nil { workspace.zeroGradient() }
        let capacity = workspace.capacity, classes = network.outputSize, layerCount = network.layers.count
        let widest = network.shapes.dropFirst().map { $0.reduce(1, *) }.max() ?? classes
        if rows.count < capacity * widest { rows = [Float](repeating: 0, count: capacity * widest) }
        if norms.count < capacity * layerCount { norms = [Double](repeating: 0, count: capacity * layerCount) }
        if factors.count < capacity { factors = [Float](repeating: 0, count: capacity) }
        if labels.count < capacity { labels = [Int32](repeating: 0, count: capacity) }
        let keep = dp.perLayerClipping ? 0 : capacity * workspace.savedSize(frozen: frozen)
        if saved.count < max(keep, 1) { saved = [Float](repeating: 0, count: max(keep, 1)) }
        let trainable = trainableLayers
        let perLayerNorm = dp.maxGradientNorm / Double(max(trainable.count, 1)).squareRoot()
        var lossSum = 0.0, correct = 0
        var lo = 0
        while lo < batch.count {
            let n = min(capacity, batch.count - lo)
            batch.withUnsafeBufferPointer { b in
                labels.withUnsafeMutableBufferPointer { l in
                    data.gather(UnsafeBufferPointer(rebasing: b[lo..<(lo + n)]), inputs: workspace.input,
                                labels: l.baseAddress!)
                }
            }
            let noiseSource = NoiseSource(key: key, step: noiseStep)
            do {
                let w = UnsafePointer(mutableW)
                workspace.forward(parameters: w, batch: n, training: true, noise: noiseSource)
                // Per-example (sum-reduced) loss gradients: one row at a time, so row i is exactly ∂ℓ_i/∂logits.
                let g = rows.withUnsafeMutableBufferPointer { r in
                    labels.withUnsafeBufferPointer { l in
                        var sum = 0.0, hits = 0
                        for i in 0..<n {
                            let one = softmaxCrossEntropy(logits: workspace.output + i * classes,
                                                          labels: l.baseAddress! + i, batch: 1, classes: classes,
                                                          gradient: r.baseAddress! + i * classes)
                            sum += one.lossSum
                            hits += one.correct
                        }
                        return (sum, hits)
                    }
                }
                lossSum += g.0
                correct += g.1
                norms.withUnsafeMutableBufferPointer { nb in
                    let normBase = nb.baseAddress!
                    normBase.update(repeating: 0, count: n * layerCount)
                    if dp.perLayerClipping {
                        // rows holds the loss gradient; the per-layer pass needs its own scratch for scaled rows.
                        var scaled = [Float](repeating: 0, count: n * widest)
                        rows.withUnsafeBufferPointer { r in
                            scaled.withUnsafeMutableBufferPointer { s in
                                workspace.addPerLayerClippedGradients(
                                    parameters: w, outputGradient: r.baseAddress!, batch: n, frozen: frozen,
                                    rows: s.baseAddress!, norms: normBase) { _, squared in
                                    Clipping.factor(norm: squared.squareRoot(), maxNorm: perLayerNorm)
                                }
                            }
                        }
                    } else {
                        let intact = rows.withUnsafeBufferPointer { r in
                            saved.withUnsafeMutableBufferPointer { keep in
                                workspace.addPerExampleGradientNorms(parameters: w, outputGradient: r.baseAddress!,
                                                                     batch: n, frozen: frozen, into: normBase,
                                                                     saving: keep.baseAddress!)
                            }
                        }
                        for i in 0..<n {
                            var squared = 0.0
                            for layer in trainable { squared += normBase[layer * n + i] }
                            factors[i] = Clipping.factor(norm: squared.squareRoot(), maxNorm: dp.maxGradientNorm)
                        }
                        if intact {
                            // Book-keeping: each layer's gradient from its kept output gradient, scaled.
                            saved.withUnsafeMutableBufferPointer { keep in
                                workspace.addClippedGradients(parameters: w, saved: keep.baseAddress!, batch: n,
                                                              frozen: frozen, factors: factors,
                                                              step: fusedStep.map { (mutableW, $0) })
                            }
                        } else {
                            // Ghost clipping's second backward, through the input gradients again, on a fresh
                            // forward pass (some layer's input gradient used its saved state as scratch).
                            rows.withUnsafeMutableBufferPointer { r in
                                for i in 0..<n where factors[i] != 1 {
                                    scale(r.baseAddress! + i * classes, by: factors[i], count: classes)
                                }
                            }
                            workspace.forward(parameters: w, batch: n, training: true, noise: noiseSource)
                            rows.withUnsafeBufferPointer { r in
                                if let s = fusedStep {
                                    workspace.backwardAndStep(parameters: mutableW, outputGradient: r.baseAddress!,
                                                              batch: n, learningRate: s, frozen: frozen)
                                } else {
                                    workspace.backward(parameters: w, outputGradient: r.baseAddress!, batch: n,
                                                       frozen: frozen, accumulate: true)
                                }
                            }
                        }
                    }
                }
            }
            lo += n
        }
        return (lossSum, correct)
    }
}
