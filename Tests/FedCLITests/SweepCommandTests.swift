// SweepCommandTests: `fednoise sweep` runs one NISS federation per X and writes the table, summary and plot.
import FedCLI
import Foundation
import Testing

@Suite("fednoise sweep")
struct SweepCommandTests {
    let smoke = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../config/smoke.json").standardized.path

    struct Sweep: Decodable {
        struct Row: Decodable {
            var tau2: Double
            var finalTestAccuracy: Double?
            var meanExpectedNoiseVariance: Double
        }
        var runs: [Row]
        var accuracyFallsWithX: Bool
        var gapPoints: Double?
    }

    @Test func writesOneRunPerXAndTheSweepFiles() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fednoise-sweep-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = ["sweep", smoke, "--tau2", "0,1", "--quiet", "--set", "model=logistic", "--set", "rounds=2",
                    "--set", "output=\(dir.path)"]
        #expect(await FedCommandLine.run(args) == 0)
        for file in ["sweep.csv", "sweep.json", "sweep.svg", "X=0/rounds.csv", "X=1/summary.json"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(file).path), "\(file)")
        }
        let json = try Data(contentsOf: dir.appendingPathComponent("sweep.json"))
        let sweep = try JSONDecoder().decode(Sweep.self, from: json)
        #expect(sweep.runs.map(\.tau2) == [0, 1])
        // X = 0 cancels every share (Theorem 2: no noise left); X = 1 leaves Σ σ_k² > 0.
        #expect(sweep.runs[0].meanExpectedNoiseVariance == 0)
        #expect(sweep.runs[1].meanExpectedNoiseVariance > 0)
        let csv = try String(contentsOf: dir.appendingPathComponent("sweep.csv"), encoding: .utf8)
        #expect(csv.split(separator: "\n").count == 1 + 2 * 2)  // header + 2 rounds × 2 X values
        // --replot rebuilds the same summary from the runs on disk without running anything.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("sweep.json"))
        #expect(await FedCommandLine.run(args + ["--replot"]) == 0)
        let again = try Data(contentsOf: dir.appendingPathComponent("sweep.json"))
        #expect(again == json)
        // Bad X values are usage errors.
        #expect(await FedCommandLine.run(["sweep", smoke, "--tau2", "0,-1"]) == 2)
    }

    /// `--jobs 2` runs both X values at once (one thread each) and writes sweep.csv byte for byte as `--jobs 1`.
    @Test func concurrentRunsWriteTheSequentialTable() async throws {
        var tables: [String] = []
        for jobs in ["1", "2"] {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fednoise-sweep-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            #expect(await FedCommandLine.run(["sweep", smoke, "--tau2", "0,1", "--quiet", "--jobs", jobs, "--set",
                                              "model=logistic", "--set", "rounds=2", "--set", "output=\(dir.path)"]) == 0)
            tables.append(try String(contentsOf: dir.appendingPathComponent("sweep.csv"), encoding: .utf8))
        }
        #expect(tables[0].split(separator: "\n").count == 5)
        #expect(tables[0] == tables[1])
        #expect(await FedCommandLine.run(["sweep", smoke, "--jobs", "0"]) == 2)
    }
}
