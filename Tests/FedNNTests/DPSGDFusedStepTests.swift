// DPSGDFusedStepTests: DP-SGD's step (noise, division and SGD update fused block by block) against the unfused passes.
import FedNN
import FedPrivacy
import FedTensor
import Testing

@Suite("DP-SGD fused noise and update")
struct DPSGDFusedStepTests {
    /// Two `step`s against `clippedSum`, `privatize` and `SGD.step` run one after the other, bit for bit: momentum
    /// (its first step sets v = g), weight decay, a frozen layer (which weight decay leaves alone), 1 and 2 threads, a vector long enough (99,202
    /// coordinates, 25 blocks) for the threaded path, and lengths that are not multiples of 16.
    @Test("step = clippedSum, privatize, SGD.step, bit for bit", arguments: [Set<Int>(), [0]], [1, 2])
    func fusedEqualsUnfused(frozen: Set<Int>, threads: Int) throws {
        let net = try Network(inputShape: [255], layers: [Linear(255, 257), ReLU(), Linear(257, 130)])
        var rng = Philox(seed: 3)
        let n = 12
        let data = ArraySamples(pixels: (0..<(n * 255)).map { _ in Float(rng.nextGaussian()) },
                                labels: (0..<n).map { Int32($0 % 130) }, sampleShape: [255], classCount: 130)
        let settings = TrainingSettings(learningRate: 0.3, momentum: 0.9, weightDecay: 0.01)
        let dp = DPSGDSettings(noiseMultiplier: 1.1, maxGradientNorm: 0.5, sampleRate: 1)
        let start = net.initialParameters(key: StreamKey(seed: 4))
        let ws = Workspace(network: net, capacity: n)
        var fused = start, unfused = start
        var trainer = DPSGDTrainer(network: net, settings: settings, dp: dp, key: StreamKey(seed: 5), frozen: frozen)
        var reference = DPSGDTrainer(network: net, settings: settings, dp: dp, key: StreamKey(seed: 5), frozen: frozen)
        var sgd = SGD(learningRate: 0.3, momentum: 0.9, weightDecay: 0.01)
        ComputeThreads.with(threads) {
            for t in 0..<2 {
                trainer.step(parameters: &fused, on: data, indices: Array(0..<n), workspace: ws)
                reference.clippedSum(parameters: &unfused, on: data, batch: Array(0..<n), workspace: ws,
                                     noiseStep: UInt64(t))
                reference.privatize(ws.gradient, expectedBatch: Double(n), step: UInt64(t))
                let before = unfused
                sgd.step(parameters: &unfused, gradient: ws.gradient)
                // Frozen coordinates get no update at all: weight decay does not move them either.
                for layer in frozen { unfused.replaceSubrange(net.parameterRanges[layer], with: before[net.parameterRanges[layer]]) }
                #expect(fused == unfused, "step \(t)")
            }
        }
        #expect(fused != start)
        for layer in frozen { #expect(fused[net.parameterRanges[layer]] == start[net.parameterRanges[layer]]) }
    }
}
