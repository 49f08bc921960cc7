// TrainMitigationsTests: `fednoise train --freeze` keeps the named layers' starting weights; bad mitigation flags.
import FedCLI
import FedNN
import FedTensor
import Foundation
import Synchronization
import Testing

@Suite struct TrainMitigationsTests {
    func run(_ args: [String]) async -> (Int32, String) {
        let errors = Mutex("")
        let sink = ConsoleCapture { text, isError in if isError { errors.withLock { $0 += text } } }
        let status = await ConsoleCapture.$current.withValue(sink) { await FedCommandLine.run(args) }
        return (status, errors.withLock { $0 })
    }

    /// MLP with fc1 frozen, shifted inputs, plain and DP-SGD (with weight decay and multiplicity 2): the saved fc1
    /// equals the seed's initial fc1 bit for bit; fc2 does not.
    @Test func frozenLayerKeepsItsInitialWeights() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mitigate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let net = try ModelKind.mlp.network(inputShape: [28, 28, 1], classes: 10)
        let start = net.initialParameters(key: StreamKey(seed: 1, 0), scheme: .uniform)
        let base = ["train", "--model", "mlp", "--epochs", "1", "--train-limit", "128", "--test-limit", "32",
                    "--freeze", "fc1", "--augment-shift", "2", "--weight-decay", "0.01"]
        for (name, extra) in [("plain", [String]()),
                              ("dp", ["--dp", "--noise-multiplier", "1", "--expected-batch-size", "32",
                                      "--augment-copies", "2"])] {
            let file = dir.appendingPathComponent("\(name).bin").path
            let (status, message) = await run(base + extra + ["--output", dir.appendingPathComponent(name).path,
                                                              "--save-weights", file])
            #expect(status == 0, "\(message)")
            let w = try WeightsFile.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: file))), file: file)
            #expect(w.parameters[net.parameterRanges[1]] == start[net.parameterRanges[1]], "\(name)")
            #expect(w.parameters[net.parameterRanges[3]] != start[net.parameterRanges[3]], "\(name)")
        }
    }

    @Test func badMitigationFlagsAreNamed() async {
        for (args, flag) in [(["--freeze", "conv9"], "--freeze"), (["--augment-copies", "4"], "--augment-copies"),
                             (["--augment-shift", "9"], "--augment-shift"),
                             (["--freeze", "fc1,fc2,fc3"], "--freeze")] {
            let (status, message) = await run(["train", "--model", "mlp", "--epochs", "1", "--train-limit", "20",
                                               "--output", "/tmp/fednoise-mitigation-unused"] + args)
            #expect(status == 2)
            #expect(message.contains(flag), "\(message)")
        }
    }
}
