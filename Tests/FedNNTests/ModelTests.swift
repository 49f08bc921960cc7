// ModelTests: parameter counts of the named models, convolution against a direct loop, loss and SGD by hand.
import FedNN
import FedTensor
import Testing

@Suite("Models, convolution, loss and SGD")
struct ModelTests {
    @Test(arguments: [
        (ModelKind.cnn, [28, 28, 1], 1_663_370), (.cnn, [32, 32, 3], 2_156_490),
        (.mlp, [28, 28, 1], 199_210), (.mlp, [32, 32, 3], 656_810),
    ])
    func parameterCounts(kind: ModelKind, shape: [Int], expected: Int) throws {
        // Published in McMahan et al. 2017 / computed in the spec (B.7).
        #expect(try kind.network(inputShape: shape, classes: 10).parameterCount == expected)
    }

    @Test func shapeErrorNamesTheLayer() {
        #expect(throws: ShapeError.self) { try Network(inputShape: [10], layers: [Linear(10, 4), Linear(5, 2)]) }
        do {
            _ = try Network(inputShape: [10], layers: [Linear(10, 4), Linear(5, 2)])
        } catch {
            #expect(error.description.contains("layer 1"))
            #expect(error.description.contains("[4]"))
        }
    }

    @Test func convolutionHandComputed() throws {
        // 3×3 input 1..9, one 2×2 filter [[1, 0], [0, -1]], bias 0.5, no padding:
        // out[y][x] = in[y][x] − in[y+1][x+1] + 0.5 = −4 + 0.5 everywhere.
        let net = try Network(inputShape: [3, 3, 1], layers: [Conv2d(1, 1, kernel: 2)])
        let ws = Workspace(network: net, capacity: 1)
        for i in 0..<9 { ws.input[i] = Float(i + 1) }
        let params: [Float] = [1, 0, 0, -1, 0.5]
        params.withUnsafeBufferPointer { ws.forward(parameters: $0.baseAddress!, batch: 1, training: false) }
        #expect(Array(UnsafeBufferPointer(start: ws.output, count: 4)) == [-3.5, -3.5, -3.5, -3.5])
    }

    @Test(arguments: [(3, 1, 1), (5, 1, 2), (5, 2, 1), (3, 3, 0)])
    func convolutionMatchesDirectLoop(kernel: Int, stride: Int, padding: Int) throws {
        let (h, w, cin, cout, batch) = (11, 9, 3, 5, 2)
        let net = try Network(inputShape: [h, w, cin],
                              layers: [Conv2d(cin, cout, kernel: kernel, stride: stride, padding: padding)])
        let ws = Workspace(network: net, capacity: batch)
        var rng = Philox(seed: 7)
        let x = (0..<(batch * h * w * cin)).map { _ in Float(rng.nextGaussian()) }
        ws.input.update(from: x, count: x.count)
        let p = net.initialParameters(key: StreamKey(seed: 3))
        p.withUnsafeBufferPointer { ws.forward(parameters: $0.baseAddress!, batch: batch, training: false) }
        let oh = net.shapes[1][0], ow = net.shapes[1][1]
        var maxErr: Float = 0
        for n in 0..<batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for o in 0..<cout {
                        var sum = Double(p[cout * kernel * kernel * cin + o])
                        for ky in 0..<kernel {
                            for kx in 0..<kernel {
                                let iy = oy * stride - padding + ky, ix = ox * stride - padding + kx
                                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                for c in 0..<cin {
                                    let wv = p[((o * kernel + ky) * kernel + kx) * cin + c]
                                    sum += Double(wv) * Double(x[((n * h + iy) * w + ix) * cin + c])
                                }
                            }
                        }
                        let got = ws.output[((n * oh + oy) * ow + ox) * cout + o]
                        maxErr = max(maxErr, abs(got - Float(sum)))
                    }
                }
            }
        }
        #expect(maxErr < 1e-5)
    }

    @Test func softmaxCrossEntropyClosedForm() {
        // Logits (0, 0): loss ln 2, gradient (0.5 − 1, 0.5)/1. Logits (2, 0, −1) label 2:
        // loss = log(e² + 1 + e⁻¹) + 1.
        let logits: [Float] = [0, 0, 0, 0]
        let labels: [Int32] = [0, 1]
        var grad = [Float](repeating: 9, count: 4)
        let r = softmaxCrossEntropy(logits: logits, labels: labels, batch: 2, classes: 2, gradient: &grad)
        #expect(abs(r.lossSum - 2 * 0.6931471805599453) < 1e-12)
        #expect(grad == [-0.25, 0.25, 0.25, -0.25])
        let r2 = softmaxCrossEntropy(logits: [2, 0, -1], labels: [2], batch: 1, classes: 3, gradient: nil)
        let expected = 1.0 + (7.38905609893065 + 1 + 0.36787944117144233).logValue
        #expect(abs(r2.lossSum - expected) < 1e-6)
        #expect(r2.correct == 0)
    }

    @Test func sgdMomentumAndWeightDecayByHand() {
        // w = 1, g = 0.5, λ = 0.1, μ = 0.9, η = 0.1.
        // step 1: g' = 0.6, v = 0.6, w = 0.94. step 2 (g = 0.5): g' = 0.594, v = 0.9·0.6 + 0.594 = 1.134,
        // w = 0.94 − 0.1134 = 0.8266.
        var sgd = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
        var w: [Float] = [1]
        var g: [Float] = [0.5]
        g.withUnsafeMutableBufferPointer { sgd.step(parameters: &w, gradient: $0) }
        let first = w[0]
        #expect(abs(first - 0.94) < 1e-6)
        g = [0.5]
        g.withUnsafeMutableBufferPointer { sgd.step(parameters: &w, gradient: $0) }
        #expect(abs(w[0] - 0.8266) < 1e-6)
    }

    @Test func learningRateDecaysPerEpoch() throws {
        // With decay γ, epoch 1 moves the weights γ times as far as the same gradient would at full rate:
        // with γ = 1e-6 the second epoch must barely move them compared with the first.
        let net = try ModelKind.mlp.network(inputShape: [4, 4, 1], classes: 3)
        let data = syntheticSamples(count: 30, shape: [4, 4, 1], classes: 3, seed: 5)
        var p = net.initialParameters(key: StreamKey(seed: 1))
        let ws = Workspace(network: net, capacity: 10)
        var trainer = Trainer(network: net, settings: TrainingSettings(epochs: 2, batchSize: 10, learningRate: 0.1,
                                                                       learningRateDecay: 1e-6),
                              key: StreamKey(seed: 2))
        let start = p
        _ = trainer.runEpoch(0, parameters: &p, on: data, indices: Array(0..<30), workspace: ws)
        let afterFirst = p
        _ = trainer.runEpoch(1, parameters: &p, on: data, indices: Array(0..<30), workspace: ws)
        let firstMove = zip(afterFirst, start).map { abs($0 - $1) }.max()!
        let secondMove = zip(p, afterFirst).map { abs($0 - $1) }.max()!
        #expect(firstMove > 1e-3)
        #expect(secondMove < firstMove * 1e-4)
    }

    @Test func frozenLayersKeepTheirParameters() throws {
        let net = try ModelKind.mlp.network(inputShape: [4, 4, 1], classes: 3)
        let data = syntheticSamples(count: 30, shape: [4, 4, 1], classes: 3, seed: 5)
        var p = net.initialParameters(key: StreamKey(seed: 1))
        let before = p
        let ws = Workspace(network: net, capacity: 10)
        train(net, parameters: &p, on: data, settings: TrainingSettings(epochs: 1, batchSize: 10, learningRate: 0.1),
              key: StreamKey(seed: 2), workspace: ws, frozen: [1])
        let frozenRange = net.parameterRanges[1], other = net.parameterRanges[3]
        #expect(Array(p[frozenRange]) == Array(before[frozenRange]))
        #expect(Array(p[other]) != Array(before[other]))
    }
}

extension Double {
    var logValue: Double { Foundation.log(self) }
}

import Foundation

/// Deterministic synthetic classification data whose classes are separable by the mean pixel value.
func syntheticSamples(count: Int, shape: [Int], classes: Int, seed: UInt64) -> ArraySamples {
    var rng = Philox(seed: seed, 99)
    let size = shape.reduce(1, *)
    var pixels: [Float] = []
    var labels: [Int32] = []
    for i in 0..<count {
        let label = i % classes
        labels.append(Int32(label))
        for _ in 0..<size { pixels.append(Float(label) - Float(classes - 1) / 2 + 0.5 * Float(rng.nextGaussian())) }
    }
    return ArraySamples(pixels: pixels, labels: labels, sampleShape: shape, classCount: classes)
}
