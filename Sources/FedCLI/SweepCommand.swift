// SweepCommand: `fednoise sweep`, the NISS paper's experiment: one federation per X = τ², one table and one plot.
import FedRuntime
import FedStrategy
import FedTensor
import Foundation

enum SweepCommand {
    static let help = """
    USAGE: fednoise sweep <config.json> [--tau2 LIST] [--set key.path=value …] [--threads N] [--jobs N] [--quiet]
                         [--replot] [--allow-divergence] [--resume]

    The NISS paper's experiment (Fig. 3): runs the config once per X = τ² with strategy.kind = niss and
    strategy.niss.tau2 = X (every other key as the config says: σ_k convention, σ², encoding…), then writes into
    the config's output directory:
      sweep.csv    round, X, test accuracy, test loss, expected and realised aggregate noise variance
      sweep.json   per X: final and best accuracy; whether accuracy falls as X grows; the gap of X = 0 over X = 1
      sweep.svg    test accuracy per round, one line per X
      X=<x>/       each run's rounds.csv, summary.json and rounds.svg
    X = 0 cancels the noise exactly (the FedAvg aggregate of clipped updates); X = 1 leaves Σ σ_k², DP-FedAvg's.

    OPTIONS:
      --tau2 LIST            the X values, comma-separated (default 0,0.3,0.6,1)
      --set key.path=value   override one key of every run
      --threads N            compute threads (default: all cores)
      --jobs N               X values run at once, 1…64 (default 1), each on ⌊threads / N⌋ threads (at least 1);
                             every file is the same as a sequential sweep's (per-round lines interleave)
      --quiet                no per-round lines
      --allow-divergence     keep going when a run's loss or model becomes NaN or infinite (default: stop, status 1)
      --replot               run nothing: rebuild sweep.csv, sweep.json and sweep.svg from the X=<x>/summary.json
                             files already in the output directory (e.g. after an interrupted sweep); each must
                             come from this config and --set (only τ² may differ)
      --resume               continue an interrupted sweep (same config, --set and --tau2): X runs whose
                             summary.json says complete are kept, an interrupted one resumes from its
                             checkpoint.fnck (bit-identical to an uninterrupted run), the rest run afresh
      -h, --help             show this help

    SIGINT or SIGTERM finishes the current round of the current X, writes its results and checkpoint and the sweep
    files of the finished X values, and exits with 130 (SIGINT) or 143.
    """

    struct Row: Codable {
        var tau2: Double
        var finalTestAccuracy: Double?
        var finalTestLoss: Double?
        /// The best accuracy of any evaluated round (noise that accumulates can undo early progress).
        var bestTestAccuracy: Double?
        var meanExpectedNoiseVariance: Double
        var seconds: Double
    }

    struct Document: Codable {
        var name: String
        var rounds: Int
        var sensitivity: String
        var epsilon: Double
        var delta: Double
        var clippingThreshold: Double
        var runs: [Row]
        /// Final accuracy never rises as X grows (within `tolerance` points).
        var accuracyFallsWithX: Bool
        var tolerance: Double
        /// Final accuracy at the smallest X minus at the largest, in points.
        var gapPoints: Double?
    }

    static func run(_ argv: [String]) async throws {
        var args = try Arguments(argv, booleanFlags: ["help", "quiet", "replot", "allow-divergence", "resume"],
                                 repeatable: ["set"])
        if args.flag("help") {
            say(help)
            return
        }
        let overrides = args.strings("set")
        let quiet = args.flag("quiet")
        let replot = args.flag("replot")
        let allowDivergence = args.flag("allow-divergence")
        let resume = args.flag("resume")
        if resume && replot { throw UsageError("--resume runs what is missing, --replot runs nothing: give one") }
        var values = [0, 0.3, 0.6, 1.0]
        if let list = args.string("tau2") {
            values = try list.split(separator: ",", omittingEmptySubsequences: false).map { part throws(UsageError) in
                guard let x = Double(part.trimmingCharacters(in: .whitespaces)), x >= 0, x <= 1e6 else {
                    throw UsageError("--tau2 must list numbers in [0, 1e6], got '\(part)'")
                }
                return x
            }
            guard !list.isEmpty else { throw UsageError("--tau2 needs at least one value") }
            // Two values with one label (0.5 and 0.50) would run twice into one X=<x> folder.
            var seen = Set<String>()
            for x in values where !seen.insert(label(x)).inserted {
                throw UsageError("--tau2 lists X = \(label(x)) twice ('\(list)')")
            }
        }
        let threads = try args.int("threads", in: 1...ComputeThreads.maximum)
        let jobs = try args.int("jobs", in: ConcurrentJobs.range) ?? 1
        try args.finish(maxPositionals: 1)
        guard let path = args.positionals.first else {
            throw UsageError("give a config file, e.g. config/niss-mnist-mlp-iid.json")
        }
        let (base, origins) = try RunCommand.loadConfigurationWithOrigins(path, overrides: overrides
                                                                            + ["strategy.kind=niss"])
        if let threads { ComputeThreads.count = threads }
        let output: URL
        do {
            output = try OutputPlace.prepareFolder(base.output, origin: "the folder")
        } catch {
            throw UsageError("\(origins.source(of: "output")): output: \(error.description)")
        }
        var summaries: [(Double, FederationSummary)] = []
        if replot {
            summaries = try readSummaries(values, in: output, matching: base)
            guard !summaries.isEmpty else {
                throw UsageError("no X=<x>/summary.json for X in \(values.map(label)) under \(output.path)")
            }
            let missing = values.filter { x in !summaries.contains { $0.0 == x } }
            if !missing.isEmpty {
                say("[\(base.name)] warning: no summary for X = \(missing.map(label).joined(separator: ", ")); "
                      + "replotting the \(summaries.count) that exist")
            }
            try write(summaries, base: base, to: output)
        }
        let watch = replot ? nil : InterruptWatch(label: base.name)
        if !replot && !resume { removeStaleTable(in: output) }
        defer { watch?.end() }
        // --jobs: the X runs go N at a time (threads split between them); results are taken in X order, so the
        // table and every X=<x> folder are a sequential sweep's.
        let total = values.count, stop = watch?.stop
        for chunk in stride(from: 0, to: replot ? 0 : total, by: jobs) {
            let part = Array(values.enumerated())[chunk..<min(chunk + jobs, values.count)]
            let results = try await ConcurrentJobs.run(count: part.count, limit: jobs) { j in
                let (i, x) = part[part.startIndex + j]
                return try await runOne(i, x, of: total, base: base, output: output, resume: resume,
                                        quiet: quiet, allowDivergence: allowDivergence, stop: stop)
            }
            for ((_, x), result) in zip(part, results) {
                guard let result else { continue }
                do {
                    summaries.append((x, try result.get()))
                } catch let error as ConfigurationError {
                    throw UsageError("\(origins.source(of: error.keyPath)): \(error.description)")
                } catch var error as RunInterrupted {
                    if !summaries.isEmpty { try write(summaries, base: base, to: output) }
                    error.status = watch?.status ?? error.status
                    error.description += "\n[\(base.name)] sweep interrupted at X = \(label(x)); continue with the "
                        + "same command and --resume"
                    throw error
                }
                try write(summaries, base: base, to: output)  // after every run: a long sweep leaves partial results
            }
        }
        let doc = document(summaries, base: base)
        say("\n" + "X = τ²".padding(toLength: 8, withPad: " ", startingAt: 0) + "final accuracy".leftPad(15)
              + "best round".leftPad(12)
              + "noise var (mean expected)".leftPad(28) + "seconds".leftPad(10))
        for r in doc.runs {
            say(label(r.tau2).padding(toLength: 8, withPad: " ", startingAt: 0)
                  + (r.finalTestAccuracy.map { percent($0) } ?? "n/a").leftPad(15)
                  + (r.bestTestAccuracy.map { percent($0) } ?? "n/a").leftPad(12)
                  + String(format: "%.3g", r.meanExpectedNoiseVariance).leftPad(28) + fixed(r.seconds, 1).leftPad(10))
        }
        let gap = doc.gapPoints.map { String(format: "%+.2f points", $0) } ?? "n/a"
        // The gap is between the X values that have results (a replot may lack some).
        let ran = doc.runs.map(\.tau2)
        say("\naccuracy falls as X grows: \(doc.accuracyFallsWithX ? "yes" : "no") (tolerance \(doc.tolerance) points); "
              + "gap X = \(label(ran.min() ?? 0)) over X = \(label(ran.max() ?? 0)): \(gap)")
        say("wrote \(output.path)/sweep.csv, sweep.json, sweep.svg")
    }

    /// The summaries a sweep wrote into `dir`, for the X values that have one. Each must come from `base` (every
    /// key but `strategy.niss.tau2` and `output` equal): a run of another config is an error naming the file and
    /// the first key that differs, never mixed into the table.
    static func readSummaries(_ values: [Double], in dir: URL, matching base: FederationConfiguration) throws
        -> [(Double, FederationSummary)]
    {
        struct Stored: Decodable {
            var summary: FederationSummary
            var configuration: FederationConfiguration
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf",
                                                                        negativeInfinity: "-inf", nan: "nan")
        return try values.compactMap { x in
            let file = dir.appendingPathComponent("X=\(label(x))/summary.json")
            guard let data = try? Data(contentsOf: file) else { return nil }
            let stored: Stored
            do {
                stored = try decoder.decode(Stored.self, from: data)
            } catch {
                throw UsageError("\(file.path): not a run summary of this version (\(describe(error)))")
            }
            var expected = base
            expected.strategy.niss.tau2 = x
            expected.output = stored.configuration.output
            if stored.configuration != expected {
                let key = firstDifference(stored.configuration, expected) ?? "?"
                throw UsageError("\(file.path): a run of another configuration (its \(key) differs from the sweep's); "
                                 + "run the sweep again, or give --set/--tau2 as that run had them")
            }
            if stored.configuration.strategy.niss.tau2 != x {
                throw UsageError("\(file.path): holds X = \(stored.configuration.strategy.niss.tau2), not \(label(x))")
            }
            return (x, stored.summary)
        }
    }

    /// The first key path (dotted) whose value differs between two configurations, via their JSON.
    static func firstDifference(_ a: FederationConfiguration, _ b: FederationConfiguration) -> String? {
        func flat(_ c: FederationConfiguration) -> [String: String] {
            guard let data = try? JSONEncoder().encode(c),
                  let object = try? JSONSerialization.jsonObject(with: data) else { return [:] }
            var out: [String: String] = [:]
            func walk(_ v: Any, _ path: String) {
                if let d = v as? [String: Any] { for (k, x) in d { walk(x, path.isEmpty ? k : path + "." + k) } }
                else { out[path] = "\(v)" }
            }
            walk(object, "")
            return out
        }
        let x = flat(a), y = flat(b)
        return Set(x.keys).union(y.keys).sorted().first { x[$0] != y[$0] }
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let c): "missing \(ConfigurationFile.keyPath(c.codingPath + [key]))"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c),
             DecodingError.dataCorrupted(let c):
            "at '\(ConfigurationFile.keyPath(c.codingPath))': \(c.debugDescription)"
        default: "\(error)"
        }
    }

    static func label(_ x: Double) -> String {
        x == x.rounded() ? String(Int(x)) : String(x)
    }

    static func document(_ runs: [(Double, FederationSummary)], base: FederationConfiguration) -> Document {
        let rows = runs.map { x, s in
            Row(tau2: x, finalTestAccuracy: s.finalTestAccuracy, finalTestLoss: s.finalTestLoss,
                bestTestAccuracy: s.bestTestAccuracy?.accuracy,
                meanExpectedNoiseVariance: s.rounds.map(\.expectedNoiseVariance).reduce(0, +)
                    / Double(max(s.rounds.count, 1)),
                seconds: s.seconds)
        }
        let sorted = rows.sorted { $0.tau2 < $1.tau2 }
        let tolerance = 0.5
        var falls = true
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            if let x = a.finalTestAccuracy, let y = b.finalTestAccuracy, y * 100 > x * 100 + tolerance { falls = false }
        }
        var gap: Double?
        if sorted.count >= 2, let lo = sorted.first!.finalTestAccuracy, let hi = sorted.last!.finalTestAccuracy {
            gap = (lo - hi) * 100
        }
        let dp = base.strategy.dp
        return Document(name: base.name, rounds: base.rounds, sensitivity: dp.sensitivity.rawValue,
                        epsilon: dp.epsilon, delta: dp.delta, clippingThreshold: dp.clippingThreshold, runs: rows,
                        accuracyFallsWithX: falls, tolerance: tolerance, gapPoints: gap)
    }

    static func write(_ runs: [(Double, FederationSummary)], base: FederationConfiguration, to dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var csv = "round,tau2,test_accuracy,test_loss,train_loss,expected_noise_variance,realised_noise_variance\n"
        for (x, s) in runs {
            for r in s.rounds {
                csv += ["\(r.round)", "\(x)", r.testAccuracy.map { "\($0)" } ?? "", r.testLoss.map { "\($0)" } ?? "",
                        RoundAnswers.nobodyAnswered(r) ? "" : "\(r.meanTrainLoss)", "\(r.expectedNoiseVariance)",
                        r.realisedNoiseVariance.map { "\($0)" } ?? ""].joined(separator: ",") + "\n"
            }
        }
        try csv.write(to: dir.appendingPathComponent("sweep.csv"), atomically: true, encoding: .utf8)
        let encoder = resultEncoder()
        try encoder.encode(document(runs, base: base)).write(to: dir.appendingPathComponent("sweep.json"))
        let dp = base.strategy.dp
        var plot = LinePlot(
            title: "\(base.name): NISS test accuracy per round (σ_k \(dp.sensitivity.rawValue), ε = \(dp.epsilon), "
                + "δ = \(dp.delta), ζ = \(dp.clippingThreshold))",
            xLabel: "round", yLabel: "test accuracy",
            series: runs.map { x, s in
                PlotSeries(name: "X = \(label(x))", points: s.rounds.compactMap { r in
                    r.testAccuracy.map { (Double(r.round), $0) }
                })
            })
        plot.width = 900
        try plot.render().write(to: dir.appendingPathComponent("sweep.svg"), atomically: true, encoding: .utf8)
    }
}
