// PerExampleNormTests: DP-SGD's per-example norms and clipped sums against a naive loop of single-example backward passes.
import FedNN
import FedPrivacy
import FedTensor
import Testing

/// y = w ⊙ x + b per feature: a parameterised layer without its own per-example norms, so DP-SGD uses the
/// generic fallback of the Layer protocol.
struct FeatureScale: Layer {
    let features: Int
    var description: String { "FeatureScale(\(features))" }
    func parameterCount(input: Shape) -> Int { 2 * features }
    func outputShape(input: Shape) throws(ShapeError) -> Shape { input }
    func initialize(_ parameters: UnsafeMutableBufferPointer<Float>, input: Shape, scheme: Initialization,
                    rng: inout Philox) {
        for i in parameters.indices { parameters[i] = Float(rng.nextGaussian()) }
    }
    func forward(_ c: ForwardContext, input: Shape) {
        for e in 0..<c.batch {
            for j in 0..<features { c.output[e * features + j] = c.parameters[j] * c.input[e * features + j] + c.parameters[features + j] }
        }
    }
    func backward(_ c: BackwardContext, input: Shape) {
        if let g = c.parameterGradient {
            if !c.accumulate { g.update(repeating: 0, count: 2 * features) }
            for e in 0..<c.batch {
                for j in 0..<features {
                    g[j] += c.outputGradient[e * features + j] * c.input[e * features + j]
                    g[features + j] += c.outputGradient[e * features + j]
                }
            }
        }
        if let dx = c.inputGradient {
            for e in 0..<c.batch {
                for j in 0..<features { dx[e * features + j] = c.outputGradient[e * features + j] * c.parameters[j] }
            }
        }
    }
}

/// The networks whose norms are checked: each parameterised layer type, each conv route and path.
enum NormCase: String, CaseIterable, CustomStringConvertible {
    case mlp, convImplicit, convIm2colStride2, convGram, fallback, frozenFirst, tanhCNN
    var description: String { rawValue }

    func network() throws -> Network {
        switch self {
        case .mlp:
            return try Network(inputShape: [6, 6, 1], layers: [Flatten(), Linear(36, 12), ReLU(), Linear(12, 4)])
        case .convImplicit:  // second conv: implicit, with the stride-1 input gradient (16 channels)
            return try Network(inputShape: [7, 7, 2], layers: [
                Conv2d(2, 16, kernel: 3, padding: 1), ReLU(), Conv2d(16, 16, kernel: 3, padding: 1), ReLU(),
                MaxPool2d(2), Flatten(), Linear(144, 4)])
        case .convIm2colStride2:  // im2col convs whose input gradient overwrites their columns
            return try Network(inputShape: [9, 9, 3], layers: [
                Conv2d(3, 5, kernel: 3, stride: 2, padding: 1), ReLU(), Conv2d(5, 6, kernel: 2, stride: 2),
                Flatten(), Linear(24, 4)])
        case .convGram:
            var a = Conv2d(3, 16, kernel: 3, padding: 1), b = Conv2d(16, 6, kernel: 3, stride: 2)
            a.normRoute = .gram
            b.normRoute = .gram
            return try Network(inputShape: [7, 7, 3], layers: [a, ReLU(), b, Flatten(), Linear(54, 4)])
        case .fallback:
            return try Network(inputShape: [5], layers: [FeatureScale(features: 5), Sigmoid(), Linear(5, 4)])
        case .frozenFirst:
            return try Network(inputShape: [6, 6, 1], layers: [Flatten(), Linear(36, 12), ReLU(), Linear(12, 4)])
        case .tanhCNN:  // stride-2 im2col convs (per-example GEMM, then Gram), tanh, overlapping pooling
            return try ModelKind.tanhCNN.network(inputShape: [16, 16, 1], classes: 4)
        }
    }

    var frozen: Set<Int> { self == .frozenFirst ? [1] : [] }
}

/// Per-example gradients by the naive loop (one example, ordinary backward), in Float64.
func naivePerExampleGradients(_ net: Network, _ p: [Float], _ x: [Float], _ labels: [Int32], frozen: Set<Int>)
    -> [[Double]]
{
    let ws = Workspace(network: net, capacity: 1)
    return labels.indices.map { e in
        ws.input.update(from: Array(x[(e * net.inputSize)..<((e + 1) * net.inputSize)]), count: net.inputSize)
        p.withUnsafeBufferPointer { ws.forward(parameters: $0.baseAddress!, batch: 1, training: true) }
        [labels[e]].withUnsafeBufferPointer {
            softmaxCrossEntropy(logits: ws.output, labels: $0.baseAddress!, batch: 1, classes: net.outputSize,
                                gradient: ws.output)
        }
        p.withUnsafeBufferPointer {
            ws.backward(parameters: $0.baseAddress!, outputGradient: ws.output, batch: 1, frozen: frozen,
                        accumulate: false)
        }
        return ws.gradient.map(Double.init)
    }
}

@Suite("DP-SGD per-example norms")
struct PerExampleNormTests {
    struct Setup {
        let net: Network
        let p: [Float]
        let data: ArraySamples
    }

    func setup(_ c: NormCase, batch: Int) throws -> Setup {
        let net = try c.network()
        let p = net.initialParameters(key: StreamKey(seed: 7))
        var rng = Philox(seed: 8, UInt64(batch))
        let x = (0..<(batch * net.inputSize)).map { _ in Float(rng.nextGaussian()) }
        let labels = (0..<batch).map { Int32(($0 * 7 + 3) % 4) }
        return Setup(net: net, p: p, data: ArraySamples(pixels: x, labels: labels, sampleShape: net.inputShape,
                                                        classCount: 4))
    }

    @Test("norms and clipped sums equal the naive loop (batch 1…64, chunked, 1 and 2 threads)",
          arguments: NormCase.allCases, [1, 2])
    func clippedSumMatchesNaiveLoop(_ c: NormCase, threads: Int) throws {
        for batch in [1, 3, 17, 64] {
            let s = try setup(c, batch: batch)
            let perExample = naivePerExampleGradients(s.net, s.p, s.data.pixels, s.data.labels, frozen: c.frozen)
            let norms = perExample.map { $0.reduce(0) { $0 + $1 * $1 }.squareRoot() }
            // Clip at the median norm, so about half the examples are clipped.
            let maxNorm = norms.sorted()[batch / 2]
            for perLayer in [false, true] {
                var expected = [Double](repeating: 0, count: s.net.parameterCount)
                let trainable = s.net.layers.indices.filter { !c.frozen.contains($0) && !s.net.parameterRanges[$0].isEmpty }
                for g in perExample {
                    if perLayer {
                        let layerNorm = maxNorm / Double(trainable.count).squareRoot()
                        for layer in trainable {
                            let r = s.net.parameterRanges[layer]
                            let n = r.reduce(0.0) { $0 + g[$1] * g[$1] }.squareRoot()
                            let f = Double(Clipping.factor(norm: n, maxNorm: layerNorm))
                            for j in r { expected[j] += f * g[j] }
                        }
                    } else {
                        let f = Double(Clipping.factor(norm: g.reduce(0) { $0 + $1 * $1 }.squareRoot(), maxNorm: maxNorm))
                        for j in g.indices { expected[j] += f * g[j] }
                    }
                }
                let settings = DPSGDSettings(noiseMultiplier: 0, maxGradientNorm: maxNorm, sampleRate: 1,
                                             perLayerClipping: perLayer)
                var trainer = DPSGDTrainer(network: s.net, settings: TrainingSettings(), dp: settings,
                                           key: StreamKey(seed: 9), frozen: c.frozen)
                // Capacity 16: batches above it run in chunks that accumulate into one sum.
                let ws = Workspace(network: s.net, capacity: 16)
                var p = s.p
                ComputeThreads.with(threads) {
                    _ = trainer.clippedSum(parameters: &p, on: s.data, batch: Array(0..<batch), workspace: ws,
                                           noiseStep: 0)
                }
                let got = Array(ws.gradient)
                let scale = max(expected.map(abs).max()!, 1e-3)
                let worst = zip(got, expected).map { abs(Double($0) - $1) }.max()!
                #expect(worst <= 2e-5 * scale * Double(batch).squareRoot(),
                        "\(c) batch \(batch) perLayer \(perLayer): worst \(worst) vs scale \(scale)")
                for layer in c.frozen {
                    #expect(got[s.net.parameterRanges[layer]].allSatisfy { $0 == 0 })
                }
            }
        }
    }

    @Test("each layer's per-example squared norms equal the naive loop's", arguments: NormCase.allCases)
    func layerNormsMatchNaiveLoop(_ c: NormCase) throws {
        let batch = 9
        let s = try setup(c, batch: batch)
        let perExample = naivePerExampleGradients(s.net, s.p, s.data.pixels, s.data.labels, frozen: c.frozen)
        let ws = Workspace(network: s.net, capacity: batch)
        var norms = [Double](repeating: 0, count: s.net.layers.count * batch)
        s.data.pixels.withUnsafeBufferPointer { ws.input.update(from: $0.baseAddress!, count: $0.count) }
        var rows = [Float](repeating: 0, count: batch * 4)
        s.p.withUnsafeBufferPointer { p in
            ws.forward(parameters: p.baseAddress!, batch: batch, training: true)
            for e in 0..<batch {
                [s.data.labels[e]].withUnsafeBufferPointer { l in
                    rows.withUnsafeMutableBufferPointer { r in
                        _ = softmaxCrossEntropy(logits: ws.output + e * 4, labels: l.baseAddress!, batch: 1,
                                                classes: 4, gradient: r.baseAddress! + e * 4)
                    }
                }
            }
            rows.withUnsafeBufferPointer { r in
                norms.withUnsafeMutableBufferPointer { n in
                    _ = ws.addPerExampleGradientNorms(parameters: p.baseAddress!, outputGradient: r.baseAddress!,
                                                      batch: batch, frozen: c.frozen, into: n.baseAddress!)
                }
            }
        }
        for layer in s.net.layers.indices {
            let r = s.net.parameterRanges[layer]
            for e in 0..<batch {
                let expected = c.frozen.contains(layer) ? 0 : r.reduce(0.0) { $0 + perExample[e][$1] * perExample[e][$1] }
                let got = norms[layer * batch + e]
                #expect(abs(got - expected) <= 1e-4 * max(expected, 1e-6), "\(c) layer \(layer) example \(e)")
            }
        }
    }

    /// W = 0 on two classes: δ = softmax − onehot = (−½, ½) and ∇W = δ xᵀ, so x = (5, 5) gives ‖g‖ = 5 exactly
    /// and x = (½, ½) gives ‖g‖ = ½.
    @Test("a gradient of norm 5 clipped at C = 1 has norm 1; one of norm 0.5 is unchanged")
    func clipToOne() throws {
        let net = try Network(inputShape: [2], layers: [Linear(2, 2, bias: false)])
        for (x, norm) in [(Float(5), 5.0), (0.5, 0.5)] {
            let data = ArraySamples(pixels: [x, x], labels: [0], sampleShape: [2], classCount: 2)
            var trainer = DPSGDTrainer(network: net, settings: TrainingSettings(),
                                       dp: DPSGDSettings(noiseMultiplier: 0, maxGradientNorm: 1, sampleRate: 1),
                                       key: StreamKey(seed: 1))
            let ws = Workspace(network: net, capacity: 1)
            var p: [Float] = [0, 0, 0, 0]
            trainer.clippedSum(parameters: &p, on: data, batch: [0], workspace: ws, noiseStep: 0)
            let clipped = Clipping.l2Norm(Array(ws.gradient))
            if norm > 1 {
                #expect(clipped <= 1 && clipped > 1 - 1e-6)
            } else {
                #expect(Array(ws.gradient) == [-x / 2, -x / 2, x / 2, x / 2])
            }
        }
    }
}
