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
    }
}
