// RunConfigurationTests: federation configs decode over defaults, --set overrides, and errors name key paths.
import FedCLI
import FedRuntime
import Foundation
import Testing

@Suite("Federation configuration files")
struct RunConfigurationTests {
    let configDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../config").standardized

    @Test func everyShippedFederationConfigDecodesAndValidates() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: configDir.path)
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix("train-") }
        #expect(files.count >= 5)
        for f in files {
            let c = try RunCommand.loadConfiguration(configDir.appendingPathComponent(f).path, overrides: [])
            #expect(c.name == String(f.dropLast(5)), "config \(f) should be named after its file")
        }
    }

    @Test func overridesReachNestedKeysAndKeepOtherDefaults() throws {
        let c = try RunCommand.loadConfiguration(
            configDir.appendingPathComponent("smoke.json").path,
            overrides: ["rounds=9", "strategy.kind=dpFedAvg", "strategy.dp.epsilon=4", "deadlineSeconds=2.5",
                        "dataset.path=/data/mnist"])
        #expect(c.rounds == 9)
        #expect(c.strategy.kind == .dpFedAvg)
        #expect(c.strategy.dp.epsilon == 4)
        #expect(c.strategy.dp.delta == FederationConfiguration().strategy.dp.delta)
        #expect(c.deadlineSeconds == 2.5)
        #expect(c.dataset.path == "/data/mnist")
        #expect(c.clients.count == 10)
    }

    @Test func errorsNameTheKeyPath() throws {
        let smoke = configDir.appendingPathComponent("smoke.json").path
        func message(_ overrides: [String]) -> String {
            do {
                _ = try RunCommand.loadConfiguration(smoke, overrides: overrides)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(message(["clients.fraktion=0.2"]).contains("unknown key 'clients.fraktion'"))
        #expect(message(["clients.fraction=0"]).contains("clients.fraction: must be in (0, 1]"))
        #expect(message(["strategy.kind=secure"]).contains("strategy.kind"))
        #expect(message(["rounds=many"]).contains("key 'rounds'"))
        #expect(message(["strategy.kind=dpFedAvg", "strategy.dp.delta=2"]).contains("strategy.dp.delta"))
        #expect(message(["model"]).contains("key.path=value"))
        #expect(message(["strategy.kind=dpFedAvg",
                         #"strategy.dp.clientBudgets=[{"from": 5, "to": 12, "epsilon": 1, "delta": 1e-5}]"#])
            .contains("strategy.dp.clientBudgets[0].from/.to"))
    }
}
