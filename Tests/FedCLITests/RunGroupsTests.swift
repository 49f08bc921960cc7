// RunGroupsTests: `fednoise run` writes groups.csv for the final global model, consistent with its test accuracy.
import FedCLI
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
}
