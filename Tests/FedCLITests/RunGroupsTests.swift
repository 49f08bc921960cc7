// RunGroupsTests: `fednoise run` writes groups.csv for the final global model, consistent with its test accuracy.
import FedCLI
import FedData
import FedRuntime
import FedTestKit
import Foundation
import Testing

@Suite struct RunGroupsTests {
    /// The smoke federation (embedded MNIST): groups.csv has one row per class, the counts sum to the test set and the
    /// count-weighted per-class accuracy equals the summary's final test accuracy (computed by the runtime's own
    /// evaluation, an independent path).
    @Test func groupsCSVMatchesTheFinalAccuracy() async throws {
        var config = try RunCommand.loadConfiguration(NoiseScaleTests.smoke, overrides: ["rounds=2"])
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        config.output = dir.file("run").path
        let summary = try await RunCommand.execute(config, quiet: true)
        let csv = try String(contentsOf: dir.file("run").appendingPathComponent("groups.csv"), encoding: .utf8)
        let rows = csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
        #expect(rows.count == 10)
        let counts = rows.map { Int($0[1])! }, accuracies = rows.map { Double($0[2])! }
        let total = counts.reduce(0, +)
        #expect(total > 0 && accuracies.allSatisfy { $0 >= 0 && $0 <= 1 })
        let weighted = zip(counts, accuracies).reduce(0.0) { $0 + Double($1.0) * $1.1 } / Double(total)
        let final = try #require(summary.finalTestAccuracy)
        #expect(abs(weighted - final) < 1e-9, "\(weighted) vs \(final)")
    }

    /// dataset.minorityClass 3 at 10%: the clients together keep round(0.1·n₃) of class 3's training examples and
    /// every other example (checked against the labels of the loaded training set); a bad class or fraction is
    /// named by its key path.
    @Test func minorityClassIsSubsampledAcrossClients() async throws {
        var config = try RunCommand.loadConfiguration(NoiseScaleTests.smoke,
                                                      overrides: ["dataset.minorityClass=3", "dataset.minorityFraction=0.1"])
        var (trainSet, testSet) = try DatasetLoader.embeddedMNIST()
        trainSet = trainSet.subset(indices: 0..<600)  // the smoke config's dataset.trainLimit
        testSet = testSet.subset(indices: 0..<200)
        let (train, test) = (DatasetSamples(trainSet), DatasetSamples(testSet))
        let federation = try Federation(configuration: config, train: train, test: test)
        let kept = federation.partitions.flatMap { $0 }
        let n3 = train.labels.filter { $0 == 3 }.count
        #expect(kept.filter { train.labels[$0] == 3 }.count == Int((0.1 * Double(n3)).rounded()))
        #expect(kept.filter { train.labels[$0] != 3 }.count == train.sampleCount - n3)
        #expect(Set(kept).count == kept.count)
        config.dataset.minorityClass = 10
        #expect(throws: ConfigurationError.self) { try Federation(configuration: config, train: train, test: test) }
        #expect(throws: (any Error).self) {
            try RunCommand.loadConfiguration(NoiseScaleTests.smoke, overrides: ["dataset.minorityFraction=0.5"])
        }
    }
}
