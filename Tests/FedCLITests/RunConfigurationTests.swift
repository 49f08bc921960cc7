// RunConfigurationTests: federation configs decode over defaults, --set overrides, and errors name key paths.
import FedCLI
import FedRuntime
import Foundation
import Testing

@Suite("Federation configuration files")
struct RunConfigurationTests {
    let configDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../config").standardized

    /// "accepted", or the error loading `path` with `overrides` gives.
    static func loadMessage(_ path: String, _ overrides: [String]) -> String {
        do {
            _ = try RunCommand.loadConfiguration(path, overrides: overrides)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func everyShippedFederationConfigDecodesAndValidates() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: configDir.path)
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix("train-") && !$0.hasPrefix("attack-") && !$0.hasPrefix("paradox-") }
        #expect(files.count >= 5)
        for f in files {
            let c = try RunCommand.loadConfiguration(configDir.appendingPathComponent(f).path, overrides: [])
            #expect(c.name == String(f.dropLast(5)), "config \(f) should be named after its file")
        }
    }

    @Test func errorsNameTheInputThatGaveTheBadValue() throws {
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("fednoise-origin-\(ProcessInfo.processInfo.processIdentifier).json")
        try Data(#"{"model": "cnnn", "clients": {"partition": "iid", "fraction": 0}}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        func message(_ overrides: [String]) -> String { Self.loadMessage(file.path, overrides) }
        // The file's bad value is blamed on the file, even with other keys set on the command line…
        #expect(message(["rounds=3"]).hasPrefix("\(file.path): key 'model': unknown value 'cnnn'"))
        // …and a bad --set on the --set, even when the file also sets that object.
        #expect(message(["model=cnn", "clients.partition=noniid"])
            .hasPrefix("--set clients.partition=noniid: key 'clients.partition': unknown value 'noniid'"))
        // Validation errors too: the file's fraction 0, then the same key fixed on the command line and broken in
        // a sibling key that --set gave.
        #expect(message(["model=cnn"]) == "\(file.path): clients.fraction: must be in (0, 1], got 0.0")
        #expect(message(["model=cnn", "clients.fraction=0.5", "clients.count=0"])
            .hasPrefix("--set clients.count=0: clients.count:"))
        #expect(message(["model=cnn", "clients.fraction=0.5"]) == "accepted")
    }

    @Test func overridesReachNestedKeysAndKeepOtherDefaults() throws {
        let c = try RunCommand.loadConfiguration(
            configDir.appendingPathComponent("smoke.json").path,
            overrides: ["rounds=9", "strategy.kind=dpFedAvg", "strategy.dp.epsilon=4", "deadlineSeconds=2.5",
                        "dataset.path=/data/mnist", "initialization=he"])
        #expect(c.rounds == 9)
        #expect(c.strategy.kind == .dpFedAvg)
        #expect(c.strategy.dp.epsilon == 4)
        #expect(c.strategy.dp.delta == FederationConfiguration().strategy.dp.delta)
        #expect(c.deadlineSeconds == 2.5)
        #expect(c.dataset.path == "/data/mnist")
        #expect(c.initialization == .he)
        #expect(FederationConfiguration().initialization == .uniform)
        #expect(c.clients.count == 10)
    }

    @Test func errorsNameTheKeyPath() throws {
        let smoke = configDir.appendingPathComponent("smoke.json").path
        func message(_ overrides: [String]) -> String { Self.loadMessage(smoke, overrides) }
        #expect(message(["clients.fraktion=0.2"]).contains("unknown key 'clients.fraktion'"))
        #expect(message(["clients.fraction=0"]).contains("clients.fraction: must be in (0, 1]"))
        #expect(message(["strategy.kind=secure"]).contains("strategy.kind"))
        #expect(message(["accuracyTargets=[0.9, 99]"])
            == "--set accuracyTargets=[0.9, 99]: accuracyTargets[1]: must be in (0, 1], got 99.0")
        #expect(message(["rounds=null"]) == "--set rounds=null: missing key 'rounds'")
        #expect(message(["dataset.kind=cifar10"])
            == "--set dataset.kind=cifar10: dataset.kind: cifar10 needs a directory in dataset.path; "
            + "the embedded subset is MNIST only")
        #expect(message(["initialization=xavier"])
            == "--set initialization=xavier: key 'initialization': unknown value 'xavier' "
            + "(allowed: uniform, he, glorot)")
        #expect(message(["rounds=3"]) == "accepted")
        #expect(message(["strategy.niss.encoding=zip"]).contains("(allowed: dense, seeded)"))
        #expect(message(["rounds=many"]).contains("key 'rounds'"))
        #expect(message(["strategy.kind=dpFedAvg", "strategy.dp.delta=2"]).contains("strategy.dp.delta"))
        #expect(message(["model"]).contains("key.path=value"))
        #expect(message(["strategy.kind=dpFedAvg",
                         #"strategy.dp.clientBudgets=[{"from": 5, "to": 12, "epsilon": 1, "delta": 1e-5}]"#])
            .contains("strategy.dp.clientBudgets[0].from/.to"))
    }
}
