// DPSGDPlainStepTests: DP-SGD's plain-SGD step (update fused into the clipped backward) against the naive loop.
import FedNN
import FedPrivacy
import FedTensor
import Testing

@Suite("DP-SGD plain-SGD fused step")
struct DPSGDPlainStepTests {
    /// With momentum and weight decay 0 and the batch in one chunk, `step` updates the weights inside the clipped
    /// backward (w ← w − η/B·Σ clip(g_i)) and then adds the scaled noise. Without noise, every layer type and conv
    /// route (NormCase: Linear's GEMM into the weights, conv and the fallback through their gradient slice, the
    /// second-pass route of convs whose input gradient overwrites their state, a frozen layer) must give
    /// p − η/B·Σ clip(g_i) with the clipped sum from the naive loop of single-example backward passes.
    @Test("σ = 0: p − η/B·Σ clip(g_i) of the naive loop, every layer type, 1 and 2 threads",
          arguments: NormCase.allCases, [1, 2])
    func noiselessStepMatchesNaiveLoop(_ c: NormCase, threads: Int) throws {
        for batch in [1, 5, 16] {
            let net = try c.network()
            let p0 = net.initialParameters(key: StreamKey(seed: 7))
            var rng = Philox(seed: 8, UInt64(batch))
            let x = (0..<(batch * net.inputSize)).map { _ in Float(rng.nextGaussian()) }
            let labels = (0..<batch).map { Int32(($0 * 7 + 3) % 4) }
            let data = ArraySamples(pixels: x, labels: labels, sampleShape: net.inputShape, classCount: 4)
            let perExample = naivePerExampleGradients(net, p0, x, labels, frozen: c.frozen)
            let norms = perExample.map { $0.reduce(0) { $0 + $1 * $1 }.squareRoot() }
            let maxNorm = norms.sorted()[batch / 2]
            var sum = [Double](repeating: 0, count: net.parameterCount)
            for g in perExample {
                let f = Double(Clipping.factor(norm: g.reduce(0) { $0 + $1 * $1 }.squareRoot(), maxNorm: maxNorm))
                for j in g.indices { sum[j] += f * g[j] }
            }
            let lr = 0.4
            let expected = p0.indices.map { Double(p0[$0]) - lr / Double(batch) * sum[$0] }
            var trainer = DPSGDTrainer(network: net, settings: TrainingSettings(learningRate: Float(lr)),
                                       dp: DPSGDSettings(noiseMultiplier: 0, maxGradientNorm: maxNorm, sampleRate: 1),
                                       key: StreamKey(seed: 9), frozen: c.frozen)
            let ws = Workspace(network: net, capacity: 16)
            var p = p0
            ComputeThreads.with(threads) {
                _ = trainer.step(parameters: &p, on: data, indices: Array(0..<batch), workspace: ws)
            }
            let step = zip(p0, expected).map { abs(Double($0) - $1) }.max()!
            let worst = zip(p, expected).map { abs(Double($0) - $1) }.max()!
            #expect(step > 1e-4, "\(c) batch \(batch): the step moved nothing")
            #expect(worst <= 1e-6 * max(p0.map { abs(Double($0)) }.max()!, 1) + 2e-5 * step,
                    "\(c) batch \(batch): worst \(worst), step \(step)")
            for layer in c.frozen { #expect(p[net.parameterRanges[layer]] == p0[net.parameterRanges[layer]]) }
        }
    }

    /// With noise: the fused step equals `clippedSum`, `privatize` and `SGD.step` up to Float32 rounding (the
    /// order of the additions differs), the frozen layer stays as it was, and the result is bit-identical on 1 and
    /// 2 threads, with the noise drawn beside the clipped pass or after it. A batch larger than the workspace
    /// (chunks) takes the unfused path, bit for bit.
    @Test("with noise: ≈ clippedSum + privatize + SGD.step; bit-identical on 1 and 2 threads; chunks unfused",
          arguments: [Set<Int>(), [0]])
    func noisyStepMatchesUnfused(frozen: Set<Int>) throws {
        let net = try Network(inputShape: [255], layers: [Linear(255, 257), ReLU(), Linear(257, 130)])
        var rng = Philox(seed: 3)
        let n = 12
        let data = ArraySamples(pixels: (0..<(n * 255)).map { _ in Float(rng.nextGaussian()) },
                                labels: (0..<n).map { Int32($0 % 130) }, sampleShape: [255], classCount: 130)
        let dp = DPSGDSettings(noiseMultiplier: 1.1, maxGradientNorm: 0.5, sampleRate: 1)
        let start = net.initialParameters(key: StreamKey(seed: 4))
        func fused(threads: Int, capacity: Int, beside: Bool? = nil) -> [Float] {
            ComputeThreads.with(threads) {
                var trainer = DPSGDTrainer(network: net, settings: TrainingSettings(learningRate: 0.3), dp: dp,
                                           key: StreamKey(seed: 5), frozen: frozen)
                trainer.noiseBesidePass = beside
                let ws = Workspace(network: net, capacity: capacity)
                var p = start
                for _ in 0..<2 { trainer.step(parameters: &p, on: data, indices: Array(0..<n), workspace: ws) }
                return p
            }
        }
        var reference = DPSGDTrainer(network: net, settings: TrainingSettings(learningRate: 0.3), dp: dp,
                                     key: StreamKey(seed: 5), frozen: frozen)
        var sgd = SGD(learningRate: 0.3)
        var unfused = start
        let ws = Workspace(network: net, capacity: 5)
        for t in 0..<2 {
            reference.clippedSum(parameters: &unfused, on: data, batch: Array(0..<n), workspace: ws,
                                 noiseStep: UInt64(t))
            reference.privatize(ws.gradient, expectedBatch: Double(n), step: UInt64(t))
            sgd.step(parameters: &unfused, gradient: ws.gradient)
        }
        let one = fused(threads: 1, capacity: n)
        #expect(one == fused(threads: 2, capacity: n))
        // The noise drawn on a second thread beside the clipped pass (DPSGDTrainer+Overlap.swift), forced on and
        // off: the same bits.
        for threads in [1, 2] {
            #expect(one == fused(threads: threads, capacity: n, beside: true), "beside, \(threads) threads")
            #expect(one == fused(threads: threads, capacity: n, beside: false), "not beside, \(threads) threads")
        }
        #expect(fused(threads: 1, capacity: 5) == unfused)   // chunked: the unfused path
        let moved = zip(start, unfused).map { abs($0 - $1) }.max()!
        let worst = zip(one, unfused).map { abs($0 - $1) }.max()!
        #expect(moved > 1e-3)
        #expect(worst <= 1e-5 * moved, "worst \(worst), moved \(moved)")
        #expect(one != unfused)  // a different order of roundings, not the same code path
        for layer in frozen { #expect(one[net.parameterRanges[layer]] == start[net.parameterRanges[layer]]) }
    }
}
