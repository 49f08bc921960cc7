// RobustCommandTests: `fednoise robust` end to end on saved weights: robust.csv's invariants and refused inputs.
import FedCLI
import FedNN
import Foundation
import Synchronization
import Testing

@Suite struct RobustCommandTests {
    /// Runs the command line in-process; returns the status and what went to stderr.
    func run(_ args: [String]) async -> (Int32, String) {
        let errors = Mutex("")
        let sink = ConsoleCapture { text, isError in if isError { errors.withLock { $0 += text } } }
        let status = await ConsoleCapture.$current.withValue(sink) { await FedCommandLine.run(args) }
        return (status, errors.withLock { $0 })
    }

    /// robust.csv as one dictionary per row.
    func rows(_ dir: URL) throws -> [[String: String]] {
        let lines = try String(contentsOf: dir.appendingPathComponent("robust.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        return lines.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(lines[0], $0)) }
    }

    /// Trains a logistic model on 300 embedded MNIST images and saves it (about a second).
    func weights(_ dir: URL) async throws -> String {
        let file = dir.appendingPathComponent("logistic.bin").path
        let (status, message) = await run(["train", "--model", "logistic", "--epochs", "2", "--train-limit", "300",
                                           "--test-limit", "50", "--output", dir.appendingPathComponent("t").path,
                                           "--save-weights", file])
        try #require(status == 0, "\(message)")
        return file
    }

    @Test func endToEnd() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("robust-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try await weights(dir)
        for norm in ["linf", "l2"] {
            let out = dir.appendingPathComponent(norm)
            let eps = norm == "linf" ? "0,0.1,0.3" : "0,1,3"
            let (status, message) = await run(["robust", "--weights", file, "--limit", "120", "--epsilons", eps,
                                               "--norm", norm, "--steps", "5", "--batch-size", "50",
                                               "--output", out.path])
            try #require(status == 0, "\(message)")
            let r = try rows(out)
            try #require(r.count == 3)
            for row in r {
                #expect(row["examples"] == "120" && row["norm"] == norm && row["steps"] == "5")
                let clean = Double(row["clean_accuracy"]!)!, robust = Double(row["robust_accuracy"]!)!
                #expect(robust <= clean)
                #expect(Double(row["adversarial_loss"]!)! >= Double(row["clean_loss"]!)! - 1e-9)
            }
            // ε = 0: the attack cannot move the image, so it is the clean evaluation, bit for bit.
            #expect(r[0]["robust_accuracy"] == r[0]["clean_accuracy"])
            #expect(r[0]["adversarial_loss"] == r[0]["clean_loss"])
            // Negative control: a linear model on MNIST is far from robust at ε = 0.3 (L∞) or 3 (L2).
            #expect(Double(r[2]["robust_accuracy"]!)! < Double(r[2]["clean_accuracy"]!)! - 0.3, "\(r[2])")
            #expect(Double(r[1]["robust_accuracy"]!)! >= Double(r[2]["robust_accuracy"]!)!)
            #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("robust-vs-epsilon.svg").path))
        }
        // FGSM: one step, no random start; still never above clean.
        let fgsm = dir.appendingPathComponent("fgsm")
        let (status, message) = await run(["robust", "--weights", file, "--limit", "60", "--attack", "fgsm",
                                           "--epsilons", "0.2", "--output", fgsm.path])
        try #require(status == 0, "\(message)")
        let f = try rows(fgsm)[0]
        #expect(f["steps"] == "1" && Double(f["robust_accuracy"]!)! < Double(f["clean_accuracy"]!)!)
    }

    @Test func refusesForeignOrBrokenWeightsAndBadFlags() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("robust-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = try await weights(dir)
        let out = ["--output", dir.appendingPathComponent("o").path, "--limit", "10"]
        let (wrong, message) = await run(["robust", "--weights", file, "--model", "mlp"] + out)
        #expect(wrong == 2)
        #expect(message.contains("--weights") && message.contains(file) && message.contains("'logistic'")
                && message.contains("'mlp'"), "\(message)")

        let cut = dir.appendingPathComponent("cut.bin").path
        try Data(try Data(contentsOf: URL(fileURLWithPath: file)).prefix(100)).write(to: URL(fileURLWithPath: cut))
        let (truncated, why) = await run(["robust", "--weights", cut] + out)
        #expect(truncated == 2)
        #expect(why.contains(cut) && why.contains("byte ") && why.contains("truncated"), "\(why)")

        let (missing, none) = await run(["robust", "--weights", dir.appendingPathComponent("nope.bin").path] + out)
        #expect(missing == 2 && none.contains("nope.bin"), "\(none)")
        let (noWeights, need) = await run(["robust"] + out)
        #expect(noWeights == 2 && need.contains("--weights"), "\(need)")
        let (badEps, eps) = await run(["robust", "--weights", file, "--epsilons", "0,x"] + out)
        #expect(badEps == 2 && eps.contains("--epsilons") && eps.contains("'x'"), "\(eps)")
        let (fgsmSteps, steps) = await run(["robust", "--weights", file, "--attack", "fgsm", "--steps", "3"] + out)
        #expect(fgsmSteps == 2 && steps.contains("--steps"), "\(steps)")
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("o/robust.csv").path))
    }
}
