// AttackCommandTests: `fednoise attack` writes its files, and names a bad key or value.
import FedCLI
import Foundation
import Testing

@Suite struct AttackCommandTests {
    @Test func smokeRunWritesEveryFile() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("attack-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let status = await FedCommandLine.run(["attack", "--set", "iterations=5", "--set", "snapshots=[0,5]",
                                               "--output", dir.path, "--quiet"])
        #expect(status == 0)
        for name in ["iterations.csv", "summary.json", "table.md", "figure-b1.png", "figure-b1.svg", "curves-b1.svg"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path), "\(name)")
        }
        let csv = try String(contentsOf: dir.appendingPathComponent("iterations.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 1 + 6)
    }

    @Test func badInputsAreUsageErrors() async {
        #expect(await FedCommandLine.run(["attack", "--set", "iterations=0"]) == 2)
        #expect(await FedCommandLine.run(["attack", "--set", "optimiser=adam"]) == 2)
        #expect(await FedCommandLine.run(["attack", "--set", "batchSizes=[9]"]) == 2)
    }
}
