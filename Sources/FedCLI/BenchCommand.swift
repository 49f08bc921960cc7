// BenchCommand: `fednoise bench`, GEMM GFLOPS, training throughput and Gaussian noise rate, as a table and JSON.
import FedNN
import FedTensor
import Foundation

enum BenchCommand {

    struct Row: Codable {
        var benchmark: String
        var threads: Int
        var value: Double
        var unit: String
        /// The figure divided by this host's FMA peak on as many threads (nil where no FLOP count applies).
        var fractionOfPeak: Double? = nil
        /// The CPU that produced the figure (`HostCPU.summary`).
        var cpu: String? = nil
    }

    static func run(_ argv: [String]) async throws {
        var args = try Arguments(argv, booleanFlags: ["help", "quick", "layers", "dpsgd", "pgd", "noise",
                                                      "broadcast", "tls", "plaintext"])
        if args.flag("help") {
            say(help)
            return
        }
        if args.flag("broadcast") { return try await runBroadcast(&args) }  // BenchCommand+Broadcast
        let layers = args.flag("layers")
        let quick = args.flag("quick")
        let batch = try args.int("batch-size", in: 1...65_536)
        let model = try args.choice("model", ModelKind.self)
        let json = args.string("json")
        let threadList = try threads(args.string("threads"))
        let dpsgd = args.flag("dpsgd")
        let pgd = args.flag("pgd")
        let data = pgd ? args.string("data") : nil
        let noise = args.flag("noise")
        let noisePreset = try args.choice("noise-preset", NoisePreset.self)
        let steps = noise ? try args.int("steps", in: 1...10_000) : nil
        let only = noise ? args.string("cases") : nil
        try args.finish()
        if [layers, dpsgd, pgd, noise].filter({ $0 }).count > 1 {
            throw UsageError("--dpsgd, --layers, --pgd and --noise are separate benchmarks: give one")
        }
        if noise {
            return try atEachThreadCount(threadList, json: json, defaultJSON: "runs/bench-noise.json") {
                try benchNoise(model ?? .cnn, batch: batch ?? 64, steps: steps ?? 20, repeats: quick ? 3 : 7,
                               only: try noiseCaseFilter(only))
            }
        }
        if pgd {
            if model != nil { throw UsageError("--model is an option of --layers") }
            return try atEachThreadCount(threadList, json: json, defaultJSON: "runs/bench-pgd.json") {
                try benchPGD(data: data, batch: batch ?? 100, repeats: quick ? 1 : 3)
            }
        }
        if !layers {
            if batch != nil { throw UsageError("--batch-size is an option of --layers") }
            if model != nil { throw UsageError("--model is an option of --layers") }
        } else if quick {
            throw UsageError("--quick is not an option of --layers")
        }
        if noisePreset != nil && !layers { throw UsageError("--noise-preset is an option of --layers") }
        if let json { try OutputPlace.prepareFile(json, origin: "--json") }
        if layers {
            let counts = threadList ?? [ComputeThreads.count]
            let peak = HostPeak.measure(threads: counts, quick: true)
            var rows = peak.rows
            for t in counts {
                rows += try ComputeThreads.with(t) {
                    try profileLayers(model ?? .cnn, batch: batch ?? 10, noise: noisePreset, peak: peak)
                }
            }
            if let json { try writeRows(rows, to: json, cpu: peak.cpu) }
            return
        }
        let jsonPath = json ?? "runs/bench.json"
        if json == nil { try OutputPlace.prepareFile(jsonPath, origin: "the results file") }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threadCounts = threadList ?? [1, 2].filter { $0 <= max(cores, 1) }
        let peak = HostPeak.measure(threads: dpsgd ? threadList ?? [2] : threadCounts, quick: quick)
        if dpsgd {
            return try benchDPSGD(threads: threadList ?? [2], quick: quick, jsonPath: jsonPath, cpu: peak.cpu)
        }
        let seconds = quick ? 0.2 : 0.6
        var rows = peak.rows
        func report(_ name: String, _ threads: Int, _ value: Double, _ unit: String, gflops: Double? = nil) {
            let fraction = gflops.flatMap { peak.fraction($0, threads: threads) }
            rows.append(Row(benchmark: name, threads: threads, value: value, unit: unit, fractionOfPeak: fraction))
            let v = value >= 100 ? grouped(value) : fixed(value, 1)
            say(name.padding(toLength: 44, withPad: " ", startingAt: 0)
                  + String(threads).leftPad(8) + v.leftPad(14) + "  " + unit.padding(toLength: 12, withPad: " ",
                                                                                    startingAt: 0)
                  + (fraction.map { fixed($0 * 100, 1) + "%" } ?? "").leftPad(8))
        }
        say("benchmark".padding(toLength: 44, withPad: " ", startingAt: 0) + "threads".leftPad(8)
              + "value".leftPad(14) + "".padding(toLength: 14, withPad: " ", startingAt: 0) + "of peak".leftPad(8))
        for t in threadCounts {
            for (name, ta, tb, m, n, k) in gemmShapes {
                let rate = measureGEMM(ta, tb, m: m, n: n, k: k, threads: t, minSeconds: seconds)
                report("gemm \(name)", t, rate, "GFLOPS", gflops: rate)
            }
        }
        for t in threadCounts {
            for (kind, batch) in [(ModelKind.cnn, 10), (.cnn, 64), (.mlp, 10), (.mlp, 64)] {
                let (rate, flops) = try ComputeThreads.with(t) {
                    (try measureTraining(kind, batch: batch, minSeconds: quick ? 0.5 : 1.5),
                     try kind.network(inputShape: [28, 28, 1], classes: 10).trainingFLOPsPerSample)
                }
                report("train \(kind.rawValue) batch \(batch)", t, rate, "samples/s", gflops: rate * flops * 1e-9)
            }
        }
        for t in threadCounts {
            report("gaussian noise", t, measureGaussian(threads: t, minSeconds: seconds), "M samples/s")
        }
        for t in threadCounts where t > 1 {
            for runner in ParallelLoopRunner.allCases {
                if let us = measureParallelLoop(threads: t, partitionMicroseconds: 25, runner: runner,
                                                minSeconds: seconds) {
                    report("parallel loop \(t) × 25 µs, \(runner.rawValue)", t, us, "µs")
                }
            }
        }
        try writeRows(rows, to: jsonPath, cpu: peak.cpu)
    }

    /// `--threads LIST`: whole numbers in 1…1024, comma-separated (nil when not given).
    static func threads(_ list: String?) throws(UsageError) -> [Int]? {
        guard let list else { return nil }
        let counts = try list.split(separator: ",", omittingEmptySubsequences: false).map { part throws(UsageError) in
            guard let n = Int(part.trimmingCharacters(in: .whitespaces)), n >= 1, n <= ComputeThreads.maximum else {
                throw UsageError("--threads must list whole numbers in 1…\(ComputeThreads.maximum), got '\(part)' "
                                 + "in '\(list)'")
            }
            return n
        }
        guard !counts.isEmpty else { throw UsageError("--threads needs at least one count") }
        return counts
    }

    /// A benchmark of its own (`--noise`, `--pgd`): checks the results file first, prints the CPU, runs `measure`
    /// at each thread count (default: the current count) and writes every row.
    static func atEachThreadCount(_ threadList: [Int]?, json: String?, defaultJSON: String,
                                  _ measure: () throws -> [Row]) throws {
        let jsonPath = json ?? defaultJSON
        try OutputPlace.prepareFile(jsonPath, origin: json == nil ? "the results file" : "--json")
        say("CPU: \(HostCPU.current.summary)")
        var rows: [Row] = []
        for t in threadList ?? [ComputeThreads.count] { rows += try ComputeThreads.with(t) { try measure() } }
        try writeRows(rows, to: jsonPath, cpu: HostCPU.current)
    }

    static func writeRows(_ rows: [Row], to path: String, cpu: HostCPU) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let named = rows.map { row in
            var row = row
            row.cpu = cpu.summary
            return row
        }
        try encoder.encode(named).write(to: URL(fileURLWithPath: path), options: .atomic)
        say("wrote \(path)")
    }

    /// (label, transA, transB, M, N, K) — the CNN's GEMMs at batch 10 and 64, and a 512³ square.
    static var gemmShapes: [(String, Transpose, Transpose, Int, Int, Int)] {
        var shapes: [(String, Transpose, Transpose, Int, Int, Int)] = [("512³", .none, .none, 512, 512, 512)]
        for b in [10, 64] {
            shapes += [
                ("conv2 fwd b\(b) (\(b * 196)×64×800)", .none, .transposed, b * 196, 64, 800),
                ("conv2 dW b\(b) (64×800×\(b * 196))", .transposed, .none, 64, 800, b * 196),
                ("conv2 dX b\(b) (\(b * 196)×800×64)", .none, .none, b * 196, 800, 64),
                ("fc1 fwd b\(b) (\(b)×512×3136)", .none, .transposed, b, 512, 3136),
                ("fc1 dW b\(b) (512×3136×\(b))", .transposed, .none, 512, 3136, b),
                ("fc1 dX b\(b) (\(b)×3136×512)", .none, .none, b, 3136, 512),
            ]
        }
        return shapes
    }

    /// Training samples per second of `kind` on random MNIST-shaped data (median of repetitions).
    static func measureTraining(_ kind: ModelKind, batch: Int, minSeconds: Double) throws -> Double {
        var bench = try TrainingBench(kind, batch: batch, momentum: 0)
        return medianRate(batch: batch, minSeconds: minSeconds) { bench.step() }
    }

    /// Samples per second of `stepOnce` (one step on `batch` samples): median of 5 timed repetitions after 3 warm-up
    /// steps.
    static func medianRate(batch: Int, minSeconds: Double, _ stepOnce: () -> Void) -> Double {
        for _ in 0..<3 { stepOnce() }
        var rates: [Double] = []
        for _ in 0..<5 {
            var n = 0
            let t0 = monotonicSeconds()
            while monotonicSeconds() - t0 < minSeconds / 5 || n < 2 {
                stepOnce()
                n += 1
            }
            rates.append(Double(n * batch) / (monotonicSeconds() - t0))
        }
        return rates.sorted()[rates.count / 2]
    }
}

extension BenchCommand {
    /// Prints milliseconds per step spent in each layer's forward and backward pass, and in the SGD update; returns
    /// them as rows ("layer i forward", ms) for `--json`.
    static func profileLayers(_ kind: ModelKind, batch: Int, noise: NoisePreset? = nil,
                              peak: HostPeak) throws -> [Row] {
        var bench = try TrainingBench(kind, batch: batch, momentum: 0, noise: noise)
        let network = bench.network, workspace = bench.workspace
        var forward = [Double](repeating: 0, count: network.layers.count)
        var backward = forward
        var last = monotonicSeconds()
        var total = 0.0
        let steps = 100
        for s in 0..<(steps + 5) {
            let measuring = s >= 5
            workspace.layerHook = { i, isBackward in
                let now = monotonicSeconds()
                if measuring {
                    if isBackward { backward[i] += now - last } else { forward[i] += now - last }
                }
                last = now
            }
            let t0 = monotonicSeconds()
            last = t0
            bench.step()
            if measuring { total += monotonicSeconds() - t0 }
        }
        workspace.layerHook = nil
        say("\(kind.rawValue), batch \(batch), \(ComputeThreads.count) thread(s): "
              + "\(fixed(total / Double(steps) * 1000, 3)) ms per step, "
              + "\(grouped(Double(batch * steps) / total)) samples/s")
        let flops = network.layerFLOPs, threads = ComputeThreads.count
        /// Fraction of peak of `flopsPerSample` done in `seconds` per step (nil for layers without FLOPs).
        func fraction(_ flopsPerSample: Double, _ seconds: Double) -> Double? {
            guard flopsPerSample > 0, seconds > 0 else { return nil }
            return peak.fraction(flopsPerSample * Double(batch) / seconds * 1e-9, threads: threads)
        }
        func percent(_ f: Double?) -> String { f.map { fixed($0 * 100, 1) + "%" } ?? "" }
        say("layer".padding(toLength: 52, withPad: " ", startingAt: 0) + "forward ms".leftPad(12)
              + "of peak".leftPad(9) + "backward ms".leftPad(13) + "of peak".leftPad(9))
        for (i, layer) in network.layers.enumerated() {
            let f = forward[i] / Double(steps), b = backward[i] / Double(steps)
            say("\(i): \(layer)".padding(toLength: 52, withPad: " ", startingAt: 0)
                  + fixed(f * 1000, 3).leftPad(12) + percent(fraction(flops[i].forward, f)).leftPad(9)
                  + fixed(b * 1000, 3).leftPad(13) + percent(fraction(flops[i].backward, b)).leftPad(9))
        }
        let stepFraction = fraction(network.trainingFLOPsPerSample, total / Double(steps))
        say("whole step: \(percent(stepFraction)) of the \(threads)-thread FMA peak")
        let layers = (forward.reduce(0, +) + backward.reduce(0, +)) / Double(steps)
        say("loss, zeroing, SGD update and the rest".padding(toLength: 52, withPad: " ", startingAt: 0)
              + fixed((total / Double(steps) - layers) * 1000, 3).leftPad(12))
        let fused = workspace.reluFusions
        if !fused.intoConvolution.isEmpty || !fused.intoMaxPool.isEmpty {
            say("fused (same bits): the ReLU forward of layers \(fused.intoConvolution) runs in the convolution's "
                + "store before it, the ReLU backward of layers \(fused.intoMaxPool) in the max pool's after it; "
                + "their rows time only what is left")
        }
        if !workspace.reluFusionsAcrossNoise.isEmpty {
            say("fused (same parameters): the ReLU backward of layers \(workspace.reluFusionsAcrossNoise) and that of "
                + "the additive or multiplicative noise layer after each run in the max pool after that noise layer")
        }
        if !workspace.poolFusions.isEmpty {
            say("fused (same bits): the max pool forward of layers \(workspace.poolFusions) runs band by band "
                + "of each sample's rows inside the convolution two layers before it, timed in that convolution's row")
        }
        if !workspace.poolTileFusions.isEmpty {
            say("fused (same bits): in training steps the max pool forward of layers \(workspace.poolTileFusions) and "
                + "the ReLU before it run in the convolution's register tiles (2 rows × 4 pixels, pooled before any "
                + "store), whose output is then never stored")
        }
        if !workspace.noiseDrawnInTiles.isEmpty {
            say("fused (same bits): in training steps the Gaussian noise of layers \(workspace.noiseDrawnInTiles), the "
                + "ReLU before it and the max pool after it run in the convolution's register tiles (the noise of a "
                + "pooled row's two rows drawn into an L1 buffer first), timed in that convolution's row")
        }
        if !workspace.poolBackwardFusions.isEmpty {
            say("fused (same bits): the max pool backward of layers \(workspace.poolBackwardFusions) runs sample by "
                + "sample inside the weight gradient of the convolution before its ReLU (and the noise after that) "
                + "(no input gradient is wanted there), timed in that convolution's row")
        }
        if !workspace.poolRouteLayers.isEmpty {
            say("same bits: the max pool forward of layers \(workspace.poolRouteLayers) records which window element "
                + "took each max (a byte per output), and their backward pass reads those bytes instead of the "
                + "pool's input and output")
        }
        let name = "\(kind.rawValue) b\(batch)"
        var rows = [Row(benchmark: "\(name) step", threads: threads, value: total / Double(steps) * 1000, unit: "ms",
                        fractionOfPeak: stepFraction)]
        for (i, layer) in network.layers.enumerated() {
            let f = forward[i] / Double(steps), b = backward[i] / Double(steps)
            rows.append(Row(benchmark: "\(name) layer \(i) \(layer) forward", threads: threads, value: f * 1000,
                            unit: "ms", fractionOfPeak: fraction(flops[i].forward, f)))
            rows.append(Row(benchmark: "\(name) layer \(i) \(layer) backward", threads: threads, value: b * 1000,
                            unit: "ms", fractionOfPeak: fraction(flops[i].backward, b)))
        }
        return rows
    }
}

/// A model, its weights, a workspace and one random MNIST-shaped batch: what training benchmarks step on.
struct TrainingBench {
    let network: Network
    let workspace: Workspace
    var parameters: [Float]
    let labels: [Int32]
    var sgd: SGD

    /// `noise`: the preset's input and activation noise layers inserted (its other sites are not per layer).
    init(_ kind: ModelKind, batch: Int, momentum: Float, noise: NoisePreset? = nil) throws {
        let base = try kind.network(inputShape: [28, 28, 1], classes: 10)
        network = try noise.map { try NoiseInfusion(preset: $0).network(base) } ?? base
        parameters = network.initialParameters(key: StreamKey(seed: 1))
        workspace = Workspace(network: network, capacity: batch)
        workspace.input.update(repeating: 0, count: batch * network.inputSize)
        fillGaussian(UnsafeMutableBufferPointer(start: workspace.input, count: batch * network.inputSize),
                     key: StreamKey(seed: 2))
        labels = (0..<batch).map { Int32($0 % 10) }
        sgd = SGD(learningRate: 0.01, momentum: momentum)
    }

    /// One forward + backward + SGD step on the batch, as `Trainer` runs it (fused update when SGD is plain).
    mutating func step() {
        trainingStep(network, parameters: &parameters, labels: labels, batch: labels.count, workspace: workspace,
                     sgd: &sgd, fusedUpdate: true)
    }
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
