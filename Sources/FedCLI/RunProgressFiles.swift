// RunProgressFiles: what a run keeps on disk while it runs: rounds.csv row by row, and its checkpoint.
import FedRuntime
import Foundation
import Synchronization

/// rounds.csv, written as the run goes: the header at once, then one row per completed round, each with its own
/// write(2), so a run killed at any moment leaves a valid CSV of the rounds it completed.
final class RoundsCSV: Sendable {
    static let header = "round,sampled,dropped,train_loss,test_loss,test_accuracy,sigma_min,sigma_max,"
        + "expected_noise_variance,realised_noise_variance,seconds,weights_digest,attempts,"
        + "unit_noise_variance,shares_min,shares_max,share_bytes,dense_share_bytes,seeded_share_bytes,"
        + "distortion_variance,collusion_min_residual_over_sigma2,epsilon_worst_client,epsilon_worst_example\n"

    /// One round's row. A round no client answered has no train loss: the field is empty (its report holds NaN).
    static func row(_ r: RoundReport) -> String {
        let n = r.niss
        let collusion = n?.collusion.map { $0.residualVariance / $0.clientVariance }.min()
        let fields: [String] = [
            "\(r.round)", "\(r.sampled.count)", "\(r.dropped.count)",
            RoundAnswers.nobodyAnswered(r) ? "" : "\(r.meanTrainLoss)",
            r.testLoss.map { "\($0)" } ?? "", r.testAccuracy.map { "\($0)" } ?? "",
            r.noiseStds.min().map { "\($0)" } ?? "", r.noiseStds.max().map { "\($0)" } ?? "",
            "\(r.expectedNoiseVariance)", r.realisedNoiseVariance.map { "\($0)" } ?? "", fixed(r.seconds, 3),
            r.weightsDigest, "\(r.attempts)", n.map { "\($0.unitNoiseVariance)" } ?? "",
            n?.shares.min().map { "\($0)" } ?? "", n?.shares.max().map { "\($0)" } ?? "",
            n.map { "\($0.shareBytes)" } ?? "", n.map { "\($0.denseShareBytes)" } ?? "",
            n.map { "\($0.seededShareBytes)" } ?? "", n?.distortionVariance.map { "\($0)" } ?? "",
            collusion.map { "\($0)" } ?? "",
            r.privacy?.epsilonWorstClient.map { "\($0)" } ?? "",
            r.privacy?.epsilonWorstExample.map { "\($0)" } ?? "",
        ]
        return fields.joined(separator: ",") + "\n"
    }

    /// The whole file for `reports`.
    static func text(_ reports: [RoundReport]) -> String { header + reports.map(row).joined() }

    private let descriptor: Int32
    private let path: String

    /// Starts `path` afresh with the header and the rows of `reports` (a resumed run's rounds so far).
    init(path: String, reports: [RoundReport]) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw RunFailure(description: "cannot write \(path): \(String(cString: strerror(errno)))")
        }
        try write(Self.text(reports))
    }

    /// Appends one round's row.
    func append(_ report: RoundReport) throws { try write(Self.row(report)) }

    private func write(_ text: String) throws {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw RunFailure(description: "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            bytes = bytes.dropFirst(n)
        }
    }

    func close() { _ = Foundation.close(descriptor) }
}

/// checkpoint.fnck in a run's output folder (`FederationCheckpoint`'s format), written atomically.
enum CheckpointFile {
    static let name = "checkpoint.fnck"

    static func url(in folder: String) -> URL { URL(fileURLWithPath: folder).appendingPathComponent(name) }

    /// Writes a temporary file next to it, then renames it over the old one: a kill leaves the old or the new.
    static func write(_ checkpoint: FederationCheckpoint, folder: String) throws {
        try writeAtomically(checkpoint.encoded(), to: url(in: folder).path)
    }

    /// `path` replaced by `data` all at once: written to "<path>.partial" and renamed over it (rename(2) is atomic,
    /// so a process killed at any point leaves the old file or the new one). No fsync: this guards against a
    /// killed process, not a lost machine (an fsync costs ~10 ms a checkpoint here).
    static func writeAtomically(_ data: Data, to path: String) throws {
        let partial = path + ".partial"
        let fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RunFailure(description: "cannot write \(partial): \(String(cString: strerror(errno)))") }
        var written = 0
        let ok = data.withUnsafeBytes { p -> Bool in
            while written < p.count {
                let n = Foundation.write(fd, p.baseAddress! + written, p.count - written)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                written += n
            }
            return true
        }
        let why = String(cString: strerror(errno))
        _ = close(fd)
        guard ok, rename(partial, path) == 0 else {
            unlink(partial)
            throw RunFailure(description: "cannot write \(path): \(ok ? String(cString: strerror(errno)) : why)")
        }
    }

    /// The checkpoint in `folder`; errors name the file and what is wrong.
    static func read(folder: String) throws -> FederationCheckpoint {
        let file = url(in: folder)
        guard FileManager.default.fileExists(atPath: file.path) else {
            struct Status: Decodable { var status: String }
            let summary = URL(fileURLWithPath: folder).appendingPathComponent("summary.json")
            if let data = try? Data(contentsOf: summary),
               (try? JSONDecoder().decode(Status.self, from: data))?.status == "complete" {
                throw UsageError("--resume: the run in '\(folder)' finished (summary.json says complete); "
                                 + "nothing to resume")
            }
            throw UsageError("--resume: '\(folder)' holds no \(name): nothing to resume (a run writes one every "
                             + "checkpointEvery rounds and when interrupted)")
        }
        do {
            return try FederationCheckpoint(encoded: try Data(contentsOf: file))
        } catch let error as FederationCheckpoint.FormatError {
            throw UsageError("--resume: \(file.path): \(error.description)")
        } catch let error as DecodingError {
            throw UsageError("--resume: \(file.path): the header is not valid (\(SweepCommand.describe(error)))")
        } catch {
            throw UsageError("--resume: cannot read \(file.path): \(OutputPlace.reason(error))")
        }
    }

    /// The checkpoint in `config.output`, if it belongs to this configuration.
    static func resumable(_ config: FederationConfiguration) throws -> FederationCheckpoint {
        let checkpoint = try read(folder: config.output)
        guard checkpoint.configurationDigest == config.resumeDigest else {
            var stored = checkpoint.configuration, given = config
            for c in [\FederationConfiguration.output] { stored[keyPath: c] = ""; given[keyPath: c] = "" }
            (stored.checkpointEvery, given.checkpointEvery) = (0, 0)
            (stored.continueAfterDivergence, given.continueAfterDivergence) = (false, false)
            let key = SweepCommand.firstDifference(stored, given) ?? "a value"
            throw UsageError("--resume: \(url(in: config.output).path) was written by another "
                             + "configuration (its \(key) differs from the one given); resume with the same config "
                             + "and --set, or with --resume DIR alone to use the checkpoint's own")
        }
        return checkpoint
    }

    /// Removes the result files an earlier run left in `folder`, so none of them passes for this run's.
    static func removeStaleResults(folder: String) {
        for file in ["rounds.csv", "summary.json", "rounds.svg", "snr.csv", name] {
            try? FileManager.default.removeItem(at: URL(fileURLWithPath: folder).appendingPathComponent(file))
        }
    }
}

/// Writes a run's checkpoints and times them, so the run's last line can say what they cost.
final class CheckpointTimer: Sendable {
    private let folder: String
    private let totals = Mutex<(count: Int, seconds: Double, bytes: Int)>((0, 0, 0))

    init(folder: String) { self.folder = folder }

    func write(_ checkpoint: FederationCheckpoint) throws {
        let start = monotonicSeconds()
        let data = try checkpoint.encoded()
        try CheckpointFile.writeAtomically(data, to: CheckpointFile.url(in: folder).path)
        let seconds = monotonicSeconds() - start
        totals.withLock { $0 = ($0.count + 1, $0.seconds + seconds, data.count) }
    }

    /// "12 checkpoints (6.6 MB) 41 ms each = 0.8% of a round; " (empty when none was written).
    func describe(roundSeconds: [Double]) -> String {
        let t = totals.withLock { $0 }
        guard t.count > 0 else { return "" }
        let each = t.seconds / Double(t.count)
        let round = roundSeconds.reduce(0, +) / Double(max(roundSeconds.count, 1))
        return "\(t.count) checkpoint(s) (\(bytes(t.bytes))) \(fixed(each * 1000, 1)) ms each"
            + (round > 0 ? " = \(fixed(100 * each / round, 2))% of a round; " : "; ")
    }
}
