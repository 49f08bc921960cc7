// TrainCommand+Groups: `fednoise train`'s class imbalance option and its per-class report (groups.csv).
import FedData
import FedNN
import FedTensor
import Foundation

extension TrainCommand {
    static let groupsHelp = """
      --minority-class C   keep only --minority-fraction of class C's training examples (seeded by --seed),
                           every other example kept: the imbalanced sets of the DP fairness study
      --minority-fraction F  in (0, 1] (default 1: no subsampling; spec C.2 uses 0.5, 0.1, 0.01)
                           Every run writes groups.csv: per-class test accuracy and loss, worst class, gap.
    """

    static func applyGroupFlags(_ args: inout Arguments, to c: inout TrainConfiguration,
                                note given: inout [String: String]) throws(UsageError) {
        if let v = try args.int("minority-class", in: 0...999) { c.minorityClass = v; given["minorityClass"] = "minority-class" }
        if let v = try args.double("minority-fraction") { c.minorityFraction = v; given["minorityFraction"] = "minority-fraction" }
    }

    /// The training indices after the imbalance option (all of them without it).
    static func trainingIndices(_ config: TrainConfiguration, _ train: some SampleSource) throws -> [Int] {
        guard let c = config.minorityClass else {
            if config.minorityFraction != 1 {
                throw UsageError("minorityFraction: needs minorityClass (--minority-class)")
            }
            return Array(0..<train.sampleCount)
        }
        guard config.minorityFraction > 0 && config.minorityFraction <= 1 else {
            throw UsageError("minorityFraction (--minority-fraction): must be in (0, 1], got \(config.minorityFraction)")
        }
        guard c < train.classCount else {
            throw UsageError("minorityClass (--minority-class): \(c) is not a class of the data (0…\(train.classCount - 1))")
        }
        let kept = ClassSubsampling.indices(labels: train.labels, minorityClass: c, fraction: config.minorityFraction,
                                            key: StreamKey(seed: config.seed, 0x494D_4241))  // "IMBA"
        say("class \(c) subsampled to \(config.minorityFraction): \(kept.count.formatted()) of "
              + "\(train.sampleCount.formatted()) training examples kept")
        return kept
    }

    /// groups.csv: per-class test accuracy and loss; prints the worst class and the majority–minority gap.
    static func writeGroupReport(_ config: TrainConfiguration, _ network: Network, _ parameters: [Float],
                                 test: some SampleSource, workspace: Workspace) throws {
        let e = evaluateExamples(network, parameters: parameters, on: test, workspace: workspace)
        let report = GroupReport(groupCount: test.classCount, group: e.labels.map { Int($0) },
                                 correct: zip(e.labels, e.predictions).map { $0 == $1 }, loss: e.losses)
        var csv = "class,count,accuracy,loss\n"
        for (c, t) in report.groups.enumerated() { csv += "\(c),\(t.count),\(t.accuracy),\(t.meanLoss)\n" }
        try csv.write(to: URL(fileURLWithPath: config.output).appendingPathComponent("groups.csv"), atomically: true,
                      encoding: .utf8)
        if let worst = report.worstGroup {
            var line = "worst class \(worst.group): \(percent(worst.accuracy))"
            if let m = config.minorityClass, let major = report.majority, m != major {
                line += "; minority class \(m) \(percent(report.groups[m].accuracy)), gap to class \(major) "
                    + "\(fixed(report.gap(majority: major, minority: m) * 100, 2)) points"
            }
            say(line)
        }
    }
}
