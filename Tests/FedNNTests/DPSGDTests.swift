// DPSGDTests: DP-SGD's noise, Poisson sampling, step counting, determinism and its σ = 0 limit.
import FedNN
import FedPrivacy
import FedTensor
import Testing

@Suite("DP-SGD")
struct DPSGDTests {
    /// A small labelled set on the MLP-shaped network below.
    func tinyData(_ n: Int, seed: UInt64 = 11) -> ArraySamples {
        var rng = Philox(seed: seed)
        return ArraySamples(pixels: (0..<(n * 16)).map { _ in Float(rng.nextGaussian()) },
                            labels: (0..<n).map { Int32(($0 * 5 + 1) % 3) }, sampleShape: [4, 4, 1], classCount: 3)
    }

    func tinyNetwork() throws -> Network {
        try Network(inputShape: [4, 4, 1], layers: [Flatten(), Linear(16, 8), ReLU(), Linear(8, 3)])
    }

    /// (n − 1)s²/v ~ χ²(n − 1): s²/v has mean 1 and std √(2/(n − 1)); accept within 5 of them.
    func varianceMatches(_ values: ArraySlice<Float>, _ variance: Double) -> Bool {
        let n = Double(values.count)
        let mean = values.reduce(0.0) { $0 + Double($1) } / n
        let s2 = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / (n - 1)
        return abs(s2 / variance - 1) < 5 * (2 / (n - 1)).squareRoot()
    }

    @Test("noise: per-coordinate variance σ²C²/B² (χ² bound; 1.05× rejected); frozen layers get none")
    func noiseVariance() throws {
        let net = try Network(inputShape: [256], layers: [Linear(256, 256), Linear(256, 300)])
        let (sigma, c, b) = (1.3, 0.7, 37.5)
        var trainer = DPSGDTrainer(network: net, settings: TrainingSettings(),
                                   dp: DPSGDSettings(noiseMultiplier: sigma, maxGradientNorm: c, sampleRate: 0.5),
                                   key: StreamKey(seed: 5), frozen: [0])
        var g = [Float](repeating: 0, count: net.parameterCount)
        g.withUnsafeMutableBufferPointer { trainer.privatize($0, expectedBatch: b, step: 3) }
        let noisy = g[net.parameterRanges[1]]
        let variance = sigma * sigma * c * c / (b * b)
        #expect(noisy.count == 77_100)
        #expect(varianceMatches(noisy, variance))
        #expect(!varianceMatches(noisy, 1.05 * variance))
        #expect(!varianceMatches(noisy, variance / 1.05))
        #expect(g[net.parameterRanges[0]].allSatisfy { $0 == 0 })
        // Another step draws fresh noise; the same step the same noise.
        var again = [Float](repeating: 0, count: net.parameterCount), next = again
        again.withUnsafeMutableBufferPointer { trainer.privatize($0, expectedBatch: b, step: 3) }
        next.withUnsafeMutableBufferPointer { trainer.privatize($0, expectedBatch: b, step: 4) }
        #expect(again == g)
        #expect(next != g)
    }

    @Test("Poisson batch sizes: mean qN, variance qN(1 − q) (sample-size bounds; wrong values rejected)")
    func poissonBatchSizes() {
        let (n, q, draws) = (200, 0.2, 20_000)
        var rng = Philox(seed: 21)
        var sizes: [Double] = []
        var hits = [Int](repeating: 0, count: n)
        for _ in 0..<draws {
            let picked = PoissonSampling.positions(count: n, rate: q, rng: &rng)
            #expect(zip(picked, picked.dropFirst()).allSatisfy { $0 < $1 } && (picked.last ?? 0) < n)
            for p in picked { hits[p] += 1 }
            sizes.append(Double(picked.count))
        }
        let mean = sizes.reduce(0, +) / Double(draws)
        let variance = sizes.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws - 1)
        let v = Double(n) * q * (1 - q)  // 32
        let meanTolerance = 5 * (v / Double(draws)).squareRoot()
        #expect(abs(mean - Double(n) * q) < meanTolerance)
        #expect(abs(mean - 1.05 * Double(n) * q) > meanTolerance)  // negative control
        // The sample variance's relative std is about √(2/draws) (binomial excess kurtosis is small here).
        let relative = 5 * (2 / Double(draws)).squareRoot()
        #expect(abs(variance / v - 1) < relative)
        #expect(abs(variance / (Double(n) * q) - 1) > relative)  // negative control: Poisson variance qN
        // Every position is included at rate q: each count is Binomial(draws, q).
        let perPosition = 5 * (Double(draws) * q * (1 - q)).squareRoot()
        #expect(hits.allSatisfy { abs(Double($0) - Double(draws) * q) < perPosition })
        #expect(PoissonSampling.positions(count: 50, rate: 1, rng: &rng) == Array(0..<50))
        #expect(PoissonSampling.positions(count: 0, rate: 0.5, rng: &rng).isEmpty)
    }

    @Test("2,250 steps at σ = 1.5, q = 0.04 (empty batches included) give Opacus' ε = 7.32911117143")
    func epsilonPinnedToOpacus() throws {
        let net = try Network(inputShape: [4, 4, 1], layers: [Flatten(), Linear(16, 3)])
        let data = tinyData(25)
        var trainer = DPSGDTrainer(network: net, settings: TrainingSettings(learningRate: 0.1),
                                   dp: DPSGDSettings(noiseMultiplier: 1.5, maxGradientNorm: 1, sampleRate: 0.04),
                                   key: StreamKey(seed: 2))
        #expect(trainer.dp.stepsPerEpoch == 25)
        var p = net.initialParameters(key: StreamKey(seed: 1))
        let ws = Workspace(network: net, capacity: 4)
        var empty = 0
        for epoch in 0..<90 {
            let r = trainer.runEpoch(epoch, parameters: &p, on: data, indices: Array(0..<25), workspace: ws)
            #expect(r.steps == 25)
        }
        #expect(trainer.spend == RDPAccountant.Run(noiseMultiplier: 1.5, sampleRate: 0.04, steps: 2250))
        let epsilon = try trainer.epsilon(delta: 1e-5)
        #expect(abs(epsilon - 7.3291111714386545) <= 1e-9 * 7.33)
        for _ in 0..<10 {
            if trainer.step(parameters: &p, on: data, indices: Array(0..<25), workspace: ws).batch == 0 { empty += 1 }
        }
        #expect(trainer.spend.steps == 2260)
        let later = try trainer.epsilon(delta: 1e-5)
        #expect(later > epsilon)
        #expect(empty > 0)  // q·N = 1: about 36% of steps are empty and still counted
        #expect(p.allSatisfy { $0.isFinite })
    }

    @Test("bit-identical parameters whatever the thread count (flat and per-layer clipping, CNN)",
          arguments: [false, true])
    func threadInvariance(perLayer: Bool) throws {
        let net = try Network(inputShape: [8, 8, 1], layers: [
            Conv2d(1, 16, kernel: 3, padding: 1), ReLU(), MaxPool2d(2), Conv2d(16, 16, kernel: 3, padding: 1), ReLU(),
            Flatten(), Linear(256, 3)])
        var rng = Philox(seed: 4)
        let data = ArraySamples(pixels: (0..<(60 * 64)).map { _ in Float(rng.nextGaussian()) },
                                labels: (0..<60).map { Int32($0 % 3) }, sampleShape: [8, 8, 1], classCount: 3)
        func run(_ threads: Int) -> [Float] {
            ComputeThreads.with(threads) {
                var trainer = DPSGDTrainer(
                    network: net, settings: TrainingSettings(learningRate: 0.1, momentum: 0.5),
                    dp: DPSGDSettings(noiseMultiplier: 1, maxGradientNorm: 0.5, sampleRate: 0.2,
                                      perLayerClipping: perLayer), key: StreamKey(seed: 6))
                var p = net.initialParameters(key: StreamKey(seed: 3))
                let ws = Workspace(network: net, capacity: 8)
                for e in 0..<2 { _ = trainer.runEpoch(e, parameters: &p, on: data, indices: Array(0..<60), workspace: ws) }
                return p
            }
        }
        let one = run(1)
        #expect(one == run(2))
        #expect(one == run(1))
        #expect(one != net.initialParameters(key: StreamKey(seed: 3)))
    }

    @Test("σ = 0, q = 1 and a clip no example reaches is one full-batch SGD step on the mean gradient")
    func noiselessUnclippedIsPlainSGD() throws {
        let net = try tinyNetwork()
        let data = tinyData(30)
        let p0 = net.initialParameters(key: StreamKey(seed: 8))
        var trainer = DPSGDTrainer(network: net, settings: TrainingSettings(learningRate: 0.3),
                                   dp: DPSGDSettings(noiseMultiplier: 0, maxGradientNorm: 1e6, sampleRate: 1),
                                   key: StreamKey(seed: 1))
        var dp = p0
        let ws = Workspace(network: net, capacity: 7)
        #expect(trainer.step(parameters: &dp, on: data, indices: Array(0..<30), workspace: ws).batch == 30)
        var plain = p0
        var sgd = SGD(learningRate: 0.3)
        let big = Workspace(network: net, capacity: 30)
        data.pixels.withUnsafeBufferPointer { big.input.update(from: $0.baseAddress!, count: $0.count) }
        trainingStep(net, parameters: &plain, labels: data.labels, batch: 30, workspace: big, sgd: &sgd)
        let worst = zip(dp, plain).map { abs($0 - $1) }.max()!
        let moved = zip(plain, p0).map { abs($0 - $1) }.max()!
        #expect(moved > 1e-3)
        #expect(worst <= 1e-5 * max(1, moved))
    }
}
