// BenchCommand+DPSGD: `fednoise bench --dpsgd`, DP-SGD throughput next to plain SGD at the same batch size.
import FedNN
import FedTensor
import Foundation

extension BenchCommand {
    /// For each thread count, model and batch: plain SGD samples/s, DP-SGD samples/s and their ratio. DP-SGD steps
    /// are `DPSGDTrainer`'s clipped sum (norm pass + reweighted backward), noise and SGD step on a fixed batch of
    /// random data, as `opacus_reference.py train` times Opacus (fixed batches, σ = 1, C = 1, lr 0.01).
    static func benchDPSGD(threads: [Int], quick: Bool, jsonPath: String, cpu: HostCPU) throws {
        var rows: [Row] = []
        say("model  batch  threads    plain SGD/s    DP-SGD/s   DP/plain")
        for t in threads {
            for (kind, batch) in [(ModelKind.cnn, 10), (.cnn, 64), (.mlp, 10), (.mlp, 64)] {
                let minSeconds = quick ? 0.5 : 1.5
                let (plain, dp) = try ComputeThreads.with(t) {
                    let plain = try measureTraining(kind, batch: batch, minSeconds: minSeconds)
                    var bench = try DPSGDBench(kind, batch: batch)
                    let dp = medianRate(batch: batch, minSeconds: minSeconds) { bench.step() }
                    return (plain, dp)
                }
                rows.append(Row(benchmark: "train \(kind.rawValue) batch \(batch)", threads: t, value: plain,
                                unit: "samples/s"))
                rows.append(Row(benchmark: "dpsgd \(kind.rawValue) batch \(batch)", threads: t, value: dp,
                                unit: "samples/s"))
                say(kind.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0) + String(batch).leftPad(7)
                      + String(t).leftPad(9) + grouped(plain).leftPad(15) + grouped(dp).leftPad(12)
                      + fixed(dp / plain, 2).leftPad(11))
            }
        }
        try writeRows(rows, to: jsonPath, cpu: cpu)
    }
}

/// A DP-SGD trainer on one fixed random MNIST-shaped batch (the whole "dataset" is the batch, q = 1, so every
/// step clips, noises and steps on exactly `batch` examples, like Opacus' fixed-size benchmark batches).
struct DPSGDBench {
    var trainer: DPSGDTrainer
    var parameters: [Float]
    let data: ArraySamples
    let workspace: Workspace
    let indices: [Int]

    init(_ kind: ModelKind, batch: Int) throws {
        let network = try kind.network(inputShape: [28, 28, 1], classes: 10)
        parameters = network.initialParameters(key: StreamKey(seed: 1))
        var pixels = [Float](repeating: 0, count: batch * network.inputSize)
        pixels.withUnsafeMutableBufferPointer { fillGaussian($0, key: StreamKey(seed: 2)) }
        data = ArraySamples(pixels: pixels, labels: (0..<batch).map { Int32($0 % 10) }, sampleShape: [28, 28, 1],
                            classCount: 10)
        workspace = Workspace(network: network, capacity: batch)
        indices = Array(0..<batch)
        trainer = DPSGDTrainer(network: network, settings: TrainingSettings(learningRate: 0.01),
                               dp: DPSGDSettings(noiseMultiplier: 1, maxGradientNorm: 1, sampleRate: 1),
                               key: StreamKey(seed: 3))
    }

    mutating func step() {
        trainer.step(parameters: &parameters, on: data, indices: indices, workspace: workspace)
    }
}
