// BenchCommand+PGD: `fednoise bench --pgd`, PGD-10 over a test set as a multiple of one clean evaluation pass.
import FedAttack
import FedData
import FedNN
import FedTensor
import Foundation

extension BenchCommand {
    /// Times one clean evaluation pass and one PGD-10 L∞ evaluation (ε = 0.1, α = ε/4, random start; MNIST settings
    /// of spec C.2) of the McMahan CNN over the MNIST test set (10,000 images from `data`, or as many random
    /// MNIST-shaped images in [0, 1] without it) at `batch`; prints both and their ratio (issue 15 target ≤ 12×).
    /// Each figure is the median of `repeats` passes.
    static func benchPGD(data: String?, batch: Int, repeats: Int) throws -> [Row] {
        let samples: any SampleSource
        let pixels: PixelSpace
        if let data {
            let (_, test) = try loadSamples(kind: .mnist, path: data, trainLimit: nil, testLimit: nil)
            samples = test
            pixels = PixelSpace(mean: DatasetKind.mnist.standardMean, std: DatasetKind.mnist.standardStd)
        } else {
            let n = 10_000
            var rng = Philox(StreamKey(seed: 7))
            samples = ArraySamples(pixels: (0..<(n * 784)).map { _ in rng.nextUniform() },
                                   labels: (0..<n).map { Int32($0 % 10) }, sampleShape: [28, 28, 1], classCount: 10)
            pixels = .unit
        }
        let network = try ModelKind.cnn.network(inputShape: [28, 28, 1], classes: 10)
        let parameters = network.initialParameters(key: StreamKey(seed: 1))
        let workspace = Workspace(network: network, capacity: batch)
        let attacker = AdversarialAttacker(network: network, workspace: workspace, pixels: pixels)
        let attack = AdversarialAttack.pgd(.linf, epsilon: 0.1, steps: 10)
        say("McMahan CNN, \(samples.sampleCount.formatted()) \(data == nil ? "random" : "MNIST test") images, batch "
              + "\(batch), \(ComputeThreads.count) thread(s), \(attack), median of \(repeats)")
        func median(_ body: () -> Void) -> Double {
            var times: [Double] = []
            for _ in 0..<repeats {
                let t0 = monotonicSeconds()
                body()
                times.append(monotonicSeconds() - t0)
            }
            return times.sorted()[times.count / 2]
        }
        var clean = Evaluation(loss: 0, accuracy: 0, count: 0)
        say("timing \(repeats) clean pass(es)…")
        let cleanSeconds = median { clean = evaluate(network, parameters: parameters, on: samples, workspace: workspace) }
        say("clean pass  \(fixed(cleanSeconds, 3)) s; timing \(repeats) PGD-10 pass(es) (about 20× that each)…")
        var robust: RobustEvaluation?
        let pgdSeconds = median {
            robust = attacker.evaluate(parameters: parameters, on: samples, attack: attack, key: StreamKey(seed: 9))
        }
        let ratio = pgdSeconds / cleanSeconds
        say("clean pass  \(fixed(cleanSeconds, 3)) s  (accuracy \(percent(clean.accuracy)), untrained weights)")
        say("PGD-10 pass \(fixed(pgdSeconds, 3)) s  (robust accuracy \(percent(robust?.adversarial.accuracy ?? .nan)), "
              + "includes its own clean pass)")
        say("PGD-10 / clean = \(fixed(ratio, 2))×  (target ≤ 12×)")
        let t = ComputeThreads.count
        return [Row(benchmark: "clean evaluation cnn 10k batch \(batch)", threads: t, value: cleanSeconds,
                    unit: "s"),
                Row(benchmark: "pgd-10 evaluation cnn 10k batch \(batch)", threads: t, value: pgdSeconds,
                    unit: "s"),
                Row(benchmark: "pgd-10 / clean evaluation", threads: t, value: ratio, unit: "×")]
    }
}
