// GroupMetricsTests: group accuracy, worst group, gap and disparate impact on hand-made confusion tables.
import FedNN
import FedTensor
import Testing

@Suite struct GroupMetricsTests {
    /// confusion[true][predicted]: class 0 has 55 examples (50 right), class 1 has 20 (16), class 2 has 5 (3).
    let nonDP = [[50, 3, 2], [4, 16, 0], [1, 1, 3]]
    /// Under DP: class 0 keeps 48/55, class 1 15/20, class 2 drops to 1/5.
    let dp = [[48, 5, 2], [4, 15, 1], [1, 3, 1]]

    @Test func summariesOfAHandMadeTable() throws {
        let r = GroupReport(confusion: nonDP)
        #expect(r.groups.map(\.count) == [55, 20, 5])
        #expect(r.groups.map(\.correct) == [50, 16, 3])
        #expect(r.accuracy == 69.0 / 80)
        let worst = try #require(r.worstGroup)
        #expect(worst.group == 2 && worst.accuracy == 0.6)
        #expect(r.majority == 0 && r.minority == 2)
        #expect(abs(r.gap(majority: 0, minority: 2) - (50.0 / 55 - 0.6)) < 1e-15)
        // (0.6 − 0.2) − (50/55 − 48/55) = 0.4 − 2/55: DP costs the minority 36 points more.
        let di = disparateImpact(nonDP: r, dp: GroupReport(confusion: dp), majority: 0, minority: 2)
        #expect(abs(di - (0.4 - 2.0 / 55)) < 1e-15)
        // Negative control: DP with the same drop in every group has no disparate impact.
        let even = GroupReport(groups: r.groups.map { GroupTally(count: $0.count, correct: $0.correct, lossSum: 0) })
        #expect(disparateImpact(nonDP: r, dp: even, majority: 0, minority: 2) == 0)
    }

    /// Per-example outcomes laid out like the table tally to the same counts; losses average per group; empty
    /// groups are NaN and ignored by the summaries.
    @Test func perExampleTallyAgreesWithTheTable() {
        var group: [Int] = [], correct: [Bool] = [], loss: [Double] = []
        for (c, row) in nonDP.enumerated() {
            for (p, n) in row.enumerated() {
                for _ in 0..<n {
                    group.append(c)
                    correct.append(c == p)
                    loss.append(c == p ? 0.5 : 2.0)
                }
            }
        }
        let r = GroupReport(groupCount: 4, group: group, correct: correct, loss: loss)
        #expect(Array(r.groups.prefix(3)) == GroupReport(confusion: nonDP).groups.enumerated().map {
            GroupTally(count: $1.count, correct: $1.correct, lossSum: Double($1.correct) * 0.5 + Double($1.count - $1.correct) * 2)
        })
        #expect(r.groups[2].meanLoss == (3 * 0.5 + 2 * 2.0) / 5)
        #expect(r.groups[3].accuracy.isNaN && r.minority == 2 && r.worstGroup?.group == 2)
    }

    /// evaluateExamples against the independent `evaluate`: same mean loss and accuracy on the same data.
    @Test func perExampleEvaluationAgreesWithEvaluate() throws {
        let network = try ModelKind.mlp.network(inputShape: [4, 4, 1], classes: 3)
        let p = network.initialParameters(key: StreamKey(seed: 2))
        var rng = Philox(StreamKey(seed: 3))
        let data = ArraySamples(pixels: (0..<(50 * 16)).map { _ in Float(rng.nextGaussian()) },
                                labels: (0..<50).map { Int32($0 % 3) }, sampleShape: [4, 4, 1], classCount: 3)
        let ws = Workspace(network: network, capacity: 16)
        let e = evaluateExamples(network, parameters: p, on: data, workspace: ws)
        let reference = evaluate(network, parameters: p, on: data, workspace: ws)
        let correct = zip(e.labels, e.predictions).filter { $0 == $1 }.count
        #expect(Double(correct) / 50 == reference.accuracy)
        #expect(abs(e.losses.reduce(0, +) / 50 - reference.loss) <= 1e-12 * reference.loss)
        #expect(e.labels == data.labels)
    }
}
