// RunGroups: `fednoise run`'s per-class evaluation of the final global model (groups.csv), as `train` writes it.
import FedData
import FedNN
import FedTensor
import Foundation

extension RunCommand {
    /// groups.csv (class, count, accuracy, loss) for the final global model on the test set; prints the worst class
    /// and the gap between the largest and the smallest test class (spec C.1 item 8: group metrics on the global
    /// model against a held-out, group-labelled test set). The per-class counts sum to the test set and their
    /// count-weighted accuracy is the run's final test accuracy.
    static func writeGroupReport(network: Network, weights: [Float], test: some SampleSource, folder: String,
                                 tag: String) throws {
        let workspace = Workspace(network: network, capacity: min(256, max(1, test.sampleCount)))
        let e = evaluateExamples(network, parameters: weights, on: test, workspace: workspace)
        let report = GroupReport(groupCount: test.classCount, group: e.labels.map { Int($0) },
                                 correct: zip(e.labels, e.predictions).map { $0 == $1 }, loss: e.losses)
        var csv = "class,count,accuracy,loss\n"
        for (c, t) in report.groups.enumerated() { csv += "\(c),\(t.count),\(t.accuracy),\(t.meanLoss)\n" }
        try csv.write(to: URL(fileURLWithPath: folder).appendingPathComponent("groups.csv"), atomically: true,
                      encoding: .utf8)
        guard let worst = report.worstGroup else { return }
        var line = "[\(tag)] global model per class (groups.csv): worst class \(worst.group) \(percent(worst.accuracy))"
        if let major = report.majority, let minor = report.minority, major != minor {
            line += "; largest test class \(major) − smallest \(minor): "
                + "\(fixed(report.gap(majority: major, minority: minor) * 100, 2)) points"
        }
        say(line)
    }
}
