// PrivacyLedgerCLITests: `privacy --json` at full precision; a run's clients_privacy.csv, rounds.csv and summary.json agree.
import FedCLI
import FedPrivacy
import Foundation
import Synchronization
import Testing

@Suite("Per-client privacy in the CLI", .serialized)
struct PrivacyLedgerCLITests {
    let smoke = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../config/smoke.json").standardized.path

    /// Runs the command line in-process; returns (status, stdout).
    static func run(_ args: [String]) async -> (Int32, String) {
        let out = Mutex("")
        let sink = ConsoleCapture { text, isError in if !isError { out.withLock { $0 += text } } }
        let status = await ConsoleCapture.$current.withValue(sink) { await FedCommandLine.run(args) }
        return (status, out.withLock { $0 })
    }

    @Test func privacyJSONPrintsTheAccountantsBitsAndOpacussValue() async throws {
        let (status, out) = await Self.run(["privacy", "--json", "--noise-multiplier", "1.5", "--sample-rate", "0.04",
                                            "--steps", "2250", "--delta", "1e-5"])
        #expect(status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        let epsilon = try #require(object["epsilon"] as? Double)
        var accountant = RDPAccountant()
        try accountant.step(noiseMultiplier: 1.5, sampleRate: 0.04, count: 2250)
        #expect(epsilon == (try accountant.epsilon(delta: 1e-5).epsilon))  // every bit, not 6 digits
        #expect(abs(epsilon - 7.32911117143) < 1e-9 * 7.33)
        #expect(object["mode"] as? String == "epsilon")
        let (gStatus, gOut) = await Self.run(["privacy", "--json", "--gaussian", "--epsilon", "1", "--sensitivity", "1"])
        #expect(gStatus == 0)
        let g = try #require(try JSONSerialization.jsonObject(with: Data(gOut.utf8)) as? [String: Any])
        #expect(g["analyticSigma"] as? Double
                == (try GaussianMechanism.analyticSigma(epsilon: 1, delta: 1e-5, sensitivity: 1)))
    }

    @Test func clientsPrivacyCSVRoundsCSVAndSummaryAgreeAndTheBudgetStopIsKept() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fednoise-ledger-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        // ε = 10 per round, δ = 1e-4: one release costs 11.52, two 18.06; a total of 20 allows two rounds' worth.
        let (status, out) = await Self.run([
            "run", smoke, "--set", "strategy.kind=dpFedAvg", "--set", "rounds=6", "--set", "model=logistic",
            "--set", "strategy.dp.totalEpsilon=20", "--set", "strategy.dp.budgetPolicy=stop",
            "--set", "output=\(dir.path)", "--allow-divergence"])
        #expect(status == 0)
        #expect(out.contains("client-level ε"))
        let rounds = try String(contentsOf: dir.appendingPathComponent("rounds.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let column = try #require(rounds[0].firstIndex(of: "epsilon_worst_client"))
        #expect(rounds[0].last == "epsilon_worst_example" && column == rounds[0].count - 2)
        let clients = try String(contentsOf: dir.appendingPathComponent("clients_privacy.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",") }
        #expect(clients[0] == ["round", "client", "rounds_participated", "epsilon"])
        #expect(rounds.count - 1 < 6, "the budget stopped the run early")
        for row in rounds.dropFirst() {
            let worst = clients.dropFirst().filter { $0[0] == row[0] }.compactMap { Double($0[3]) }.max()
            #expect(worst == Double(row[column]), "round \(row[0])")
            #expect(try #require(worst) <= 20)
        }
        struct Document: Decodable { var warnings: [String] }
        let summary = try JSONDecoder().decode(Document.self,
                                               from: Data(contentsOf: dir.appendingPathComponent("summary.json")))
        #expect(summary.warnings.contains { $0.hasPrefix("privacy budget:") })
        #expect(out.contains("warning: privacy budget:"))
    }

    @Test func analyticCalibrationReachesTheUploadsThroughTheConfigKey() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fednoise-analytic-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        // smoke: 600 samples over 10 clients, 5 a round, so p_k = 60/300; ζ = 3, ε = 10, δ = 1e-4 per round.
        let (status, _) = await Self.run([
            "run", smoke, "--quiet", "--set", "strategy.kind=dpFedAvg", "--set", "rounds=1", "--set", "model=logistic",
            "--set", "strategy.dp.calibration=analytic", "--set", "output=\(dir.path)", "--allow-divergence"])
        #expect(status == 0)
        let rows = try String(contentsOf: dir.appendingPathComponent("rounds.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        let column = try #require(rows[0].firstIndex(of: "sigma_max"))
        let sigma = try #require(Double(rows[1][column]))
        let analytic = try GaussianMechanism.analyticSigma(epsilon: 10, delta: 1e-4, sensitivity: 3 * (60.0 / 300))
        #expect(sigma == analytic)
        // Negative control: the classical default gives c(δ)·p_k·ζ/ε, a different σ.
        #expect(abs(sigma - (try GaussianMechanism.sigma(epsilon: 10, delta: 1e-4, sensitivity: 3 * (60.0 / 300))))
                > 1e-3 * sigma)
    }
}
