// GroupMetrics: per-group accuracy and loss, worst-group accuracy, majority–minority gap and DP's disparate impact.
import FedTensor

/// Counts of one group's examples (a class, or a class × subpopulation cell).
public struct GroupTally: Sendable, Equatable, Codable {
    public var count = 0
    public var correct = 0
    public var lossSum = 0.0

    public init(count: Int = 0, correct: Int = 0, lossSum: Double = 0) {
        self.count = count
        self.correct = correct
        self.lossSum = lossSum
    }

    /// correct / count (NaN for an empty group).
    public var accuracy: Double { count > 0 ? Double(correct) / Double(count) : .nan }
    public var meanLoss: Double { count > 0 ? lossSum / Double(count) : .nan }
}

/// Per-group results of one model on one labelled set (spec C.1 item 5; Bagdasaryan et al. 2019). Groups are numbered
/// 0..<groups.count; empty groups are kept (their accuracy is NaN) and skipped by the summaries.
public struct GroupReport: Sendable, Equatable, Codable {
    public var groups: [GroupTally]

    public init(groups: [GroupTally]) { self.groups = groups }

    /// Tallies per-example outcomes: example i is in group `group[i]`, classified right or not, with its loss.
    public init(groupCount: Int, group: [Int], correct: [Bool], loss: [Double]) {
        precondition(group.count == correct.count && group.count == loss.count, "GroupReport: lengths differ")
        var t = [GroupTally](repeating: GroupTally(), count: groupCount)
        for i in group.indices {
            let g = group[i]
            precondition(g >= 0 && g < groupCount, "group \(g) outside 0..<\(groupCount)")
            t[g].count += 1
            t[g].correct += correct[i] ? 1 : 0
            t[g].lossSum += loss[i]
        }
        groups = t
    }

    /// Per-class results from a confusion table, `confusion[true class][predicted class]` (losses unknown: 0).
    public init(confusion: [[Int]]) {
        groups = confusion.enumerated().map { c, row in
            GroupTally(count: row.reduce(0, +), correct: row[c], lossSum: 0)
        }
    }

    var nonEmpty: [Int] { groups.indices.filter { groups[$0].count > 0 } }

    /// Accuracy over all examples (count-weighted).
    public var accuracy: Double {
        let n = groups.reduce(0) { $0 + $1.count }
        return n > 0 ? Double(groups.reduce(0) { $0 + $1.correct }) / Double(n) : .nan
    }

    /// The lowest accuracy of a non-empty group, and which group (nil when all are empty).
    public var worstGroup: (group: Int, accuracy: Double)? {
        nonEmpty.map { ($0, groups[$0].accuracy) }.min { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
    }

    /// The largest and the smallest non-empty group by count (ties: the lower index), the roles of the
    /// majority–minority gap.
    public var majority: Int? { nonEmpty.max { groups[$0].count < groups[$1].count || (groups[$0].count == groups[$1].count && $0 > $1) } }
    public var minority: Int? { nonEmpty.min { groups[$0].count < groups[$1].count || (groups[$0].count == groups[$1].count && $0 < $1) } }

    /// acc(majority) − acc(minority).
    public func gap(majority: Int, minority: Int) -> Double { groups[majority].accuracy - groups[minority].accuracy }
}

/// The disparate impact of DP (spec C.1 item 5): (acc_nonDP − acc_DP) of the minority group minus the same
/// difference of the majority group. Positive: DP costs the minority more accuracy than the majority.
public func disparateImpact(nonDP: GroupReport, dp: GroupReport, majority: Int, minority: Int) -> Double {
    let drop = { (g: Int) in nonDP.groups[g].accuracy - dp.groups[g].accuracy }
    return drop(minority) - drop(majority)
}

/// Per-example loss, prediction and label of `parameters` on `indices` of `data` (all if nil), in batches of the
/// workspace's capacity; the loss is softmax cross-entropy of each example alone.
public func evaluateExamples(
    _ network: Network, parameters: [Float], on data: some SampleSource, indices: [Int]? = nil, workspace: Workspace
) -> (labels: [Int32], predictions: [Int32], losses: [Double]) {
    let all = indices ?? Array(0..<data.sampleCount)
    let k = network.outputSize
    var labels = [Int32](repeating: 0, count: all.count), predictions = labels
    var losses = [Double](repeating: 0, count: all.count)
    forEachEvaluationBatch(parameters: parameters, on: data, indices: all, workspace: workspace) { lo, n, batchLabels in
        for r in 0..<n {
            let row = workspace.output + r * k
            var best = 0
            for j in 1..<k where row[j] > row[best] { best = j }
            labels[lo + r] = batchLabels[r]
            predictions[lo + r] = Int32(best)
            losses[lo + r] = softmaxCrossEntropy(logits: row, labels: batchLabels + r, batch: 1, classes: k,
                                                 gradient: nil).lossSum
        }
    }
    return (labels, predictions, losses)
}
