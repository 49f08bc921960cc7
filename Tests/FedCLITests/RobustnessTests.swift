// RobustnessTests: what the bad-input fixes must still allow (positive controls), and the fixes the corpus cannot
// show by a status alone: extreme plots render, B > n trains as B = n, replot refuses foreign runs.
import FedCLI
import FedRuntime
import FedTensor
import Foundation
import Testing

@Suite("CLI robustness: positive controls and regressions")
struct RobustnessTests {
    let smoke = CorpusCase.configDirectory + "/smoke.json"

    func temporary() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fednoise-robust-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    func run(_ args: [String], env: [String: String] = [:]) async throws -> CorpusCase.Outcome {
        try await CorpusCase(name: "", arguments: args, environment: env, status: 0, mentions: []).run()
    }

    @Test func threadCountFromTheEnvironment() throws {
        #expect(try ComputeThreads.fromEnvironment([:]) == nil)
        #expect(try ComputeThreads.fromEnvironment(["FEDNOISE_THREADS": "2"]) == 2)
        #expect(try ComputeThreads.fromEnvironment(["FEDNOISE_THREADS": "1024"]) == 1024)
        for bad in ["abc", "0", "-3", "1.5", "", "1025"] {
            #expect(throws: InvalidThreadCount(text: bad)) { try ComputeThreads.fromEnvironment(["FEDNOISE_THREADS": bad]) }
        }
    }

    @Test func plotOfValuesNear1e308RendersFiniteCoordinates() async throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("round,test_accuracy\n1,1e308\n2,-1e308\n3,1.7e308\n".utf8).write(to: dir.appendingPathComponent("a.csv"))
        let svg = dir.appendingPathComponent("a.svg").path
        let outcome = try await run(["plot", dir.appendingPathComponent("a.csv").path, "--output", svg])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(!text.lowercased().contains("nan") && !text.contains("inf"))
        #expect(text.contains("<polyline"))
        // A single value (no span) renders too, and CRLF files read like LF ones.
        try Data("round,test_accuracy\r\n1,1e308\r\n".utf8).write(to: dir.appendingPathComponent("b.csv"))
        let single = try await run(["plot", dir.appendingPathComponent("b.csv").path, "--output", svg])
        #expect(single.status == 0, "\(single.stderr)")
        #expect(!(try String(contentsOfFile: svg, encoding: .utf8)).lowercased().contains("nan"))
    }

    /// `train` with B larger than the data trains with B = n (one batch, the same order): the same losses.
    @Test func trainBatchLargerThanTheDataEqualsTheWholeData() async throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        func losses(_ batch: Int) async throws -> [String] {
            let out = dir.appendingPathComponent("b\(batch)").path
            let o = try await run(["train", "--model", "logistic", "--epochs", "2", "--train-limit", "100",
                                   "--test-limit", "50", "--batch-size", "\(batch)", "--output", out])
            #expect(o.status == 0, "\(o.stderr)")
            let csv = try String(contentsOfFile: out + "/epochs.csv", encoding: .utf8).split(separator: "\n")
            return csv.dropFirst().map { $0.split(separator: ",").prefix(5).joined(separator: ",") }
        }
        let whole = try await losses(100), huge = try await losses(65_536), half = try await losses(50)
        #expect(whole.count == 2)
        #expect(whole == huge)
        #expect(whole != half, "negative control: a real change of B changes the run")
    }

    @Test func nissPreflightBoundIsTheOneItNames() async throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = ["run", smoke, "--quiet", "--set", "rounds=1", "--set", "model=logistic", "--set",
                    "strategy.kind=niss", "--set", "deadlineSeconds=60", "--set", "output=\(dir.path)"]
        let refused = try await run(base + ["--set", "strategy.niss.unitNoiseVariance=1e-9"])
        #expect(refused.status == 2)
        let suggested = try #require(refused.stderr.split(separator: "σ² ≥ ").last.flatMap {
            Double($0.prefix { !$0.isWhitespace && $0 != "\n" })
        }, "\(refused.stderr)")
        let accepted = try await run(base + ["--set", "strategy.niss.unitNoiseVariance=\(suggested * 1.01)"])
        #expect(accepted.status == 0, "\(accepted.stderr)")
        let below = try await run(base + ["--set", "strategy.niss.unitNoiseVariance=\(suggested * 0.99)"])
        #expect(below.status == 2, "just below the named bound is refused")
    }

    @Test func nobodyAnsweredTellsRoundsApart() throws {
        func report(sampled: [Int], dropped: [Int], skipped: Bool = false) throws -> RoundReport {
            let json = """
            {"round": 1, "sampled": \(sampled), "dropped": \(dropped), "meanTrainLoss": 0, "noiseStds": [],
             "expectedNoiseVariance": 0, "seconds": 0, "weightsDigest": "", "skipped": \(skipped),
             "uploadNoiseVariances": [], "attempts": 1}
            """
            return try JSONDecoder().decode(RoundReport.self, from: Data(json.utf8))
        }
        #expect(RoundAnswers.nobodyAnswered(try report(sampled: [1, 2], dropped: [2, 1])))
        #expect(RoundAnswers.nobodyAnswered(try report(sampled: [1, 2], dropped: [], skipped: true)))
        #expect(!RoundAnswers.nobodyAnswered(try report(sampled: [1, 2], dropped: [2])))
        #expect(!RoundAnswers.nobodyAnswered(try report(sampled: [1, 2], dropped: [])))
    }

    @Test func replotRefusesRunsOfAnotherConfiguration() async throws {
        let dir = try temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let sets = ["--set", "rounds=1", "--set", "model=logistic", "--set", "deadlineSeconds=60",
                    "--set", "output=\(dir.path)"]
        let ran = try await run(["sweep", smoke, "--quiet", "--tau2", "0"] + sets)
        #expect(ran.status == 0, "\(ran.stderr)")
        let same = try await run(["sweep", smoke, "--replot", "--tau2", "0,1"] + sets)
        #expect(same.status == 0, "\(same.stderr)")
        #expect(same.stdout.contains("no summary for X = 1"))
        #expect(same.stdout.contains("gap X = 0 over X = 0"), "the gap names only X values that ran")
        let other = try await run(["sweep", smoke, "--replot", "--tau2", "0"] + sets + ["--set", "seed=8"])
        #expect(other.status == 2)
        #expect(other.stderr.contains("X=0/summary.json") && other.stderr.contains("seed"), "\(other.stderr)")
    }

    @Test func adjacentClientRangesAreAccepted() throws {
        let c = try RunCommand.loadConfiguration(smoke, overrides: [
            "strategy.kind=dpFedAvg",
            #"strategy.dp.clientBudgets=[{"from":0,"to":3,"epsilon":1,"delta":1e-5},{"from":4,"to":9,"epsilon":2,"delta":1e-5}]"#,
        ])
        #expect(c.strategy.dp.clientBudgets.count == 2)
    }
}
