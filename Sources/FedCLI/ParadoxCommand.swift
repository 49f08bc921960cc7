// ParadoxCommand: `fednoise paradox`, the noise study's grid: resumable, with progress and ETA, CSV, prices, SVGs.
import FedData
import FedNN
import FedTensor
import Foundation

public enum ParadoxCommand {
    static let help = """
    USAGE: fednoise paradox [--config FILE] [--set key=value …] [options]

    The "paradox of noise" study (spec Part A; the paper's mechanisms, CNNs and formulas are unverified, so the
    presets M1–M5 are placeholders): every cell of models × settings (centralized, federated FedAvg) × seeds ×
    (the noise-free baseline, and each mechanism at each of its levels) is trained, then measured: train and test
    accuracy and loss, generalisation gap, stability (std of test accuracy over the last R epochs or rounds, mean
    |Δ|), SNR at the mechanism's site (power and amplitude, linear and dB), and the loss-threshold
    membership-inference attack (Yeom et al. 2018: AUC, TPR at 1% FPR). Privacy is heuristic: no ε is reported.
    With the dp key, real-DP cells join the grid for comparison at equal accuracy: DP-SGD per noise multiplier
    (centralised) and DP-FedAvg per per-round client-level ε (federated), each reporting the ε it spent (not for
    large-cnn, whose BatchNorm neither supports). With referenceModels K (2…16) every cell also gets the calibrated
    attack, offline LiRA (Carlini et al. 2022): K reference models trained like the cell without the attacked
    examples (on the training images after the members), reported as lira_auc and lira_tpr_at_1pct_fpr; it costs
    K more trainings per cell.

    Writes into --output: cells.csv (one row per cell, appended as each finishes and put in grid order at the end;
    a rerun skips the cells already there, so an interrupted study resumes), prices.csv (PoS and PoA per model ×
    setting × mechanism, accuracy and loss forms, never clamped, over the admissible cells; and the optimum level),
    and per model × setting the SVGs accuracy-vs-level, gap-vs-level, snr-vs-accuracy (optimum marked) and
    mia-vs-accuracy (with the DP cells); matched.csv pairs every DP cell with the non-DP cell of the same model,
    setting and seed closest in test accuracy, both attacks side by side. timing.csv (appended per cell, wall
    seconds: not reproducible) splits each cell's time into training and the study's own overhead (final
    evaluations, attacks, SNR, files; LiRA's reference models apart), and the last line prints the overhead in
    percent of training time (with the study's set-up and report).

    OPTIONS:
      --config FILE     JSON with any key of the grid (see config/paradox-smoke.json, config/paradox-full.json):
                        dataset, data, trainLimit, testLimit, models, settings, mechanisms [{preset, levels}],
                        dp {noiseMultipliers, epsilons, maxGradNorm, clippingThreshold, delta},
                        seeds, epochs, rounds, clients, fraction, localEpochs, batchSize, learningRate, momentum,
                        attackSamples, referenceModels, stabilityWindow, admissibleSNRdB, admissibleLevelAtLeast,
                        tolerance, output
      --set key=value   override one key (repeatable)
      --output DIR      result folder (default results/paradox)
      --threads N       compute threads (default: all cores)
      --jobs N          cells trained at once, 1…64 (default 1); the threads are split between them (each gets
                        ⌊threads / N⌋, at least 1). cells.csv is the same whatever N: it ends in grid order
      -h, --help        show this help
    """

    static func run(_ argv: [String]) async throws {
        var args = try Arguments(argv, booleanFlags: ["help"], repeatable: ["set"])
        if args.flag("help") {
            say(help)
            return
        }
        let path = args.string("config")
        var overrides = args.strings("set")
        if let output = args.string("output") { overrides.append("output=\(output)") }
        let threads = try args.int("threads", in: 1...ComputeThreads.maximum)
        let jobs = try args.int("jobs", in: ConcurrentJobs.range) ?? 1
        try args.finish()
        if let threads { ComputeThreads.count = threads }
        let study = try ParadoxConfiguration.load(path, overrides: overrides)
        try await runStudy(study, jobs: jobs)
    }

    /// Runs the cells not yet in `output`/cells.csv, appending each as it finishes, then writes the file in grid
    /// order and the report. `jobs` cells run at once, splitting the compute threads (`ConcurrentJobs`); the
    /// finished cells.csv is the same whatever `jobs` is.
    public static func runStudy(_ study: ParadoxConfiguration, jobs: Int = 1,
                                log: (String) -> Void = { say($0) }) async throws {
        try OutputPlace.prepareFolder(study.output, origin: "output")
        let dir = URL(fileURLWithPath: study.output)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let csvURL = dir.appendingPathComponent("cells.csv")
        var lines = try existingRows(csvURL)
        let done = Set(lines.map { $0.split(separator: ",").prefix(5).joined(separator: ",") })
        let cells = study.cells
        let todo = cells.filter { !done.contains($0.key) }
        let (train, test) = try loadSamples(kind: study.dataset, path: study.data, trainLimit: study.trainLimit,
                                            testLimit: study.testLimit)
        log("paradox: \(cells.count) cells (\(cells.count - todo.count) already in \(csvURL.path)), "
            + "\(train.sampleCount) train / \(test.sampleCount) test samples, \(ComputeThreads.count) thread(s)"
            + (jobs > 1 ? " over \(jobs) concurrent cells" : "") + "; "
            + "privacy of the noise mechanisms: heuristic, no ε")
        var ledger = try ParadoxTimingLedger(url: dir.appendingPathComponent("timing.csv"))
        let place = gridPlaces(cells)
        let started = monotonicSeconds()
        // Set-up, before any cell's clock: the evaluation workspaces the cells will measure with, allocated and
        // zeroed once (the first cell's measurement paid for it), and cells.csv rewritten in grid order, so that
        // each finished cell only appends its row.
        try ParadoxCellRun.prepareEvaluation(todo, study: study, train: train, copies: min(jobs, todo.count))
        var rows: RowAppender? = nil
        if !todo.isEmpty {
            lines = inGridOrder(lines, place: place)
            try CheckpointFile.writeAtomically(Data(csvText(lines).utf8), to: csvURL.path)
            rows = try RowAppender(path: csvURL.path)
        }
        let setupSeconds = monotonicSeconds() - started
        var finished = 0
        let results = try await ConcurrentJobs.run(count: todo.count, limit: jobs, work: { i in
            let t0 = monotonicSeconds()
            let (r, timing) = try await ParadoxCellRun.timedRun(todo[i], study: study, train: train, test: test)
            return (r, timing, monotonicSeconds() - t0)
        }, finished: { i, result in
            guard case .success(let (r, timing, seconds)) = result else { return }
            let writing = monotonicSeconds()
            // The row goes in at its cell's place in memory and at the end of the file, in one write (an
            // interruption leaves every finished row, in the order they finished; a rerun sorts them). Rewriting
            // the whole file each time cost ~0.6 ms a cell, 1% of a small cell's training.
            insert(r.csvRow, into: &lines, place: place)
            try rows?.append(r.csvRow)
            let filesSeconds = monotonicSeconds() - writing
            try ledger.record(todo[i].key, timing, filesSeconds: filesSeconds)
            finished += 1
            let elapsed = monotonicSeconds() - started
            let eta = elapsed / Double(finished) * Double(todo.count - finished)
            log("cell \(finished)/\(todo.count) [\(todo[i].key)]: test \(percent(r.testAccuracy)), gap "
                + "\(percent(r.trainAccuracy - r.testAccuracy)), SNR \(fixed(r.snr.powerDB, 1)) dB, MIA AUC "
                + "\(fixed(r.attack.auc, 3))\(r.epsilon.map { ", ε = \(fixed($0, 3))" } ?? "") | "
                + "\(fixed(seconds, 1)) s (study overhead "
                + "\(fixed(ParadoxTimingLedger.overheadPercent(timing, filesSeconds: filesSeconds), 1))%), ETA \(fixed(eta, 0)) s")
        })
        rows = nil
        for case .failure(let error)? in results { throw error }
        let reporting = monotonicSeconds()
        // The finished file: every row in grid order, whatever order the cells finished in.
        if !todo.isEmpty { try CheckpointFile.writeAtomically(Data(csvText(lines).utf8), to: csvURL.path) }
        let parsed = try ParadoxReport.parse(([ParadoxCellResult.header] + lines).joined(separator: "\n"))
        try ParadoxReport.write(parsed, study: study, to: dir)
        log(ledger.summary(reportSeconds: monotonicSeconds() - reporting, setupSeconds: setupSeconds))
        log("wrote \(csvURL.path), prices.csv and the SVGs (\(fixed(monotonicSeconds() - started, 1)) s)")
    }

    /// Each cell key's place in the grid (its first occurrence).
    public static func gridPlaces(_ cells: [ParadoxCell]) -> [Substring: Int] {
        var place: [Substring: Int] = [:]
        for (i, c) in cells.enumerated() where place[c.key[...]] == nil { place[c.key[...]] = i }
        return place
    }

    /// A cells.csv row's key columns (model, setting, mechanism, level, seed): the text before its fifth comma.
    public static func rowKey(_ row: String) -> Substring {
        var commas = 0
        for i in row.indices where row[i] == "," {
            commas += 1
            if commas == 5 { return row[..<i] }
        }
        return row[...]
    }

    /// `rows` sorted by their cell's place in the grid, stably (rows of cells not in it last, in their order).
    public static func inGridOrder(_ rows: [String], place: [Substring: Int]) -> [String] {
        rows.enumerated().map { (place[rowKey($0.element)] ?? Int.max, $0.offset, $0.element) }
            .sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
    }

    /// Inserts `row` into `rows` (in grid order) after every row whose place is not later than its own: where a
    /// stable sort of `rows + [row]` by place puts it (a binary search and one insert per finished cell, not a sort).
    public static func insert(_ row: String, into rows: inout [String], place: [Substring: Int]) {
        let mine = place[rowKey(row)] ?? Int.max
        var lo = 0, hi = rows.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if (place[rowKey(rows[mid])] ?? Int.max) <= mine { lo = mid + 1 } else { hi = mid }
        }
        rows.insert(row, at: lo)
    }

    /// The data rows of an earlier cells.csv (none when absent); a file with another header is refused. A last
    /// line without its newline is a row an interruption cut short: dropped, so its cell runs again.
    static func existingRows(_ url: URL) throws -> [String] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        var lines = text.split(separator: "\n").map(String.init)
        guard lines.first == ParadoxCellResult.header else {
            throw UsageError("\(url.path): not a cells.csv of this version (other header); move it away or pick "
                             + "another --output")
        }
        if !text.hasSuffix("\n") && lines.count > 1 { lines.removeLast() }
        return Array(lines.dropFirst())
    }

    /// cells.csv's text: the header, then `rows`, each line ending in a newline.
    static func csvText(_ rows: [String]) -> String {
        ([ParadoxCellResult.header] + rows).joined(separator: "\n") + "\n"
    }
}

/// Appends lines to a file opened once (O_APPEND: each line one write at the end); errors name the file.
final class RowAppender {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw RunFailure(description: "cannot append to \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// `line` and a newline, in one write.
    func append(_ line: String) throws {
        let bytes = Array((line + "\n").utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw RunFailure(description: "cannot append to \(path): \(String(cString: strerror(errno)))")
            }
            written += n
        }
    }
}
