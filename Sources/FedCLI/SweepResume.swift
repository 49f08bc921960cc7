// SweepResume: one X run of `fednoise sweep` (kept, resumed or fresh), and what a fresh sweep clears.
import FedRuntime
import Foundation

extension SweepCommand {
    /// The summary of X's run in `dir` if it finished (status "complete") with `base`'s configuration; nil if it
    /// is missing or was interrupted; an error if it belongs to another configuration.
    static func finishedRun(_ x: Double, in dir: URL, matching base: FederationConfiguration) throws
        -> FederationSummary?
    {
        struct Status: Decodable { var status: String? }
        let file = dir.appendingPathComponent("X=\(label(x))/summary.json")
        guard let data = try? Data(contentsOf: file),
              (try? JSONDecoder().decode(Status.self, from: data))?.status == "complete" else { return nil }
        return try readSummaries([x], in: dir, matching: base).first?.1
    }

    /// An older sweep's table must not pass for this one's (each X run clears its own files).
    static func removeStaleTable(in output: URL) {
        for file in ["sweep.csv", "sweep.json", "sweep.svg"] {
            try? FileManager.default.removeItem(at: output.appendingPathComponent(file))
        }
    }

    /// X's run: kept when `resume` finds it complete, resumed from its checkpoint, or run afresh.
    static func runOne(_ i: Int, _ x: Double, of count: Int, base: FederationConfiguration, output: URL, resume: Bool,
                       quiet: Bool, allowDivergence: Bool, stop: StopRequest?) async throws -> FederationSummary {
        var config = base
        config.strategy.niss.tau2 = x
        config.output = output.appendingPathComponent("X=\(label(x))").path
        if resume, let done = try finishedRun(x, in: output, matching: base) {
            say("[\(base.name)] sweep \(i + 1)/\(count): X = τ² = \(label(x)) finished before: kept")
            return done
        }
        let fromCheckpoint = resume && FileManager.default.fileExists(atPath: CheckpointFile.url(
            in: config.output).path)
        say("[\(base.name)] sweep \(i + 1)/\(count): X = τ² = \(label(x))" + (fromCheckpoint ? " (resumed)" : ""))
        return try await RunCommand.execute(config, quiet: quiet, label: "\(base.name) X=\(label(x))",
                                            allowDivergence: allowDivergence, resume: fromCheckpoint, stop: stop)
    }
}
