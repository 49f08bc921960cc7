// DPSGDTrainer+Multiplicity: DP-SGD with augmentation multiplicity: average k augmented gradients, then clip.
import FedPrivacy
import FedTensor

extension DPSGDTrainer {
    /// One DP-SGD step with augmentation multiplicity k (De et al. 2022, "Unlocking high-accuracy differentially
    /// private image classification through scale", Sec. 3.1): the Poisson sample is drawn over the *examples*
    /// `indices` exactly as in `step`, and example i's gradient is the mean of its k augmented copies' gradients,
    /// ḡ_i = (1/k)·Σ_j ∇ℓ(aug_j(x_i)), clipped to C as one vector. Each example still moves the sum by at most C,
    /// so the noise, the division by q·N and the accountant are those of `step`. `data` holds the copies
    /// example-major (`AugmentedSamples`: rows i·k ..< (i + 1)·k). Per-example gradients are materialised (one
    /// backward of the k rows per example): simple and exact, slower than ghost clipping on large models.
    @discardableResult
    public mutating func step(parameters: inout [Float], on data: some SampleSource, indices: [Int],
                              workspace: Workspace, copies k: Int) -> (lossSum: Double, correct: Int, batch: Int) {
        let t = UInt64(accountant.steps)
        var rng = Philox(key.child(0x5341_4D50, t))  // "SAMP", as in `step`
        let picked = PoissonSampling.positions(count: indices.count, rate: dp.sampleRate, rng: &rng)
        let expected = dp.sampleRate * Double(indices.count)
        var sum = [Float](repeating: 0, count: network.parameterCount)
        let r = multiplicityClippedSum(parameters: parameters, on: data, batch: picked.map { indices[$0] }, copies: k,
                                       workspace: workspace, into: &sum)
        let noise = noiseSpec(expectedBatch: expected, step: t)
        var keep = FrozenSnapshot(network: network, frozen: frozen)
        if sgd.weightDecay != 0 && !keep.isEmpty { keep.take(parameters) }
        sum.withUnsafeMutableBufferPointer { g in
            let base = g.baseAddress!
            sgd.step(parameters: &parameters, gradient: g) { block in noise.apply(base, block) }
        }
        if sgd.weightDecay != 0 && !keep.isEmpty { keep.restore(&parameters) }
        try! accountant.step(noiseMultiplier: dp.noiseMultiplier, sampleRate: dp.sampleRate)
        return (r.lossSum / Double(k), r.correct, picked.count)
    }

    /// Adds Σ_i clip_C((1/k)·Σ_j ∇ℓ(row i·k + j)) over the examples `batch` to `sum` (trainable coordinates only:
    /// norms and sums skip frozen layers and filters); returns the summed loss and correct count over all rows.
    /// Uses `workspace.gradient` as scratch; the workspace must hold k rows.
    public mutating func multiplicityClippedSum(parameters: [Float], on data: some SampleSource, batch: [Int],
                                               copies k: Int, workspace: Workspace,
                                               into sum: inout [Float]) -> (lossSum: Double, correct: Int) {
        precondition(k >= 1 && k <= workspace.capacity, "multiplicity: the workspace must hold the k copies")
        precondition(sum.count == network.parameterCount, "multiplicity: sum has the wrong length")
        let classes = network.outputSize, ranges = network.trainableRanges(frozen: frozen)
        var labels = [Int32](repeating: 0, count: k)
        var lossSum = 0.0, correct = 0
        for example in batch {
            let rows = (0..<k).map { example * k + $0 }
            rows.withUnsafeBufferPointer { r in
                labels.withUnsafeMutableBufferPointer { data.gather(r, inputs: workspace.input, labels: $0.baseAddress!) }
            }
            parameters.withUnsafeBufferPointer { p in
                workspace.forward(parameters: p.baseAddress!, batch: k, training: true,
                                  noise: NoiseSource(key: key, step: UInt64(accountant.steps)))
                let r = labels.withUnsafeBufferPointer {
                    softmaxCrossEntropy(logits: workspace.output, labels: $0.baseAddress!, batch: k, classes: classes,
                                        gradient: workspace.output)
                }
                lossSum += r.lossSum
                correct += r.correct
                // softmaxCrossEntropy's gradient is of the mean over the k rows: (1/k)·Σ_j ∇ℓ_j, the averaged gradient.
                workspace.backward(parameters: p.baseAddress!, outputGradient: workspace.output, batch: k,
                                   frozen: frozen, accumulate: false)
            }
            let g = workspace.gradient
            var squared = 0.0
            for range in ranges { for j in range { squared += Double(g[j]) * Double(g[j]) } }
            let c = Clipping.factor(norm: squared.squareRoot(), maxNorm: dp.maxGradientNorm)
            for range in ranges { for j in range { sum[j] += c * g[j] } }
        }
        return (lossSum, correct)
    }
}
