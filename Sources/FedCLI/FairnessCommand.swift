// FairnessCommand: `fednoise fairness`, the synthetic two-layer study of spec C.3: CSVs, plots, claims table.
import FedNN
import FedTensor
import Foundation

enum FairnessCommand {
    static let help = """
    USAGE: fednoise fairness [--output DIR] [--quick] [--seed N | --seeds LIST] [--steps N] [--threads N]

    The synthetic study of "How DP-SGD harms fairness and robustness" (spec C): a two-layer ReLU CNN (K = 2 classes,
    m = 20 filters per class, second layer fixed) on 2-patch data in d = 1000 with a common (90%, ‖u‖ = 5) and a
    long-tail (10%, ‖u‖ ∈ {1, 2, 5}) subpopulation per class, 500 training examples, trained by DP-SGD (C = 1,
    expected batch 50, lr 0.1, 300 steps) at σ ∈ {0, 0.5, 1, 2, 4}; then public pre-training (300 steps, σ = 0) on
    the source features and short private fine-tuning (σ = 4, 50 steps) on targets rotated by
    θ ∈ {0, 22.5, 45, 67.5, 90}°, against the same 50 steps from scratch; then the mitigations at σ = 2, tail
    ‖u‖ = 2: 50% and 75% of each class's filters frozen (no noise on them, ε unchanged) and augmentation
    multiplicity k ∈ {4, 16} (fresh noise patches, gradients averaged before clipping). Evaluated per group on
    2,000 test examples:
    accuracy, loss, PGD-10 L2 (ε = 1) robust accuracy and adversarial loss, the paper-style FNR ‖u‖/σ_n and the
    effective FNR (every 50 steps). One seed per grid; the whole grid takes a few minutes per seed.
    Writes runs.csv (one row per run and group), fnr.csv, finetune.csv, mitigations.csv, claims.md and five SVG
    plots into DIR; with several --seeds, each seed's into DIR/seed-S/, and into DIR claims.md (each claim's
    statistics as mean ± sd over the seeds, and in how many seeds it is reproduced) and seeds.csv.

    OPTIONS:
      --output DIR   result folder (default results/dp-fairness)
      --quick        a tiny grid (d = 64, 20 steps, σ ∈ {0, 2}), seconds: for smoke tests
      --seed N       data, initialisation and noise seed (default 1)
      --seeds LIST   comma-separated seeds, e.g. 1,2,3: the grid once per seed, then the claims over the seeds
      --steps N      DP-SGD steps per run, 1…100000 (default 300)
      --threads N    compute threads (default: all cores)
      -h, --help     show this help
    """

    /// The effective FNR below which a group's signal is reported as drowned (a heuristic threshold).
    static let fnrWarning = 0.002

    static func run(_ argv: [String]) throws {
        var args = try Arguments(argv, booleanFlags: ["help", "quick"])
        if args.flag("help") {
            say(help)
            return
        }
        var s = args.flag("quick") ? FairnessSettings.quick : FairnessSettings()
        let output = args.string("output") ?? "results/dp-fairness"
        let seed = try args.int("seed", in: 0...Int.max)
        let seedList = args.string("seeds")
        if let steps = try args.int("steps", in: 1...100_000) { s.steps = steps }
        let threads = try args.int("threads", in: 1...ComputeThreads.maximum)
        try args.finish()
        if seed != nil && seedList != nil { throw UsageError("--seed and --seeds: give one of them") }
        let seeds = try seedList.map(parseSeeds) ?? [seed.map(UInt64.init) ?? s.seed]
        if let threads { ComputeThreads.count = threads }
        let dir = try OutputPlace.prepareFolder(output, origin: "--output")
        let started = monotonicSeconds()
        let total = seeds.count * (s.tailNorms.count * s.sigmas.count + 1 + 2 * s.rotations.count + 1
            + s.freezeFractions.count + s.augmentCopies.count)
        var done = 0
        let progress = { (what: String) in
            done += 1
            say("[\(done)/\(total)] \(what)  (\(fixed(monotonicSeconds() - started, 1)) s)")
        }
        if seeds.count == 1 {
            s.seed = seeds[0]
            let g = try grid(s, progress: progress)
            try write(runs: g.runs, fineTune: g.fineTune, mitigations: g.mitigations, settings: s, to: dir)
            say("wrote \(output)/runs.csv, fnr.csv, finetune.csv, mitigations.csv, claims.md and 5 SVGs "
                + "(\(fixed(monotonicSeconds() - started, 1)) s)")
            return
        }
        var numbers: [(seed: UInt64, claims: ClaimNumbers)] = []
        for seed in seeds {
            s.seed = seed
            say("seed \(seed)")
            let sub = try OutputPlace.prepareFolder(dir.appendingPathComponent("seed-\(seed)").path, origin: "--output")
            let g = try grid(s, progress: progress)
            try write(runs: g.runs, fineTune: g.fineTune, mitigations: g.mitigations, settings: s, to: sub)
            numbers.append((seed, claimNumbers(runs: g.runs, fineTune: g.fineTune, mitigations: g.mitigations,
                                               settings: s)))
        }
        try writeSeeds(numbers, settings: s, to: dir)
        say("wrote \(output)/seed-S/ for S in \(seeds.map(String.init).joined(separator: ", ")), and "
            + "\(output)/claims.md, seeds.csv (\(fixed(monotonicSeconds() - started, 1)) s)")
    }

    /// "1,2,3" → [1, 2, 3]: 1…100 distinct seeds; the error names the flag and the bad item.
    static func parseSeeds(_ text: String) throws(UsageError) -> [UInt64] {
        var out: [UInt64] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let t = item.trimmingCharacters(in: .whitespaces)
            guard let v = UInt64(t), v <= UInt64(Int.max) else {
                throw UsageError("--seeds: '\(t)' is not a whole number ≥ 0 (give e.g. 1,2,3)")
            }
            guard !out.contains(v) else { throw UsageError("--seeds: \(v) is given twice") }
            out.append(v)
        }
        guard out.count <= 100 else { throw UsageError("--seeds: at most 100 seeds, got \(out.count)") }
        return out
    }

    /// The whole grid for `s.seed`: the σ × tail-norm runs, pre-training and fine-tuning per θ, the mitigations.
    static func grid(_ s: FairnessSettings, progress: (String) -> Void) throws
        -> (runs: [FairnessRun], fineTune: [(theta: Double, pretrained: FairnessRun, scratch: FairnessRun)],
            mitigations: [FairnessRun])
    {
        var runs: [FairnessRun] = []
        var stream: UInt64 = 100
        for tail in s.tailNorms {
            for sigma in s.sigmas {
                progress("σ = \(sigma), tail ‖u‖ = \(tail)")
                stream += 1
                runs.append(try FairnessStudy.run(s, data: FairnessStudy.data(s, tail: tail), sigma: sigma,
                                                  tailNorm: tail, stream: stream))
                let r = runs.last!
                say("  accuracy \(percent(r.groups.accuracy)) (common \(percent(r.subgroups.groups[0].accuracy)), "
                    + "tail \(percent(r.subgroups.groups[1].accuracy))), robust \(percent(r.robust.adversarial.accuracy))"
                    + ", ε = \(fixed(r.epsilon, 2))")
                if sigma > 0, let low = r.effectiveFNRStart.enumerated().min(by: { $0.element < $1.element }),
                   low.element < fnrWarning {
                    say("  warning: group \(low.offset)'s effective FNR at initialisation is \(fixed(low.element, 4)) "
                        + "< \(fnrWarning): its expected clipped signal per step is lost in the noise")
                }
            }
        }
        // Pre-training on the source (θ = 0) without noise, then DP fine-tuning on each rotated target.
        progress("public pre-training on the source features")
        let source = try FairnessStudy.run(s, data: FairnessStudy.data(s, tail: s.fineTuneTailNorm), sigma: 0,
                                           tailNorm: s.fineTuneTailNorm, stream: 900)
        var fineTune: [(theta: Double, pretrained: FairnessRun, scratch: FairnessRun)] = []
        for (k, theta) in s.rotations.enumerated() {
            let target = FairnessStudy.data(s, tail: s.fineTuneTailNorm, degrees: theta)
            progress("θ = \(theta)°: fine-tune from pre-trained")
            let pre = try FairnessStudy.run(s, data: target, sigma: s.fineTuneSigma, tailNorm: s.fineTuneTailNorm,
                                            start: source.parameters, steps: s.fineTuneSteps, stream: 1000 + UInt64(k))
            progress("θ = \(theta)°: from scratch")
            let scratch = try FairnessStudy.run(s, data: target, sigma: s.fineTuneSigma, tailNorm: s.fineTuneTailNorm,
                                                steps: s.fineTuneSteps, stream: 1000 + UInt64(k))
            fineTune.append((theta, pre, scratch))
        }
        // Claim 5: the same data, initialisation and noise streams, with filters frozen or k augmented copies.
        var mitigations: [FairnessRun] = []
        let variants = [(0.0, 1)] + s.freezeFractions.map { ($0, 1) } + s.augmentCopies.map { (0.0, $0) }
        for (fraction, copies) in variants {
            progress("mitigation: \(Int(fraction * 100))% of filters frozen, \(copies) cop\(copies == 1 ? "y" : "ies")")
            mitigations.append(try FairnessStudy.run(s, data: FairnessStudy.data(s, tail: s.mitigationTailNorm),
                                                     sigma: s.mitigationSigma, tailNorm: s.mitigationTailNorm,
                                                     stream: 2000, frozenFraction: fraction, copies: copies))
            let r = mitigations.last!
            say("  accuracy \(percent(r.groups.accuracy)) (tail \(percent(r.subgroups.groups[1].accuracy))), robust "
                + "\(percent(r.robust.adversarial.accuracy)), mean effective FNR at start "
                + "\(fixed(r.effectiveFNRStart.reduce(0, +) / Double(r.effectiveFNRStart.count), 4))")
        }
        return (runs, fineTune, mitigations)
    }

    static func write(runs: [FairnessRun], fineTune: [(theta: Double, pretrained: FairnessRun, scratch: FairnessRun)],
                      mitigations: [FairnessRun], settings s: FairnessSettings, to dir: URL) throws {
        var csv = "sigma,tail_norm,epsilon,group,class,subgroup,count,accuracy,loss,robust_accuracy,adversarial_loss,"
            + "paper_fnr,effective_fnr_start,effective_fnr_end,disparate_impact\n"
        let S = s.data.subgroups
        for r in runs {
            let base = runs.first { $0.tailNorm == r.tailNorm && $0.sigma == 0 }
            let di = base.map { disparateImpact(nonDP: $0.subgroups, dp: r.subgroups, majority: 0, minority: 1) }
            for (g, t) in r.groups.groups.enumerated() {
                csv += "\(r.sigma),\(r.tailNorm),\(r.epsilon),\(g),\(g / S),\(g % S),\(t.count),\(t.accuracy),"
                csv += "\(t.meanLoss),\(r.robustGroups.groups[g].accuracy),\(r.robustGroups.groups[g].meanLoss),"
                csv += "\(r.paperFNR[g]),"
                csv += "\(r.effectiveFNRStart[g]),\(r.effectiveFNREnd[g]),\(di ?? .nan)\n"
            }
        }
        try csv.write(to: dir.appendingPathComponent("runs.csv"), atomically: true, encoding: .utf8)
        var trace = "sigma,tail_norm,step,group,effective_fnr\n"
        for r in runs {
            for (step, fnr) in r.fnrTrace {
                for (g, f) in fnr.enumerated() { trace += "\(r.sigma),\(r.tailNorm),\(step),\(g),\(f)\n" }
            }
        }
        try trace.write(to: dir.appendingPathComponent("fnr.csv"), atomically: true, encoding: .utf8)
        var ft = "theta_degrees,pretrained_accuracy,scratch_accuracy,pretrained_tail_accuracy,scratch_tail_accuracy,benefit\n"
        for f in fineTune {
            ft += "\(f.theta),\(f.pretrained.groups.accuracy),\(f.scratch.groups.accuracy),"
            ft += "\(f.pretrained.subgroups.groups[1].accuracy),\(f.scratch.subgroups.groups[1].accuracy),"
            ft += "\(f.pretrained.groups.accuracy - f.scratch.groups.accuracy)\n"
        }
        try ft.write(to: dir.appendingPathComponent("finetune.csv"), atomically: true, encoding: .utf8)
        try plots(runs: runs, fineTune: fineTune, to: dir)
        try writeMitigations(mitigations, to: dir)
        try claims(runs: runs, fineTune: fineTune, mitigations: mitigations, settings: s)
            .write(to: dir.appendingPathComponent("claims.md"), atomically: true, encoding: .utf8)
    }

    static func plots(runs: [FairnessRun], fineTune: [(theta: Double, pretrained: FairnessRun, scratch: FairnessRun)],
                      to dir: URL) throws {
        func save(_ plot: LinePlot, _ name: String) throws {
            try plot.render().write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        let noisy = runs.filter { $0.sigma > 0 }
        var lossSeries: [PlotSeries] = []
        for (name, sub) in [("common groups", 0), ("tail groups", 1)] {
            let points: [(x: Double, y: Double)] = noisy.flatMap { r in
                r.groups.groups.indices.filter { $0 % 2 == sub }.map { g in
                    (x: log10(max(r.effectiveFNRStart[g], 1e-6)), y: r.groups.groups[g].meanLoss)
                }
            }.sorted { $0.x < $1.x }
            lossSeries.append(PlotSeries(name: name, points: points))
        }
        try save(LinePlot(title: "Claim 1: group test loss against its effective FNR (σ > 0)",
                          xLabel: "log10 effective FNR at initialisation", yLabel: "test loss", series: lossSeries),
                 "loss-vs-fnr.svg")
        var accuracy: [PlotSeries] = [], robust: [PlotSeries] = []
        for tail in Set(runs.map(\.tailNorm)).sorted() {
            let cell = runs.filter { $0.tailNorm == tail }.sorted { $0.sigma < $1.sigma }
            accuracy.append(PlotSeries(name: "common, tail ‖u‖=\(tail)",
                                       points: cell.map { ($0.sigma, $0.subgroups.groups[0].accuracy) }))
            accuracy.append(PlotSeries(name: "tail ‖u‖=\(tail)", points: cell.map { ($0.sigma, $0.subgroups.groups[1].accuracy) }))
            robust.append(PlotSeries(name: "clean, tail ‖u‖=\(tail)", points: cell.map { ($0.sigma, $0.groups.accuracy) }))
            robust.append(PlotSeries(name: "PGD-10, tail ‖u‖=\(tail)",
                                     points: cell.map { ($0.sigma, $0.robust.adversarial.accuracy) }))
        }
        try save(LinePlot(title: "Claim 2: per-subpopulation test accuracy against σ", xLabel: "noise multiplier σ",
                          yLabel: "accuracy", series: accuracy), "accuracy-vs-sigma.svg")
        try save(LinePlot(title: "Claim 3: clean and robust (PGD-10 L2) accuracy against σ", xLabel: "noise multiplier σ",
                          yLabel: "accuracy", series: robust), "robust-vs-sigma.svg")
        try save(LinePlot(title: "Claim 4: DP fine-tuning from public pre-training against the shift θ",
                          xLabel: "θ (degrees)", yLabel: "test accuracy",
                          series: [PlotSeries(name: "pre-trained", points: fineTune.map { ($0.theta, $0.pretrained.groups.accuracy) }),
                                   PlotSeries(name: "from scratch", points: fineTune.map { ($0.theta, $0.scratch.groups.accuracy) })]),
                 "finetune-vs-theta.svg")
    }
}
