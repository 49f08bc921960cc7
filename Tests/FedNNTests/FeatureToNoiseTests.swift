// FeatureToNoiseTests: σ_n and both FNRs against their definitions, the effective one by a naive per-example loop.
import FedNN
import FedTensor
import Testing

@Suite struct FeatureToNoiseTests {
    @Test func paperStyleRatio() {
        let dp = DPSGDSettings(noiseMultiplier: 2, maxGradientNorm: 0.5, sampleRate: 0.1)
        // σ_n = σ·C/(q·N) = 2·0.5/50 = 0.02; FNR = 5/0.02 = 250.
        #expect(abs(FeatureToNoise.noiseStd(dp, examples: 500) - 0.02) < 1e-15)
        #expect(abs(FeatureToNoise.paperStyle(featureNorm: 5, dp: dp, examples: 500) - 250) < 1e-9)
    }

    /// q·N_g·‖mean_g clip(g_i)‖/(σ·C·√d) with the clipped gradients formed one example at a time (naive oracle).
    /// Negative control: with C small enough to clip, the unclipped mean gives a different value.
    @Test func effectiveRatioMatchesANaiveLoop() throws {
        let net = try Network(inputShape: [2, 6], layers: [TwoLayerReLUCNN(classes: 2, filtersPerClass: 3, initialStd: 1)])
        var w = net.initialParameters(key: StreamKey(seed: 1))
        var rng = Philox(StreamKey(seed: 2))
        let n = 12
        let data = ArraySamples(pixels: (0..<(n * 12)).map { _ in Float(rng.nextGaussian()) },
                                labels: (0..<n).map { Int32($0 % 2) }, sampleShape: [2, 6], classCount: 2)
        let groups = (0..<n).map { $0 % 3 }
        let dp = DPSGDSettings(noiseMultiplier: 1.5, maxGradientNorm: 0.05, sampleRate: 0.25)
        var trainer = DPSGDTrainer(network: net, settings: TrainingSettings(), dp: dp, key: StreamKey(seed: 3))
        let ws = Workspace(network: net, capacity: 4)
        let fnr = FeatureToNoise.effective(trainer: &trainer, parameters: &w, on: data, indices: Array(0..<n),
                                           groups: groups, groupCount: 3, workspace: ws)
        let d = Double(net.parameterCount)
        for g in 0..<3 {
            var clipped = [Double](repeating: 0, count: net.parameterCount), raw = clipped
            let members = (0..<n).filter { groups[$0] == g }
            for i in members {
                let one = Workspace(network: net, capacity: 1)
                var label: Int32 = 0
                [i].withUnsafeBufferPointer { data.gather($0, inputs: one.input, labels: &label) }
                w.withUnsafeBufferPointer { p in
                    one.forward(parameters: p.baseAddress!, batch: 1, training: true)
                    var l = label
                    softmaxCrossEntropy(logits: one.output, labels: &l, batch: 1, classes: 2, gradient: one.output)
                    one.backward(parameters: p.baseAddress!, outputGradient: one.output, batch: 1, accumulate: false)
                }
                let norm = one.gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
                let factor = min(1, 0.05 / norm)
                for k in 0..<net.parameterCount {
                    clipped[k] += Double(one.gradient[k]) * factor
                    raw[k] += Double(one.gradient[k])
                }
            }
            func ratio(_ v: [Double]) -> Double {
                0.25 * Double(members.count) * (v.reduce(0) { $0 + $1 * $1 }.squareRoot() / Double(members.count))
                    / (1.5 * 0.05 * d.squareRoot())
            }
            #expect(abs(fnr[g] - ratio(clipped)) <= 1e-4 * ratio(clipped), "group \(g): \(fnr[g]) vs \(ratio(clipped))")
            #expect(abs(fnr[g] - ratio(raw)) > 1e-2 * ratio(clipped), "negative control: clipping had no effect")
        }
    }
}
