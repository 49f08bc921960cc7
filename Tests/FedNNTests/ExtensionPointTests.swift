// ExtensionPointTests: what later features build on: train-time noise layers and per-example gradients.
import FedNN
import FedTensor
import Testing

@Suite("Extension points")
struct ExtensionPointTests {
    /// In place (after a layer whose output nothing else reads: a 1→1 identity Linear over n one-feature samples)
    /// and out of place (as the first layer, whose input belongs to the caller).
    @Test(arguments: [true, false])
    func gaussianNoiseIsTrainOnlyReproducibleAndHasTheRightVariance(inPlace: Bool) throws {
        let n = 50_000
        let net = inPlace
            ? try Network(inputShape: [1], layers: [Linear(1, 1), GaussianNoise(std: 0.5)])
            : try Network(inputShape: [n], layers: [GaussianNoise(std: 0.5)])
        let batch = inPlace ? n : 1
        let identity: [Float] = inPlace ? [1, 0] : []
        let ws = Workspace(network: net, capacity: batch)
        func run(training: Bool, step: UInt64) -> [Float] {
            ws.input.update(repeating: 1, count: n)
            identity.withUnsafeBufferPointer {
                ws.forward(parameters: $0.baseAddress ?? UnsafePointer(bitPattern: 8)!, batch: batch, training: training,
                           noise: NoiseSource(key: StreamKey(seed: 3), step: step))
            }
            return Array(UnsafeBufferPointer(start: ws.output, count: n))
        }
        #expect(run(training: false, step: 0) == [Float](repeating: 1, count: n))
        let a = run(training: true, step: 0), b = run(training: true, step: 0), c = run(training: true, step: 1)
        #expect(a == b)
        #expect(a != c)
        // Sample variance of n draws: relative std √(2/n) ≈ 0.0063; allow 5 of them.
        let mean = a.reduce(0.0) { $0 + Double($1) } / Double(n)
        let variance = a.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n - 1)
        #expect(abs(mean - 1) < 5 * 0.5 / Double(n).squareRoot())
        #expect(abs(variance / 0.25 - 1) < 5 * (2 / Double(n)).squareRoot())
    }

    @Test func gaussianNoisePassesGradientsThrough() throws {
        expectGradientsMatchFiniteDifferences(try Network(inputShape: [6], layers: [Linear(6, 4), GaussianNoise(std: 0.3)]))
    }

    @Test func perExampleGradientsSumToTheBatchGradient() throws {
        // DP-SGD clips each example's gradient: running backward on one sample at a time must give gradients whose
        // sum is the gradient of the summed loss over the batch.
        let net = try ModelKind.cnn.network(inputShape: [12, 12, 1], classes: 3)
        let p = net.initialParameters(key: StreamKey(seed: 4))
        let batch = 4
        var rng = Philox(seed: 5)
        let x = (0..<(batch * net.inputSize)).map { _ in Float(rng.nextGaussian()) }
        let labels: [Int32] = [0, 2, 1, 2]
        let ws = Workspace(network: net, capacity: batch)
        func gradient(of samples: Range<Int>) -> [Float] {
            let count = samples.count
            ws.input.update(from: Array(x[(samples.lowerBound * net.inputSize)..<(samples.upperBound * net.inputSize)]),
                            count: count * net.inputSize)
            p.withUnsafeBufferPointer { ws.forward(parameters: $0.baseAddress!, batch: count, training: true) }
            let l = Array(labels[samples])
            // Gradient of the SUM of losses: the mean's gradient times the count.
            softmaxCrossEntropy(logits: ws.output, labels: l, batch: count, classes: 3, gradient: ws.output)
            scale(ws.output, by: Float(count), count: count * 3)
            p.withUnsafeBufferPointer {
                ws.backward(parameters: $0.baseAddress!, outputGradient: ws.output, batch: count, accumulate: false)
            }
            return Array(ws.gradient)
        }
        let whole = gradient(of: 0..<batch)
        var sum = [Float](repeating: 0, count: net.parameterCount)
        for i in 0..<batch {
            let g = gradient(of: i..<(i + 1))
            for j in sum.indices { sum[j] += g[j] }
        }
        let scaleOf = whole.map { abs($0) }.max()!
        let worst = zip(whole, sum).map { abs($0 - $1) }.max()!
        #expect(scaleOf > 1e-3)
        #expect(worst <= 1e-5 * scaleOf * Float(batch))
    }
}
