// GradientNoiseBlockTests: gradient noise applied block by block inside the SGD step equals the whole-gradient pass.
import FedNN
import FedTensor
import Testing

@Suite("Gradient noise in the SGD step")
struct GradientNoiseBlockTests {
    /// 200 samples of 256 features, 3 classes.
    func data() -> ArraySamples {
        var rng = Philox(seed: 21)
        return ArraySamples(pixels: (0..<(200 * 256)).map { _ in Float(rng.nextGaussian()) },
                            labels: (0..<200).map { Int32(($0 * 7 + 2) % 3) }, sampleShape: [16, 16, 1], classCount: 3)
    }

    /// A first layer of 10,280 parameters (the step's 4,096-coordinate blocks cut it and the layer after it).
    func network() throws -> Network {
        try Network(inputShape: [16, 16, 1], layers: [Flatten(), Linear(256, 40), ReLU(), Linear(40, 3)])
    }

    /// Parameters after two epochs of batch 20 with `noise`'s gradient mechanisms applied as `gradientNoise`
    /// returns them (`blocks`: inside the step) or forced through the whole-gradient `gradientTransform`.
    func trained(_ noise: NoiseInfusion?, momentum: Float, weightDecay: Float, blocks: Bool,
                 key: StreamKey = StreamKey(seed: 3)) throws -> [Float] {
        let net = try network()
        var parameters = net.initialParameters(key: StreamKey(seed: 9))
        let settings = TrainingSettings(epochs: 2, batchSize: 20, learningRate: 0.05, momentum: momentum,
                                        weightDecay: weightDecay)
        var trainer = Trainer(network: net, settings: settings, key: StreamKey(seed: 4))
        let workspace = Workspace(network: net, capacity: 20)
        let samples = data()
        for epoch in 0..<2 {
            if let noise {
                let noiseKey = key.child(UInt64(epoch))
                if blocks {
                    (trainer.gradientTransform, trainer.blockGradientTransform) =
                        noise.gradientNoise(network: net, key: noiseKey, time: epoch)
                    #expect(trainer.blockGradientTransform != nil && trainer.gradientTransform == nil)
                } else {
                    trainer.gradientTransform = noise.gradientTransform(network: net, key: noiseKey, time: epoch)
                }
            }
            _ = trainer.runEpoch(epoch, parameters: &parameters, on: samples, indices: Array(0..<200),
                                 workspace: workspace)
        }
        return parameters
    }

    func differing(_ a: [Float], _ b: [Float]) -> Int { zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count }

    /// M3 (relative Gaussian, λ 0.5) and an absolute Laplace mechanism: the same parameters, bit for bit, with plain
    /// SGD, momentum and weight decay. Negative controls: another noise key, and no noise, give other parameters.
    @Test(arguments: [(Float(0), Float(0)), (0.9, 0), (0.9, 1e-3)])
    func blocksEqualTheWholeGradientPass(momentum: Float, weightDecay: Float) throws {
        for noise in [NoiseInfusion(preset: .m3),
                      NoiseInfusion(mechanisms: [NoiseMechanism(site: .gradient, distribution: .laplace, level: 0.01)])] {
            let whole = try trained(noise, momentum: momentum, weightDecay: weightDecay, blocks: false)
            let blocks = try trained(noise, momentum: momentum, weightDecay: weightDecay, blocks: true)
            #expect(differing(whole, blocks) == 0, "momentum \(momentum), weight decay \(weightDecay)")
            let otherKey = try trained(noise, momentum: momentum, weightDecay: weightDecay, blocks: true,
                                       key: StreamKey(seed: 30))
            #expect(differing(otherKey, blocks) > blocks.count / 2)
        }
        let clean = try trained(nil, momentum: momentum, weightDecay: weightDecay, blocks: true)
        let noisy = try trained(NoiseInfusion(preset: .m3), momentum: momentum, weightDecay: weightDecay, blocks: true)
        #expect(differing(clean, noisy) > clean.count / 2)
    }

    /// Two gradient mechanisms: the second measures the gradient the first noised, so `gradientNoise` keeps the
    /// whole-gradient transform.
    @Test func severalMechanismsStayWhole() throws {
        let noise = NoiseInfusion(mechanisms: [NoiseMechanism(site: .gradient, level: 0.5, levelMode: .relative),
                                               NoiseMechanism(site: .gradient, level: 0.2, levelMode: .relative)])
        let split = noise.gradientNoise(network: try network(), key: StreamKey(seed: 1), time: 0)
        #expect(split.whole != nil && split.blocks == nil)
        #expect(NoiseInfusion(preset: .m2).gradientNoise(network: try network(), key: StreamKey(seed: 1), time: 0)
                    .whole == nil)
    }
}
