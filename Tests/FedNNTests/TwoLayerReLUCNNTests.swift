// TwoLayerReLUCNNTests: the theory model's scores, loss, gradients and per-example norms against independent oracles.
import FedNN
import FedTensor
import Foundation
import Testing

@Suite struct TwoLayerReLUCNNTests {
    func model(classes: Int = 3, m: Int = 4, patches: Int = 3, d: Int = 8, std: Float = 1) throws -> Network {
        try Network(inputShape: [patches, d], layers: [TwoLayerReLUCNN(classes: classes, filtersPerClass: m,
                                                                       initialStd: std)])
    }

    /// Scores against the definition F_j = (1/m)·Σ_r Σ_p ReLU(⟨w_{j,r}, x^(p)⟩) in Float64.
    @Test func scoresMatchTheDefinition() throws {
        let net = try model()
        let w = net.initialParameters(key: StreamKey(seed: 1))
        var rng = Philox(StreamKey(seed: 2))
        let x = (0..<(5 * 24)).map { _ in Float(rng.nextGaussian()) }
        let ws = Workspace(network: net, capacity: 5)
        ws.input.update(from: x, count: x.count)
        w.withUnsafeBufferPointer { ws.forward(parameters: $0.baseAddress!, batch: 5, training: false) }
        for b in 0..<5 {
            for j in 0..<3 {
                var f = 0.0
                for r in 0..<4 {
                    for p in 0..<3 {
                        let z = (0..<8).reduce(0.0) { $0 + Double(w[(j * 4 + r) * 8 + $1]) * Double(x[b * 24 + p * 8 + $1]) }
                        f += max(z, 0)
                    }
                }
                #expect(abs(Double(ws.output[b * 3 + j]) - f / 4) < 1e-5 * max(1, abs(f)))
            }
        }
    }

    /// K = 2 with softmax cross-entropy is the binary model's logistic loss log(1 + e^{−y·f}), f = F₊₁ − F₋₁.
    @Test func twoClassesGiveTheLogisticLoss() throws {
        let net = try model(classes: 2)
        let w = net.initialParameters(key: StreamKey(seed: 3))
        var rng = Philox(StreamKey(seed: 4))
        let x = (0..<(4 * 24)).map { _ in Float(rng.nextGaussian()) }
        let ws = Workspace(network: net, capacity: 4)
        ws.input.update(from: x, count: x.count)
        w.withUnsafeBufferPointer { ws.forward(parameters: $0.baseAddress!, batch: 4, training: false) }
        for b in 0..<4 {
            let y: Int32 = Int32(b % 2)
            let f = Double(ws.output[b * 2 + 1]) - Double(ws.output[b * 2])  // class 1 plays +1
            let sign = y == 1 ? 1.0 : -1.0
            var label = y
            let ce = softmaxCrossEntropy(logits: ws.output + b * 2, labels: &label, batch: 1, classes: 2,
                                         gradient: nil).lossSum
            #expect(abs(ce - log1p(exp(-sign * f))) < 1e-6)
        }
    }

    /// Parameter and input gradients against central differences (the suite's oracle), binary and K-class.
    @Test(arguments: [2, 4])
    func gradientsMatchFiniteDifferences(classes: Int) throws {
        expectGradientsMatchFiniteDifferences(try model(classes: classes), batch: 3, step: 1e-3, tolerance: 2e-2)
    }

    /// The ghost per-example norms, seen through DP-SGD's clipped sum Σ_i g_i·min(1, C/‖g_i‖) (C small enough that
    /// every example is clipped, so every norm matters), against a naive loop of single-example backward passes.
    @Test func clippedSumMatchesSingleExampleGradients() throws {
        let net = try model()
        var w = net.initialParameters(key: StreamKey(seed: 5))
        var rng = Philox(StreamKey(seed: 6))
        let n = 5
        let data = ArraySamples(pixels: (0..<(n * 24)).map { _ in Float(rng.nextGaussian()) },
                                labels: (0..<n).map { Int32($0 % 3) }, sampleShape: [3, 8], classCount: 3)
        let c = 0.01
        var trainer = DPSGDTrainer(network: net, settings: TrainingSettings(),
                                   dp: DPSGDSettings(noiseMultiplier: 0, maxGradientNorm: c, sampleRate: 1),
                                   key: StreamKey(seed: 7))
        let ws = Workspace(network: net, capacity: 2)  // chunks of 2, 2, 1
        _ = trainer.clippedSum(parameters: &w, on: data, batch: Array(0..<n), workspace: ws, noiseStep: 0)
        let fast = Array(ws.gradient)
        var naive = [Double](repeating: 0, count: net.parameterCount)
        var smallest = Double.infinity
        for i in 0..<n {
            let one = Workspace(network: net, capacity: 1)
            var label: Int32 = 0
            [i].withUnsafeBufferPointer { data.gather($0, inputs: one.input, labels: &label) }
            w.withUnsafeBufferPointer { p in
                one.forward(parameters: p.baseAddress!, batch: 1, training: true)
                softmaxCrossEntropy(logits: one.output, labels: &label, batch: 1, classes: 3, gradient: one.output)
                one.backward(parameters: p.baseAddress!, outputGradient: one.output, batch: 1, accumulate: false)
            }
            let norm = one.gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            smallest = min(smallest, norm)
            for k in naive.indices { naive[k] += Double(one.gradient[k]) * min(1, c / norm) }
        }
        #expect(smallest > 10 * c, "some example was not clipped: the check would not see its norm")
        let scale = naive.map { abs($0) }.max()!
        let worst = zip(fast, naive).map { abs(Double($0) - $1) }.max()!
        #expect(worst <= 1e-4 * scale, "largest difference \(worst) against a largest coordinate \(scale)")
    }
}
