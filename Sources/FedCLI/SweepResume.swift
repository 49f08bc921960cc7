// SweepResume: what `fednoise sweep --resume` keeps of an interrupted sweep, and what a fresh sweep clears.
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
}
