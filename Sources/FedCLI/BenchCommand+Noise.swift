// BenchCommand+Noise: `fednoise bench --noise`, a training epoch with noise infused at each site against none.
import FedData
import FedNN
import FedTensor
import Foundation

extension BenchCommand {
    /// What `--noise` times: no noise, the presets, and one mechanism for each site and law the presets leave out.
    /// Levels are the presets' defaults (the cost does not depend on them).
    static let noiseCases: [(name: String, noise: NoiseInfusion?)] = [
        ("none", nil),
        ("M1 input gaussian", NoiseInfusion(preset: .m1)),
        ("M2 activation gaussian", NoiseInfusion(preset: .m2)),
        ("M3 gradient gaussian rel.", NoiseInfusion(preset: .m3)),
        ("M4 client model gaussian rel.", NoiseInfusion(preset: .m4)),
        ("M5 client model laplace rel.", NoiseInfusion(preset: .m5)),
        ("author activation 0.5/0.3/0.1", NoiseInfusion(preset: .author)),
        ("input salt-and-pepper", NoiseInfusion(mechanisms: [
            NoiseMechanism(site: .input, distribution: .saltAndPepper, level: 0.05)])),
        ("input speckle", NoiseInfusion(mechanisms: [
            NoiseMechanism(site: .input, distribution: .speckle, level: 0.1)])),
        ("activation uniform", NoiseInfusion(mechanisms: [
            NoiseMechanism(site: .activation, distribution: .uniform, level: 0.1)])),
        ("activation multiplicative", NoiseInfusion(mechanisms: [
            NoiseMechanism(site: .activation, distribution: .multiplicativeGaussian, level: 0.1)])),
        ("activation laplace", NoiseInfusion(mechanisms: [
            NoiseMechanism(site: .activation, distribution: .laplace, level: 0.1)])),
        ("client update gaussian rel.", NoiseInfusion(mechanisms: [
            NoiseMechanism(site: .clientUpdate, level: 0.01, levelMode: .relative)])),
        ("global model gaussian rel.", NoiseInfusion(mechanisms: [
            NoiseMechanism(site: .globalModel, level: 0.01, levelMode: .relative)])),
    ]

    /// Milliseconds per training step of `kind` at `batch` for every `noiseCases` entry, and the overhead against
    /// none. One "epoch" is `steps` steps of `Trainer.runEpoch` on random MNIST-shaped data followed by the
    /// per-epoch client-side noise (as `fednoise train` and a federation's client apply it) and the global-model
    /// noise (once per round at the server): the per-epoch sites are amortised over `steps` steps. Each timed
    /// epoch of a case follows an epoch of no noise, and its overhead is the median of those paired ratios (drift
    /// in the machine's speed between cases cancels); ms/step is the median of a case's epochs.
    /// After the warm-up epoch every case's model must differ from the noise-free one's (same weights, batches and
    /// streams otherwise), or the benchmark stops: it never times a mechanism that did nothing.
    /// `--cases A,B`: the indices of the cases whose names contain one of the comma-separated texts (any case),
    /// `none` always first; nil (every case) without the option. An error names a text no case matches.
    static func noiseCaseFilter(_ text: String?) throws -> [Int]? {
        guard let text else { return nil }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if parts.isEmpty || parts.contains("") {
            throw UsageError("--cases: expected comma-separated parts of case names (e.g. \"M2,laplace\"), "
                             + "got '\(text)'")
        }
        for p in parts where !noiseCases.contains(where: { $0.name.lowercased().contains(p) }) {
            throw UsageError("--cases: no case's name contains '\(p)'; the cases: "
                             + noiseCases.map(\.name).joined(separator: ", "))
        }
        let chosen = noiseCases.indices.dropFirst().filter { i in
            parts.contains { noiseCases[i].name.lowercased().contains($0) }
        }
        if chosen.isEmpty { throw UsageError("--cases: 'none' is always timed; name a case with noise") }
        return [0] + chosen
    }

    static func benchNoise(_ kind: ModelKind, batch: Int, steps: Int, repeats: Int,
                           only: [Int]? = nil) throws -> [Row] {
        let cases = (only ?? Array(noiseCases.indices)).map { noiseCases[$0] }
        let base = try kind.network(inputShape: [28, 28, 1], classes: 10)
        let count = steps * batch
        var pixels = [Float](repeating: 0, count: count * base.inputSize)
        pixels.withUnsafeMutableBufferPointer { fillGaussian($0, key: StreamKey(seed: 2)) }
        let data = ArraySamples(pixels: pixels, labels: (0..<count).map { Int32($0 % 10) },
                                sampleShape: [28, 28, 1], classCount: 10)
        let indices = Array(0..<count)
        var runs: [NoiseEpochRun] = []
        for (_, noise) in cases {
            runs.append(try NoiseEpochRun(base: base, noise: noise, batch: batch))
        }
        // Warm-up: every case once, in turn.
        for i in runs.indices { runs[i].epoch(0, on: data, indices: indices) }
        // Every case starts from the same weights and batches as `none`: a case whose epoch leaves the model
        // exactly where `none` left it infused no noise, and its timing would be a lie.
        if let idle = runs.indices.dropFirst().first(where: { runs[$0].parameters == runs[0].parameters }) {
            throw UsageError("bench --noise: '\(cases[idle].name)' left the model bit-identical to no noise")
        }
        // Timed: each case right after an epoch of `none`, so each ratio compares two epochs a second apart and
        // the machine's drift between cases cancels; the overhead is the median of a case's ratios.
        var seconds = [[Double]](repeating: [], count: runs.count)
        var ratios = [[Double]](repeating: [], count: runs.count)
        func timed(_ i: Int, _ r: Int) -> Double {
            let t0 = monotonicSeconds()
            runs[i].epoch(r, on: data, indices: indices)
            return monotonicSeconds() - t0
        }
        for r in 1...repeats {
            for i in runs.indices.dropFirst() {
                let reference = timed(0, r), t = timed(i, r)
                seconds[0].append(reference)
                seconds[i].append(t)
                ratios[i].append(t / reference)
            }
        }
        let perStep = seconds.map { 1000 * $0.sorted()[$0.count / 2] / Double(steps) }
        say("\(kind.rawValue), batch \(batch), \(ComputeThreads.count) thread(s), \(steps) steps per epoch "
            + "(per-epoch sites amortised over them), median of \(repeats); overhead: median of each case's time over "
            + "the no-noise epoch just before it")
        say("site and law".padding(toLength: 32, withPad: " ", startingAt: 0) + "ms/step".leftPad(10)
            + "overhead".leftPad(10))
        var rows: [Row] = []
        for (i, c) in cases.enumerated() {
            let overhead = i == 0 ? 0 : 100 * (ratios[i].sorted()[ratios[i].count / 2] - 1)
            say(c.name.padding(toLength: 32, withPad: " ", startingAt: 0) + fixed(perStep[i], 3).leftPad(10)
                + (i == 0 ? "" : (fixed(overhead, 1) + "%").leftPad(10)))
            rows.append(Row(benchmark: "noise \(kind.rawValue) batch \(batch) \(c.name)", threads: ComputeThreads.count,
                            value: perStep[i], unit: "ms/step"))
            if i > 0 {
                rows.append(Row(benchmark: "noise overhead \(kind.rawValue) batch \(batch) \(c.name)",
                                threads: ComputeThreads.count, value: overhead, unit: "%"))
            }
        }
        return rows
    }
}

/// One noise configuration's training, set up as `ParadoxCellRun.centralized` sets up a cell.
struct NoiseEpochRun {
    let network: Network
    let noise: NoiseInfusion?
    var trainer: Trainer
    var parameters: [Float]
    let workspace: Workspace
    let ranges: [Range<Int>]

    init(base: Network, noise: NoiseInfusion?, batch: Int) throws {
        network = try noise?.network(base) ?? base
        self.noise = noise
        parameters = network.initialParameters(key: StreamKey(seed: 1))
        trainer = Trainer(network: network, settings: TrainingSettings(epochs: 1, batchSize: batch, learningRate: 0.01),
                          key: StreamKey(seed: 3))
        workspace = Workspace(network: network, capacity: batch)
        ranges = NoiseInfusion.noiseRanges(network)
    }

    /// One epoch with this configuration's noise at every site, the server's global-model noise included.
    mutating func epoch(_ epoch: Int, on data: ArraySamples, indices: [Int]) {
        let start = parameters
        (trainer.gradientTransform, trainer.blockGradientTransform) = noise?.gradientNoise(
            network: network, key: StreamKey(seed: 4, UInt64(epoch)), time: epoch) ?? (nil, nil)
        _ = trainer.runEpoch(epoch, parameters: &parameters, on: data, indices: indices, workspace: workspace)
        noise?.perturbClient(&parameters, start: start, ranges: ranges, key: StreamKey(seed: 5, UInt64(epoch)),
                             time: epoch)
        noise?.perturb(&parameters, site: .globalModel, ranges: ranges, key: StreamKey(seed: 6, UInt64(epoch)),
                       time: epoch)
    }
}
