// TrainWeightsTests: `fednoise train --save-weights` writes a loadable file; `--init-from` refuses foreign or broken ones.
import FedCLI
import FedNN
import Foundation
import Synchronization
import Testing

@Suite struct TrainWeightsTests {
    /// Runs the command line in-process; returns the status and what went to stderr.
    func run(_ args: [String]) async -> (Int32, String) {
        let errors = Mutex("")
        let sink = ConsoleCapture { text, isError in if isError { errors.withLock { $0 += text } } }
        let status = await ConsoleCapture.$current.withValue(sink) { await FedCommandLine.run(args) }
        return (status, errors.withLock { $0 })
    }

    @Test func saveThenInitFrom() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("weights-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("w/logistic.bin").path
        let base = ["train", "--model", "logistic", "--epochs", "1", "--train-limit", "200", "--test-limit", "50"]
        let (saved, _) = await run(base + ["--output", dir.appendingPathComponent("a").path, "--save-weights", file])
        #expect(saved == 0)
        let w = try WeightsFile.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: file))), file: file)
        #expect(w.model == "logistic" && w.inputShape == [28, 28, 1] && w.outputs == 10 && w.parameters.count == 7_850)

        let (again, _) = await run(base + ["--output", dir.appendingPathComponent("b").path, "--init-from", file])
        #expect(again == 0)

        let (wrong, message) = await run(["train", "--model", "mlp", "--epochs", "1", "--train-limit", "20",
                                          "--output", dir.appendingPathComponent("c").path, "--init-from", file])
        #expect(wrong == 2)
        #expect(message.contains("--init-from") && message.contains(file) && message.contains("'logistic'"), "\(message)")

        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let cut = dir.appendingPathComponent("cut.bin").path
        try bytes.prefix(100).write(to: URL(fileURLWithPath: cut))
        let (truncated, why) = await run(base + ["--output", dir.appendingPathComponent("d").path, "--init-from", cut])
        #expect(truncated == 2)
        #expect(why.contains(cut) && why.contains("byte ") && why.contains("truncated"), "\(why)")

        let (missing, none) = await run(base + ["--output", dir.appendingPathComponent("e").path,
                                                "--init-from", dir.appendingPathComponent("nope.bin").path])
        #expect(missing == 2)
        #expect(none.contains("nope.bin"), "\(none)")
    }
}
