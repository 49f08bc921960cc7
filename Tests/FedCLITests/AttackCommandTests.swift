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

@Suite struct AttackConfigTests {
    /// Every shipped attack config decodes, validates and runs (one iteration per strategy, batch 1).
    @Test func everyShippedAttackConfigRuns() async throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../config")
            .standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("attack-") }
        #expect(files.count >= 2)
        for f in files {
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("attack-cfg-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: out) }
            let status = await FedCommandLine.run(["attack", dir.appendingPathComponent(f).path, "--set", "iterations=1",
                                                   "--set", "batchSizes=[1]", "--set", "snapshots=[0,1]",
                                                   "--output", out.path, "--quiet"])
            #expect(status == 0, "\(f)")
        }
    }
}

@Suite struct AttackErrorTests {
    /// A bad value is blamed on the input that gave it.
    @Test func errorsNameTheInput() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("attack-bad-\(UUID().uuidString).json")
        try Data(#"{"iterations": 20000}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let error = try #require(captureUsageError(["attack", file.path]))
        #expect(error == "\(file.path): key 'iterations': must be in 1…10000")
        let other = try #require(captureUsageError(["attack", "--set", "dataset=cifar10"]))
        #expect(other == "--set dataset=cifar10: key 'dataset': cifar10 needs dataDirectory (the folder of its files)")
    }

    func captureUsageError(_ argv: [String]) -> String? {
        do {
            try AttackCommand.run(Array(argv.dropFirst()))
            return nil
        } catch {
            return "\(error)"
        }
    }
}
