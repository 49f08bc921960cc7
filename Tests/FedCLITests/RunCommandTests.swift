// RunCommandTests: `fednoise run` writes rounds.csv, summary.json and rounds.svg that agree with each other.
import FedCLI
import Foundation
import Testing

@Suite("fednoise run")
struct RunCommandTests {
    let smoke = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../config/smoke.json").standardized.path

    struct Summary: Decodable {
        struct Accuracy: Decodable {
            var best: Double?
            var bestRound: Int?
            var firstRoundReaching: [String: Int?]
        }
        var accuracy: Accuracy
    }

    @Test func resultFilesAgreeOnTheBestRoundAndRoundsToTarget() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fednoise-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let args = ["run", smoke, "--quiet", "--set", "model=logistic", "--set", "rounds=5",
                    "--set", "accuracyTargets=[0.5, 0.8, 0.99]", "--set", "output=\(dir.path)"]
        #expect(await FedCommandLine.run(args) == 0)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("rounds.svg").path))
        // The accuracy block of summary.json, recomputed here from rounds.csv.
        let csv = try String(contentsOf: dir.appendingPathComponent("rounds.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let column = try #require(csv[0].firstIndex(of: "test_accuracy"))
        let accuracies = try csv.dropFirst().map { try #require(Double($0[column]), "every round is evaluated") }
        #expect(accuracies.count == 5)
        let summary = try JSONDecoder().decode(
            Summary.self, from: Data(contentsOf: dir.appendingPathComponent("summary.json"))).accuracy
        let best = try #require(accuracies.max())
        #expect(summary.best == best)
        #expect(summary.bestRound == accuracies.firstIndex(of: best)! + 1)
        for (key, round) in summary.firstRoundReaching {
            let target = try #require(Double(key))
            #expect(round == accuracies.firstIndex { $0 >= target }.map { $0 + 1 }, "target \(key)")
        }
        #expect(summary.firstRoundReaching.keys.sorted() == ["0.5", "0.8", "0.99"])
        // The smoke federation passes 50% in round 1 and never reaches 99%: both outcomes are exercised.
        #expect(summary.firstRoundReaching["0.5"] == 1)
        #expect(summary.firstRoundReaching["0.99"] == .some(nil))
    }
}
