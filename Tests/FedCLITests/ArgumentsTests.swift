// ArgumentsTests: flag parsing, error messages that name the flag, and strict config decoding.
import FedCLI
import Foundation
import Testing

@Suite("Command-line arguments and configuration files")
struct ArgumentsTests {
    @Test func parsesValuesFlagsAndEqualsForm() throws {
        var a = try Arguments(["--epochs", "3", "--lr=0.1", "--quick", "pos"], booleanFlags: ["quick"])
        #expect(try a.int("epochs") == 3)
        #expect(try a.double("lr") == 0.1)
        let quick = a.flag("quick")
        #expect(quick)
        #expect(a.positionals == ["pos"])
        try a.finish(maxPositionals: 1)
    }

    @Test func errorsNameTheFlagAndAllowedValues() throws {
        var a = try Arguments(["--epochs", "zero"], booleanFlags: [])
        #expect(throws: UsageError("--epochs must be a whole number in 1…, got 'zero'")) { try a.int("epochs") }
        var b = try Arguments(["--model", "resnet"], booleanFlags: [])
        #expect(throws: UsageError("--model must be one of: cnn, mlp, logistic, lenet, tanh-cnn, small-cnn, large-cnn; got 'resnet'")) {
            try b.choice("model", FedNNModelKind.self)
        }
        let c = try Arguments(["--epohcs", "3"], booleanFlags: [])
        #expect(throws: UsageError("unknown option --epohcs")) { try c.finish() }
        var d = try Arguments(["--epochs"], booleanFlags: [])
        _ = try d.int("epochs")
        #expect(throws: UsageError("--epochs needs a value (a value starting with -- is written --epochs=VALUE)")) {
            try d.finish()
        }
        // `--output --epochs 3`: the option after --output is not taken as its value (no folder named --epochs).
        var e = try Arguments(["--output", "--epochs", "3"], booleanFlags: [])
        #expect(e.string("output") == nil)
        #expect(try e.int("epochs") == 3)
        #expect(throws: UsageError("--output needs a value (a value starting with -- is written --output=VALUE)")) {
            try e.finish()
        }
        var f = try Arguments(["--output=--epochs"], booleanFlags: [])
        #expect(f.string("output") == "--epochs")
        // An unknown option at the end is reported as unknown, not as missing its value.
        #expect(throws: UsageError("unknown option --frob")) { try Arguments(["--frob"], booleanFlags: []).finish() }
    }

    @Test func configurationErrorsNameFileAndKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fednoise-cli-\(UUID())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func write(_ text: String) throws -> String {
            let url = dir.appendingPathComponent("c.json")
            try text.write(to: url, atomically: true, encoding: .utf8)
            return url.path
        }
        let typo = try write(#"{"epochs": 2, "batchsize": 3}"#)
        #expect(throws: UsageError.self) { try TrainConfiguration.load(typo) }
        do { _ = try TrainConfiguration.load(typo) } catch let e as UsageError {
            #expect(e.description.contains("unknown key 'batchsize'"))
            #expect(e.description.contains(typo))
        }
        let wrongType = try write(#"{"epochs": "two"}"#)
        do {
            _ = try TrainConfiguration.load(wrongType)
            Issue.record("a string epoch count was accepted")
        } catch let e as UsageError {
            #expect(e.description.contains("key 'epochs'"))
        }
        let badModel = try write(#"{"model": "resnet"}"#)
        do {
            _ = try TrainConfiguration.load(badModel)
            Issue.record("an unknown model was accepted")
        } catch let e as UsageError {
            #expect(e.description.contains("key 'model'"))
        }
        let partial = try write(#"{"epochs": 7}"#)
        let config = try TrainConfiguration.load(partial)
        #expect(config.epochs == 7)
        #expect(config.batchSize == TrainConfiguration().batchSize)
        var bad = TrainConfiguration()
        bad.momentum = 1.5
        #expect(throws: UsageError("momentum: must be in [0, 1), got 1.5")) { try bad.validate() }

        // After flags are laid over the file, an invalid value is blamed on the flag that gave it, else the file.
        func configuration(_ argv: [String]) -> String {
            do {
                var args = try Arguments(argv, booleanFlags: [])
                return "\(try TrainCommand.configuration(&args).0.momentum)"
            } catch {
                return "\(error)"
            }
        }
        let badMomentum = try write(#"{"momentum": 1.5, "epochs": 2}"#)
        #expect(configuration(["--config", badMomentum])
            == "\(badMomentum): key 'momentum': must be in [0, 1), got 1.5")
        #expect(configuration(["--config", badMomentum, "--momentum", "0.5"]) == "0.5")
        #expect(configuration(["--config", badMomentum, "--momentum", "0.5", "--lr-decay", "2"])
            == "--lr-decay: must be in (0, 1], got 2.0")
        #expect(configuration(["--momentum", "1"]) == "--momentum: must be in [0, 1), got 1.0")
        #expect(configuration(["--lr", "0"]) == "--lr: must be in (0, 1000], got 0.0")
        #expect(configuration(["--batch-size", "100000"]) == "--batch-size: must be in 1…65536, got 100000")
        // A misspelt flag is reported before any value is validated.
        #expect(configuration(["--config", badMomentum, "--momentm", "0.5"]) == "unknown option --momentm")
        // A dataset without a directory is blamed on whoever chose the dataset.
        #expect(configuration(["--dataset", "cifar10"]).hasPrefix("--dataset: cifar10 needs a directory"))
        let cifar = try write(#"{"dataset": "cifar10"}"#)
        #expect(configuration(["--config", cifar]).hasPrefix("\(cifar): key 'dataset': cifar10 needs a directory"))
    }

    @Test func everyShippedConfigDecodesAndValidates() throws {
        let configDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../config").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: configDir.path)
            .filter { $0.hasPrefix("train-") && $0.hasSuffix(".json") }
        #expect(!files.isEmpty)
        for f in files {
            let config = try TrainConfiguration.load(configDir.appendingPathComponent(f).path)
            try config.validate()
        }
    }

    @Test func unknownCommandIsAUsageError() async {
        #expect(await FedCommandLine.run(["frobnicate"]) == 2)
        #expect(await FedCommandLine.run(["train", "--epochs", "-3"]) == 2)
    }
}

typealias FedNNModelKind = FedNN.ModelKind
import FedNN
