// FairnessCommandTests: `fednoise fairness --quick` writes every file with the expected rows; bad flags are named.
import FedCLI
import Foundation
import Testing

@Suite struct FairnessCommandTests {
    @Test func quickStudyWritesItsFiles() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fairness-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let status = await FedCommandLine.run(["fairness", "--quick", "--output", dir.path])
        #expect(status == 0)
        for name in ["runs.csv", "fnr.csv", "finetune.csv", "claims.md", "loss-vs-fnr.svg", "accuracy-vs-sigma.svg",
                     "robust-vs-sigma.svg", "finetune-vs-theta.svg"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path), "\(name)")
        }
        // Quick grid: 1 tail norm × 2 σ, 4 groups each; 2 angles.
        let runs = try String(contentsOf: dir.appendingPathComponent("runs.csv"), encoding: .utf8)
        let rows = runs.split(separator: "\n")
        #expect(rows.count == 1 + 8)
        // σ = 0 has no ε and its disparate impact against itself is 0.
        #expect(rows.dropFirst().filter { $0.hasPrefix("0.0,") }.allSatisfy { $0.hasSuffix(",0.0") && $0.contains(",inf,") })
        let finetune = try String(contentsOf: dir.appendingPathComponent("finetune.csv"), encoding: .utf8)
        #expect(finetune.split(separator: "\n").count == 3)
        let claims = try String(contentsOf: dir.appendingPathComponent("claims.md"), encoding: .utf8)
        #expect(claims.split(separator: "\n").filter { $0.hasPrefix("| ") }.count == 7)  // header, rule, 5 claims
    }

    @Test func badFlagsAreUsageErrors() async {
        #expect(await FedCommandLine.run(["fairness", "--steps", "0"]) == 2)
        #expect(await FedCommandLine.run(["fairness", "--frobnicate"]) == 2)
        #expect(await FedCommandLine.run(["fairness", "--seeds", "1,x"]) == 2)
        #expect(await FedCommandLine.run(["fairness", "--seeds", "1,1"]) == 2)
        #expect(await FedCommandLine.run(["fairness", "--seed", "1", "--seeds", "2,3"]) == 2)
    }

    /// --seeds: one folder per seed whose files are the single-seed run's bit for bit, and claims over the seeds.
    @Test func seedsAggregateTheClaims() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fairness-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let multi = dir.appendingPathComponent("multi"), single = dir.appendingPathComponent("single")
        #expect(await FedCommandLine.run(["fairness", "--quick", "--seeds", "3,5", "--output", multi.path]) == 0)
        #expect(await FedCommandLine.run(["fairness", "--quick", "--seed", "5", "--output", single.path]) == 0)
        for name in ["runs.csv", "claims.md", "mitigations.csv"] {
            let a = try Data(contentsOf: multi.appendingPathComponent("seed-5/\(name)"))
            #expect(a == (try Data(contentsOf: single.appendingPathComponent(name))), "\(name)")
        }
        #expect(FileManager.default.fileExists(atPath: multi.appendingPathComponent("seed-3/runs.csv").path))
        let claims = try String(contentsOf: multi.appendingPathComponent("claims.md"), encoding: .utf8)
        let rows = claims.split(separator: "\n").filter { $0.hasPrefix("| ") }
        #expect(rows.count == 7 && rows.dropFirst(2).allSatisfy { $0.contains(" of 2 seeds |") || $0.contains("not ") })
        // seeds.csv: the same statistics for each seed; the mean in claims.md is theirs.
        let csv = try String(contentsOf: multi.appendingPathComponent("seeds.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { $0.split(separator: ",").map(String.init) }
        let three = csv.filter { $0[0] == "3" }, five = csv.filter { $0[0] == "5" }
        #expect(!three.isEmpty && three.map { $0[2] } == five.map { $0[2] })
        let adv = csv.filter { $0[2] == "spearman_sigma_vs_adversarial_loss_increase" }.map { Double($0[3])! }
        try #require(adv.count == 2)
        let mean = (adv[0] + adv[1]) / 2
        #expect(claims.contains("spearman_sigma_vs_adversarial_loss_increase = \(String(format: "%.3f", mean))"))
    }
}
