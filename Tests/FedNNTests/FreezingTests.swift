// FreezingTests: frozen layers and filters: names, zero gradients, per-example norms, bit-unchanged weights, noise.
import FedNN
import FedPrivacy
import FedTensor
import Foundation
import Testing

@Suite struct FreezingTests {
    func twoLayer(frozen: Int, m: Int = 4, d: Int = 8) throws -> Network {
        try Network(inputShape: [3, d], layers: [TwoLayerReLUCNN(classes: 3, filtersPerClass: m, initialStd: 1,
                                                                 frozenFiltersPerClass: frozen)])
    }

    func patches(_ n: Int, d: Int = 8, seed: UInt64) -> ArraySamples {
        var rng = Philox(StreamKey(seed: seed))
        return ArraySamples(pixels: (0..<(n * 3 * d)).map { _ in Float(rng.nextGaussian()) },
                            labels: (0..<n).map { Int32($0 % 3) }, sampleShape: [3, d], classCount: 3)
    }

    @Test func layerNamesFollowPyTorchsMcMahanCNN() throws {
        let net = try ModelKind.cnn.network(inputShape: [28, 28, 1], classes: 10)
        #expect(net.layerNames.compactMap { $0 } == ["conv1", "conv2", "fc1", "fc2"])
        #expect(try net.layerIndices(named: ["conv1", "FC1"]) == [0, 7])
        #expect(try net.layerIndices(named: ["layer3"]) == [3])
        #expect(throws: ShapeError.self) { try net.layerIndices(named: ["conv3"]) }
        #expect(throws: ShapeError.self) { try net.layerIndices(named: ["layer1"]) }  // a ReLU: no parameters
        #expect(net.trainableCount(frozen: [0, 3]) == net.parameterCount - 832 - 51_264)
    }

    /// Frozen filters: the clipped sum (C small: every example clipped, so every norm matters) equals the naive
    /// Σ_i c_i·g̃_i where g̃_i is the *unfrozen* model's single-example gradient (FD-checked in TwoLayerReLUCNNTests)
    /// with the frozen rows zeroed and c_i = min(1, C/‖g̃_i‖): norms over the trainable coordinates only.
    @Test func frozenFiltersAreLeftOutOfTheClippedNorm() throws {
        let (n, k0) = (5, 2)
        let frozenNet = try twoLayer(frozen: k0), fullNet = try twoLayer(frozen: 0)
        var w = fullNet.initialParameters(key: StreamKey(seed: 5))
        let data = patches(n, seed: 6)
        let c = 0.01
        var trainer = DPSGDTrainer(network: frozenNet, settings: TrainingSettings(),
                                   dp: DPSGDSettings(noiseMultiplier: 0, maxGradientNorm: c, sampleRate: 1),
                                   key: StreamKey(seed: 7))
        let ws = Workspace(network: frozenNet, capacity: 2)
        _ = trainer.clippedSum(parameters: &w, on: data, batch: Array(0..<n), workspace: ws, noiseStep: 0)
        let fast = Array(ws.gradient)
        let frozenRanges = frozenNet.frozenRanges(frozen: [])
        #expect(frozenRanges.count == 3 && frozenRanges.allSatisfy { $0.count == k0 * 8 })
        var naive = [Double](repeating: 0, count: fullNet.parameterCount)
        let one = Workspace(network: fullNet, capacity: 1)
        for i in 0..<n {
            var label: Int32 = 0
            [i].withUnsafeBufferPointer { data.gather($0, inputs: one.input, labels: &label) }
            w.withUnsafeBufferPointer { p in
                one.forward(parameters: p.baseAddress!, batch: 1, training: true)
                _ = softmaxCrossEntropy(logits: one.output, labels: &label, batch: 1, classes: 3, gradient: one.output)
                one.backward(parameters: p.baseAddress!, outputGradient: one.output, batch: 1, accumulate: false)
            }
            var g = one.gradient.map(Double.init)
            for r in frozenRanges { for j in r { g[j] = 0 } }
            let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(norm > c)
            for j in g.indices { naive[j] += g[j] * min(1, c / norm) }
        }
        for r in frozenRanges { #expect(fast[r].allSatisfy { $0 == 0 }) }
        for j in naive.indices { #expect(abs(Double(fast[j]) - naive[j]) < 1e-6) }
    }

    /// Frozen coordinates keep their bits through DP-SGD (momentum and weight decay on, σ > 0, frozen filters and
    /// a frozen layer) and through plain SGD with weight decay; the trainable ones move.
    @Test func frozenCoordinatesAreBitUnchanged() throws {
        let data = patches(40, seed: 8)
        let net = try twoLayer(frozen: 1)
        let start = net.initialParameters(key: StreamKey(seed: 9))
        var w = start
        var dpTrainer = DPSGDTrainer(network: net,
                                     settings: TrainingSettings(learningRate: 0.5, momentum: 0.9, weightDecay: 0.1),
                                     dp: DPSGDSettings(noiseMultiplier: 1, maxGradientNorm: 1, sampleRate: 0.25),
                                     key: StreamKey(seed: 10))
        let ws = Workspace(network: net, capacity: 40)
        _ = dpTrainer.runEpoch(0, parameters: &w, on: data, indices: Array(0..<40), workspace: ws)
        for r in net.frozenRanges(frozen: []) { #expect(w[r] == start[r]) }
        for r in net.trainableRanges(frozen: []) { #expect(zip(w[r], start[r]).allSatisfy { $0 != $1 }) }

        let mlp = try Network(inputShape: [24], layers: [Linear(24, 16), ReLU(), Linear(16, 3)])
        let flat = ArraySamples(pixels: data.pixels, labels: data.labels, sampleShape: [24], classCount: 3)
        let frozen = try mlp.layerIndices(named: ["fc1"])
        let s0 = mlp.initialParameters(key: StreamKey(seed: 11))
        for weightDecay: Float in [0, 0.1] {
            var v = s0
            var plain = Trainer(network: mlp, settings: TrainingSettings(batchSize: 8, learningRate: 0.5, momentum: 0.9,
                                                                         weightDecay: weightDecay),
                                key: StreamKey(seed: 12), frozen: frozen)
            _ = plain.runEpoch(0, parameters: &v, on: flat, indices: Array(0..<40),
                               workspace: Workspace(network: mlp, capacity: 8))
            #expect(v[mlp.parameterRanges[0]] == s0[mlp.parameterRanges[0]])
            #expect(v[mlp.parameterRanges[2]] != s0[mlp.parameterRanges[2]])
            var u = s0
            var dp = DPSGDTrainer(network: mlp, settings: TrainingSettings(learningRate: 0.5, weightDecay: weightDecay),
                                  dp: DPSGDSettings(noiseMultiplier: 2, maxGradientNorm: 1, sampleRate: 0.2),
                                  key: StreamKey(seed: 13), frozen: frozen)
            _ = dp.runEpoch(0, parameters: &u, on: flat, indices: Array(0..<40),
                            workspace: Workspace(network: mlp, capacity: 40))
            #expect(u[mlp.parameterRanges[0]] == s0[mlp.parameterRanges[0]])
            #expect(u[mlp.parameterRanges[2]] != s0[mlp.parameterRanges[2]])
        }
    }

    /// The accountant sees σ, q and the step count only: ε is identical frozen or not (spec C.4).
    @Test func freezingLeavesEpsilonUnchanged() throws {
        let data = patches(40, seed: 14)
        var eps: [Double] = []
        for frozen in [0, 3] {
            let net = try twoLayer(frozen: frozen)
            var w = net.initialParameters(key: StreamKey(seed: 15))
            var t = DPSGDTrainer(network: net, settings: TrainingSettings(learningRate: 0.1),
                                 dp: DPSGDSettings(noiseMultiplier: 1.1, maxGradientNorm: 1, sampleRate: 0.1),
                                 key: StreamKey(seed: 16))
            for e in 0..<3 {
                _ = t.runEpoch(e, parameters: &w, on: data, indices: Array(0..<40),
                               workspace: Workspace(network: net, capacity: 40))
            }
            #expect(t.accountant.steps == 30)
            eps.append(try t.epsilon(delta: 1e-5))
        }
        #expect(eps[0] == eps[1] && eps[0].isFinite && eps[0] > 0)
    }

    /// The noise DP-SGD adds to a zero clipped sum: ‖noise/B‖² ~ (σC/B)²·χ²(d_trainable), mean s²d and sd s²√(2d).
    /// Half the filters frozen: the observed squared norm sits within 5 sd of s²·d_trainable, and the negative
    /// control, s²·d_all (noise on the frozen coordinates too), is rejected by the same 5-sd band. Frozen
    /// coordinates stay exactly 0.
    @Test func noiseNormScalesWithTheTrainableCoordinates() throws {
        let (m, d) = (10, 200)
        let net = try twoLayer(frozen: m / 2, m: m, d: d)
        let dp = DPSGDSettings(noiseMultiplier: 1.5, maxGradientNorm: 0.8, sampleRate: 0.1)
        let trainer = DPSGDTrainer(network: net, settings: TrainingSettings(), dp: dp, key: StreamKey(seed: 17))
        let dTrain = net.trainableCount(frozen: []), dAll = net.parameterCount
        #expect(dTrain * 2 == dAll)
        let b = 25.0, s = dp.noiseMultiplier * dp.maxGradientNorm / b
        var band: [(observed: Double, mean: Double, sd: Double)] = []
        for step: UInt64 in 0..<3 {
            var g = [Float](repeating: 0, count: dAll)
            g.withUnsafeMutableBufferPointer { trainer.privatize($0, expectedBatch: b, step: step) }
            for r in net.frozenRanges(frozen: []) { #expect(g[r].allSatisfy { $0 == 0 }) }
            let observed = g.reduce(0.0) { $0 + Double($1) * Double($1) }
            band.append((observed, s * s * Double(dTrain), s * s * (2 * Double(dTrain)).squareRoot()))
            let control = s * s * Double(dAll), controlSD = s * s * (2 * Double(dAll)).squareRoot()
            #expect(abs(observed - control) > 5 * controlSD)
        }
        for x in band { #expect(abs(x.observed - x.mean) < 5 * x.sd) }
    }
}
