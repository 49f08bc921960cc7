// AugmentationTests: pad-and-crop shifts, fresh noise patches, and DP-SGD's augmentation multiplicity.
import FedData
import FedNN
import FedPrivacy
import FedTensor
import Foundation
import Testing

@Suite struct AugmentationTests {
    func images(_ n: Int, seed: UInt64) -> ArraySamples {
        var rng = Philox(StreamKey(seed: seed))
        return ArraySamples(pixels: (0..<(n * 36)).map { _ in Float(rng.nextGaussian()) },
                            labels: (0..<n).map { Int32($0 % 3) }, sampleShape: [6, 6, 1], classCount: 3)
    }

    func smallCNN() throws -> Network {
        try Network(inputShape: [6, 6, 1], layers: [Conv2d(1, 2, kernel: 3, padding: 1), ReLU(), Flatten(),
                                                    Linear(72, 3)])
    }

    /// Every shifted image is the input translated by one (dy, dx) ∈ {−1, 0, 1}² with the border filled (a naive
    /// search over the 9 candidates), and over 900 draws each shift occurs 100 ± 5·√(100·8/9) times; the negative
    /// control, a translation by 2, matches none.
    @Test func shiftsAreTranslationsWithFilledBorders() {
        let data = images(1, seed: 1)
        let aug = Augmentation.shift(maxShift: 1, flip: false, fill: [-0.5])
        func translated(_ dy: Int, _ dx: Int) -> [Float] {
            (0..<36).map { p in
                let (y, x) = (p / 6 + dy, p % 6 + dx)
                return y >= 0 && y < 6 && x >= 0 && x < 6 ? data.pixels[y * 6 + x] : -0.5
            }
        }
        var counts = [Int](repeating: 0, count: 9)
        var scratch = [Float](repeating: 0, count: 36)
        for n in 0..<900 {
            var x = data.pixels
            var rng = Philox(StreamKey(seed: 2, UInt64(n)))
            x.withUnsafeMutableBufferPointer { p in
                scratch.withUnsafeMutableBufferPointer {
                    aug.apply(p.baseAddress!, shape: [6, 6, 1], scratch: $0.baseAddress!, rng: &rng)
                }
            }
            let hits = (0..<9).filter { translated($0 / 3 - 1, $0 % 3 - 1) == x }
            #expect(hits.count == 1)
            if let h = hits.first { counts[h] += 1 }
            #expect(translated(2, 0) != x)
        }
        let sd = (100.0 * 8 / 9).squareRoot()
        for c in counts { #expect(abs(Double(c) - 100) < 5 * sd) }
    }

    /// Fresh noise patches keep the feature patch bit for bit, redraw the others, and keep them off the feature
    /// coordinates (orthogonal noise).
    @Test func freshNoiseKeepsTheFeaturePatch() throws {
        var s = SyntheticPatchSettings()
        s.dimension = 32
        s.patches = 3
        let set = try SyntheticPatches(settings: s, count: 4, key: StreamKey(seed: 3))
        let aug = AugmentedSamples(set.samples, augmentation: .freshNoise(s), copies: 2, key: StreamKey(seed: 4))
        var out = [Float](repeating: 0, count: 8 * 96)
        var labels = [Int32](repeating: 0, count: 8)
        Array(0..<8).withUnsafeBufferPointer { aug.gather($0, inputs: &out, labels: &labels) }
        for row in 0..<8 {
            let e = row / 2
            #expect(labels[row] == set.samples.labels[e])
            #expect(Array(out[(row * 96)..<(row * 96 + 32)]) == Array(set.samples.pixels[(e * 96)..<(e * 96 + 32)]))
            #expect(Array(out[(row * 96 + 32)..<(row * 96 + 96)]) != Array(set.samples.pixels[(e * 96 + 32)..<(e * 96 + 96)]))
            for p in 1..<3 { for k in 0..<(2 * s.groups) { #expect(out[row * 96 + p * 32 + k] == 0) } }
        }
    }

    /// One copy and no shift: DP-SGD and plain SGD train bit for bit as on the plain data.
    @Test func oneCopyWithoutShiftIsNoAugmentation() throws {
        let net = try smallCNN(), data = images(30, seed: 5)
        let same = AugmentedSamples(data, augmentation: .shift(maxShift: 0, flip: false, fill: [0]), copies: 1,
                                    key: StreamKey(seed: 6))
        let start = net.initialParameters(key: StreamKey(seed: 7))
        var results: [[Float]] = []
        for useAugmented in [false, true] {
            var w = start
            var t = DPSGDTrainer(network: net, settings: TrainingSettings(learningRate: 0.2),
                                 dp: DPSGDSettings(noiseMultiplier: 1, maxGradientNorm: 1, sampleRate: 0.3),
                                 key: StreamKey(seed: 8))
            let ws = Workspace(network: net, capacity: 30)
            if useAugmented {
                _ = t.runEpoch(0, parameters: &w, on: same, indices: Array(0..<30), workspace: ws)
            } else {
                _ = t.runEpoch(0, parameters: &w, on: data, indices: Array(0..<30), workspace: ws)
            }
            var plain = Trainer(network: net, settings: TrainingSettings(batchSize: 8, learningRate: 0.1),
                                key: StreamKey(seed: 9))
            if useAugmented {
                _ = plain.runEpoch(0, parameters: &w, on: same, indices: Array(0..<30), workspace: ws)
            } else {
                _ = plain.runEpoch(0, parameters: &w, on: data, indices: Array(0..<30), workspace: ws)
            }
            results.append(w)
        }
        #expect(results[0] == results[1] && results[0] != start)
    }

    /// Multiplicity k = 4 with shifts: each example's contribution to the clipped sum has norm ≤ C, and the sum over
    /// a batch equals the naive Σ_i clip_C(mean_j g_ij), each g_ij from its own single-row backward pass.
    @Test func multiplicityClipsTheAveragedGradient() throws {
        let net = try smallCNN(), data = images(6, seed: 10), k = 4, c = 0.05
        let aug = AugmentedSamples(data, augmentation: .shift(maxShift: 2, flip: true, fill: [0]), copies: k,
                                   key: StreamKey(seed: 11))
        let w = net.initialParameters(key: StreamKey(seed: 12))
        var t = DPSGDTrainer(network: net, settings: TrainingSettings(),
                             dp: DPSGDSettings(noiseMultiplier: 0, maxGradientNorm: c, sampleRate: 1),
                             key: StreamKey(seed: 13))
        let ws = Workspace(network: net, capacity: k)
        var naive = [Double](repeating: 0, count: net.parameterCount)
        let one = Workspace(network: net, capacity: 1)
        for e in 0..<6 {
            var single = [Float](repeating: 0, count: net.parameterCount)
            _ = t.multiplicityClippedSum(parameters: w, on: aug, batch: [e], copies: k, workspace: ws, into: &single)
            let norm = single.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            #expect(norm <= c * (1 + 1e-6) && norm > 0)
            var mean = [Double](repeating: 0, count: net.parameterCount)
            for j in 0..<k {
                var label: Int32 = 0
                [e * k + j].withUnsafeBufferPointer { aug.gather($0, inputs: one.input, labels: &label) }
                w.withUnsafeBufferPointer { p in
                    one.forward(parameters: p.baseAddress!, batch: 1, training: true)
                    _ = softmaxCrossEntropy(logits: one.output, labels: &label, batch: 1, classes: 3,
                                            gradient: one.output)
                    one.backward(parameters: p.baseAddress!, outputGradient: one.output, batch: 1, accumulate: false)
                }
                for i in mean.indices { mean[i] += Double(one.gradient[i]) / Double(k) }
            }
            let full = mean.reduce(0) { $0 + $1 * $1 }.squareRoot()
            for i in mean.indices { naive[i] += mean[i] * min(1, c / full) }
        }
        var sum = [Float](repeating: 0, count: net.parameterCount)
        _ = t.multiplicityClippedSum(parameters: w, on: aug, batch: Array(0..<6), copies: k, workspace: ws, into: &sum)
        for i in naive.indices { #expect(abs(Double(sum[i]) - naive[i]) < 1e-6) }
    }
}
