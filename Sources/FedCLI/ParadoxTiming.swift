// ParadoxTiming: where a noise study's wall time went — training against its own overhead — as timing.csv and a line.
import Foundation

/// The study's overhead ledger (issue 13's target: the study's own work per cell — final evaluations, the
/// loss-threshold attack, SNR, files — at most 5% of that cell's training time). Wall times depend on the machine
/// and its load, so they live in timing.csv, never in cells.csv (whose bytes must not depend on `--jobs`).
struct ParadoxTimingLedger {
    static let header = "model,setting,mechanism,level,seed,train_seconds,measure_seconds,files_seconds,"
        + "overhead_percent,calibration_seconds"

    let url: URL
    private(set) var trainSeconds = 0.0
    private(set) var overheadSeconds = 0.0
    private(set) var worst: (percent: Double, key: String)? = nil

    /// Appends to `url` (a new file starts with the header; an earlier run's rows stay, so a resumed study keeps
    /// them). A file with another header is refused, naming it.
    init(url: URL) throws {
        self.url = url
        if let text = try? String(contentsOf: url, encoding: .utf8) {
            guard text.split(separator: "\n").first.map(String.init) == Self.header else {
                throw UsageError("\(url.path): not a timing.csv of this version (other header); move it away or pick "
                                 + "another --output")
            }
        } else {
            try (Self.header + "\n").write(to: url, atomically: true, encoding: .utf8)
        }
    }

    /// Overhead of one cell in percent of its training time: measurement plus its share of file writing.
    static func overheadPercent(_ timing: ParadoxCellTiming, filesSeconds: Double) -> Double {
        100 * (timing.measureSeconds + filesSeconds) / max(timing.trainSeconds, 1e-9)
    }

    /// Records one finished cell: a row appended to timing.csv and the running totals.
    mutating func record(_ key: String, _ timing: ParadoxCellTiming, filesSeconds: Double) throws {
        let percent = Self.overheadPercent(timing, filesSeconds: filesSeconds)
        trainSeconds += timing.trainSeconds
        overheadSeconds += timing.measureSeconds + filesSeconds
        if worst == nil || percent > worst!.percent { worst = (percent, key) }
        let row = [timing.trainSeconds, timing.measureSeconds, filesSeconds, percent, timing.calibrationSeconds]
            .map { String(format: "%.6f", $0) }.joined(separator: ",")
        if appender == nil { appender = try RowAppender(path: url.path) }
        try appender!.append(key + "," + row)
    }

    /// timing.csv opened once, at the first row.
    private var appender: RowAppender? = nil

    /// The closing line: total overhead (plus the study's set-up, `setupSeconds`, and the final report's
    /// `reportSeconds`) against total training time.
    func summary(reportSeconds: Double, setupSeconds: Double = 0) -> String {
        guard trainSeconds > 0 else { return "study overhead: no cell trained in this run" }
        let total = overheadSeconds + reportSeconds + setupSeconds
        return "study overhead: \(fixed(total, 1)) s (measurement and files \(fixed(overheadSeconds, 1)) s, set-up "
            + "\(fixed(setupSeconds, 1)) s, report \(fixed(reportSeconds, 1)) s) = \(fixed(100 * total / trainSeconds, 2))% "
            + "of \(fixed(trainSeconds, 1)) s "
            + "of training" + (worst.map { "; worst cell \(fixed($0.percent, 2))% [\($0.key)]" } ?? "")
            + " (timing.csv)"
    }
}
