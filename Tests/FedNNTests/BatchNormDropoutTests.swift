// BatchNormDropoutTests: BatchNorm and Dropout against naive references and finite differences; the CNNs' sizes.
import FedNN
import FedTensor
import Testing

@Suite("BatchNorm, Dropout and the three CNNs")
struct BatchNormDropoutTests {
    static let shape: Shape = [2, 3, 4]  // NHWC, 4 channels
    static let batch = 3

    /// The naive reference: per channel over batch × 2 × 3 positions, in Float64.
    static func naive(_ x: [Float], gamma: [Float], beta: [Float], mean: [Double]? = nil,
                      variance: [Double]? = nil) -> (y: [Double], mean: [Double], variance: [Double]) {
        let c = gamma.count
        var mu = [Double](repeating: 0, count: c), v = [Double](repeating: 0, count: c), count = [Double](repeating: 0, count: c)
        for (i, xi) in x.enumerated() {
            mu[i % c] += Double(xi)
            count[i % c] += 1
        }
        for k in 0..<c { mu[k] /= count[k] }
        for (i, xi) in x.enumerated() { v[i % c] += (Double(xi) - mu[i % c]) * (Double(xi) - mu[i % c]) }
        for k in 0..<c { v[k] /= count[k] }
        let m = mean ?? mu, s = variance ?? v
        let y = x.enumerated().map { i, xi in
            Double(gamma[i % c]) * (Double(xi) - m[i % c]) / (s[i % c] + 1e-5).squareRoot() + Double(beta[i % c])
        }
        return (y, mu, v)
    }

    static func input(seed: UInt64) -> [Float] {
        var rng = Philox(seed: seed, 1)
        let n = batch * shape.reduce(1, *)
        return (0..<n).map { i in Float(rng.nextGaussian()) * Float(1 + i % 4) + Float(i % 4) }
    }

    @Test func trainingForwardMatchesTheNaiveReferenceAndUpdatesRunningStatistics() throws {
        let net = try Network(inputShape: Self.shape, layers: [BatchNorm(4)])
        let ws = Workspace(network: net, capacity: Self.batch)
        var p = net.initialParameters(key: StreamKey(seed: 1))
        p.replaceSubrange(0..<8, with: [1.5, 0.5, -1, 2, 0.1, -0.2, 0.3, 0])  // γ, β
        let x = Self.input(seed: 2)
        ws.input.update(from: x, count: x.count)
        p.withUnsafeMutableBufferPointer { ws.forward(parameters: $0.baseAddress!, batch: Self.batch, training: true) }
        let ref = Self.naive(x, gamma: Array(p[0..<4]), beta: Array(p[4..<8]))
        for i in x.indices { #expect(abs(Double(ws.output[i]) - ref.y[i]) < 1e-4) }
        // r_μ = 0.9·0 + 0.1·μ, r_σ² = 0.9·1 + 0.1·σ²·M/(M − 1) with M = 18.
        for k in 0..<4 {
            #expect(abs(Double(p[8 + k]) - 0.1 * ref.mean[k]) < 1e-5)
            #expect(abs(Double(p[12 + k]) - (0.9 + 0.1 * ref.variance[k] * 18 / 17)) < 1e-5)
        }
        // Evaluation uses the running statistics, and leaves them alone.
        let saved = p
        p.withUnsafeMutableBufferPointer { ws.forward(parameters: $0.baseAddress!, batch: Self.batch, training: false) }
        let eval = Self.naive(x, gamma: Array(p[0..<4]), beta: Array(p[4..<8]), mean: p[8..<12].map(Double.init),
                              variance: p[12..<16].map(Double.init))
        for i in x.indices { #expect(abs(Double(ws.output[i]) - eval.y[i]) < 1e-4) }
        #expect(p == saved)
        #expect(abs(Double(ws.output[0]) - ref.y[0]) > 1e-2)  // negative control: the modes differ
    }

    /// Central differences of L = Σ r ⊙ BN(x) in γ, β and x, in training mode (batch statistics) and in evaluation
    /// mode (running statistics, set first by one training pass); the running statistics get gradient 0 (they are
    /// state, not trained, so they are not differentiated).
    @Test(arguments: [true, false])
    func backwardMatchesFiniteDifferences(training: Bool) throws {
        let net = try Network(inputShape: Self.shape, layers: [BatchNorm(4)])
        let ws = Workspace(network: net, capacity: Self.batch)
        var p = net.initialParameters(key: StreamKey(seed: 1))
        p.replaceSubrange(0..<8, with: [1.5, 0.5, -1, 2, 0.1, -0.2, 0.3, 0])
        var x = Self.input(seed: 3)
        var rng = Philox(seed: 4, 1)
        let r = x.map { _ in Float(rng.nextGaussian()) }
        func loss(_ p: [Float], _ x: [Float], mode: Bool = training) -> Double {
            var q = p
            ws.input.update(from: x, count: x.count)
            q.withUnsafeMutableBufferPointer { ws.forward(parameters: $0.baseAddress!, batch: Self.batch, training: mode) }
            return zip(r, 0..<x.count).reduce(0.0) { $0 + Double($1.0) * Double(ws.output[$1.1]) }
        }
        if !training {
            // Non-trivial running statistics: one training pass on other data.
            ws.input.update(from: Self.input(seed: 9), count: x.count)
            p.withUnsafeMutableBufferPointer { ws.forward(parameters: $0.baseAddress!, batch: Self.batch, training: true) }
        }
        _ = loss(p, x)
        ws.zeroGradient()
        p.withUnsafeBufferPointer { pb in
            r.withUnsafeBufferPointer { ws.backward(parameters: pb.baseAddress!, outputGradient: $0.baseAddress!,
                                                    batch: Self.batch, inputGradient: true) }
        }
        let gp = Array(ws.gradient), gx = Array(UnsafeBufferPointer(start: ws.inputGradient, count: x.count))
        let h: Float = 1e-2
        for i in 0..<8 {
            var a = p, b = p
            a[i] += h
            b[i] -= h
            let numeric = (loss(a, x) - loss(b, x)) / Double(2 * h)
            #expect(abs(numeric - Double(gp[i])) < 2e-2 * max(1, abs(numeric)), "parameter \(i)")
        }
        #expect(gp[8..<16].allSatisfy { $0 == 0 })
        var worstOther = 0.0
        for i in stride(from: 0, to: x.count, by: 5) {
            let saved = x[i]
            x[i] = saved + h
            let plus = loss(p, x), otherPlus = loss(p, x, mode: !training)
            x[i] = saved - h
            let minus = loss(p, x), otherMinus = loss(p, x, mode: !training)
            x[i] = saved
            let numeric = (plus - minus) / Double(2 * h)
            #expect(abs(numeric - Double(gx[i])) < 2e-2 * max(1, abs(numeric)), "input \(i)")
            worstOther = max(worstOther, abs((otherPlus - otherMinus) / Double(2 * h) - Double(gx[i])))
        }
        // Negative control: the other mode's derivative is not this gradient.
        #expect(worstOther > 0.1)
    }

    /// Dropout keeps each unit with probability 1 − p, scaled by 1/(1 − p); the gradient uses the same mask.
    @Test func dropoutDropsTheRateScalesTheRestAndIsIdentityAtEvaluation() throws {
        let n = 100_000
        let net = try Network(inputShape: [n], layers: [Dropout(0.3)])
        let ws = Workspace(network: net, capacity: 1)
        let x = (0..<n).map { Float($0 % 7) + 1 }
        ws.input.update(from: x, count: n)
        let none = UnsafePointer<Float>(bitPattern: 8)!
        ws.forward(parameters: none, batch: 1, training: false)
        #expect(Array(UnsafeBufferPointer(start: ws.output, count: n)) == x)
        ws.forward(parameters: none, batch: 1, training: true, noise: NoiseSource(key: StreamKey(seed: 6), step: 0))
        let y = Array(UnsafeBufferPointer(start: ws.output, count: n))
        let dropped = Double(y.filter { $0 == 0 }.count) / Double(n)
        let bound = 5 * (0.3 * 0.7 / Double(n)).squareRoot()
        #expect(abs(dropped - 0.3) < bound)
        #expect(abs(dropped - 0.32) > bound)  // negative control
        #expect(zip(x, y).allSatisfy { $1 == 0 || abs($1 - $0 / 0.7) <= 1e-6 * $0 })
        let dy = [Float](repeating: 2, count: n)
        dy.withUnsafeBufferPointer {
            ws.backward(parameters: none, outputGradient: $0.baseAddress!, batch: 1, inputGradient: true)
        }
        let kept = (0..<n).filter { y[$0] != 0 }
        #expect((0..<n).allSatisfy { y[$0] != 0 || ws.inputGradient[$0] == 0 })
        #expect(kept.allSatisfy { abs(ws.inputGradient[$0] - 2 / 0.7) <= 1e-6 })
    }

    /// Parameter counts by hand (MNIST 28×28×1, 10 classes).
    /// small: conv 1·9·32 + 32 = 320; FC 13·13·32·10 + 10 = 54,090 → 54,410.
    /// large: convs 320 + 18,496 + 73,856; BatchNorm γ, β 64 + 128 + 256; FC 1,152·256 + 256 = 295,168 and
    /// 2,570 → 390,858 trainable, plus running statistics 64 + 128 + 256 = 448 → 391,306 floats.
    @Test func theThreeCNNsHaveTheirParameterCounts() throws {
        let small = try ModelKind.smallCNN.network(inputShape: [28, 28, 1], classes: 10)
        let medium = try ModelKind.cnn.network(inputShape: [28, 28, 1], classes: 10)
        let large = try ModelKind.largeCNN.network(inputShape: [28, 28, 1], classes: 10)
        #expect(small.parameterCount == 54_410)
        #expect(medium.parameterCount == 1_663_370)
        #expect(ParadoxCNN.trainableCount(large) == 390_858)
        #expect(large.parameterCount == 391_306)
        #expect(NoiseInfusion.noiseRanges(large).reduce(0) { $0 + $1.count } == 390_858)
    }

    /// A training step on the large CNN: finite loss, running statistics moved, the step is reproducible.
    @Test func largeCNNTrainsReproducibly() throws {
        let net = try ModelKind.largeCNN.network(inputShape: [28, 28, 1], classes: 10)
        func step() -> [Float] {
            let ws = Workspace(network: net, capacity: 8)
            var p = net.initialParameters(key: StreamKey(seed: 2))
            var rng = Philox(seed: 3, 1)
            for i in 0..<(8 * 784) { ws.input[i] = Float(rng.nextGaussian()) }
            var sgd = SGD(learningRate: 0.01)
            let r = trainingStep(net, parameters: &p, labels: (0..<8).map { Int32($0) }, batch: 8, workspace: ws,
                                 sgd: &sgd, noise: NoiseSource(key: StreamKey(seed: 4), step: 0))
            #expect(r.loss.isFinite)
            return p
        }
        let a = step()
        #expect(a == step())
        let bn = net.parameterRanges[1]
        #expect(a[(bn.lowerBound + 64)..<(bn.lowerBound + 96)].contains { $0 != 0 })  // r_μ moved
    }
}
