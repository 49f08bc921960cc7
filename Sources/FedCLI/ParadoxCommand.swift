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

    Writes into --output: cells.csv (one row per cell, appended as each finishes; a rerun skips the cells already
    there, so an interrupted study resumes), prices.csv (PoS and PoA per model × setting × mechanism, accuracy and
    loss forms, never clamped, over the admissible cells; and the optimum level), and per model × setting the SVGs
    accuracy-vs-level, gap-vs-level, snr-vs-accuracy (optimum marked) and mia-vs-accuracy.

    OPTIONS:
      --config FILE     JSON with any key of the grid (see config/paradox-smoke.json, config/paradox-full.json):
                        dataset, data, trainLimit, testLimit, models, settings, mechanisms [{preset, levels}],
                        seeds, epochs, rounds, clients, fraction, localEpochs, batchSize, learningRate, momentum,
                        attackSamples, stabilityWindow, admissibleSNRdB, admissibleLevelAtLeast, tolerance, output
      --set key=value   override one key (repeatable)
      --output DIR      result folder (default results/paradox)
      --threads N       compute threads (default: all cores)
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
        try args.finish()
        if let threads { ComputeThreads.count = threads }
        let study = try ParadoxConfiguration.load(path, overrides: overrides)
        try await runStudy(study)
    }

    /// Runs the cells not yet in `output`/cells.csv, appending each as it finishes, then writes the report.
    public static func runStudy(_ study: ParadoxConfiguration, log: (String) -> Void = { say($0) }) async throws {
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
            + "\(train.sampleCount) train / \(test.sampleCount) test samples, \(ComputeThreads.count) thread(s); "
            + "privacy of the noise mechanisms: heuristic, no ε")
        let started = monotonicSeconds()
        for (i, cell) in todo.enumerated() {
            let t0 = monotonicSeconds()
            let r = try await ParadoxCellRun.run(cell, study: study, train: train, test: test)
            lines.append(r.csvRow)
            // The whole file, atomically: an interruption leaves the previous complete file.
            let text = ([ParadoxCellResult.header] + lines).joined(separator: "\n") + "\n"
            try text.write(to: csvURL, atomically: true, encoding: .utf8)
            let elapsed = monotonicSeconds() - started
            let eta = elapsed / Double(i + 1) * Double(todo.count - i - 1)
            log("cell \(i + 1)/\(todo.count) [\(cell.key)]: test \(percent(r.testAccuracy)), gap "
                + "\(percent(r.trainAccuracy - r.testAccuracy)), SNR \(fixed(r.snr.powerDB, 1)) dB, MIA AUC "
                + "\(fixed(r.attack.auc, 3)) | \(fixed(monotonicSeconds() - t0, 1)) s, ETA \(fixed(eta, 0)) s")
        }
        let rows = try ParadoxReport.parse(([ParadoxCellResult.header] + lines).joined(separator: "\n"))
        try ParadoxReport.write(rows, study: study, to: dir)
        log("wrote \(csvURL.path), prices.csv and the SVGs (\(fixed(monotonicSeconds() - started, 1)) s)")
    }

    /// The data rows of an earlier cells.csv (none when absent); a file with another header is refused.
    static func existingRows(_ url: URL) throws -> [String] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        let lines = text.split(separator: "\n").map(String.init)
        guard lines.first == ParadoxCellResult.header else {
            throw UsageError("\(url.path): not a cells.csv of this version (other header); move it away or pick "
                             + "another --output")
        }
        return Array(lines.dropFirst())
    }
}
