// NoiseInfusionFederationTests: noise infusion at every federated site, reproducible, validated, labelled heuristic.
import FedData
import FedNN
import FedPrivacy
import FedRuntime
import FedStrategy
import FedTensor
import Testing

@Suite("Noise infusion in federations", .serialized)
struct NoiseInfusionFederationTests {
    /// All six sites at once (input, activation, gradient, client model, client update, global model).
    static func allSites() -> NoiseInfusion {
        NoiseInfusion(preset: .m1, mechanisms: [
            NoiseMechanism(site: .activation, level: 0.1, schedule: .exponential, decay: 0.5),
            NoiseMechanism(site: .gradient, level: 0.3, levelMode: .relative),
            NoiseMechanism(site: .clientModel, distribution: .laplace, level: 0.01, levelMode: .relative),
            NoiseMechanism(site: .clientUpdate, distribution: .uniform, level: 0.1, levelMode: .relative),
            NoiseMechanism(site: .globalModel, level: 0.001),
        ])
    }

    @Test func everySiteIsBitIdenticalAcrossThreadCountsAndChangesTheModel() async throws {
        var config = smallConfiguration()
        config.noiseInfusion = Self.allSites()
        let one = try await run(config, threads: 1)
        let two = try await run(config, threads: 2)
        #expect(one.rounds.map(\.weightsDigest) == two.rounds.map(\.weightsDigest))
        let clean = try await run(smallConfiguration(), threads: 2)
        #expect(clean.rounds.last!.weightsDigest != one.rounds.last!.weightsDigest)
        guard case .none(let reason) = one.privacy else {
            Issue.record("noise infusion must never claim a DP guarantee: \(one.privacy)")
            return
        }
        #expect(reason.contains("heuristic"))
        // All six sites at once still learn (34% after 3 rounds, against 56.5% clean and 10% chance).
        #expect(try #require(one.finalTestAccuracy) > 0.2)
        #expect(try #require(one.finalTestAccuracy) < clean.finalTestAccuracy!)
    }

    /// Each site alone moves the result off the clean run; a level of 0 at every site reproduces it exactly.
    @Test func eachSiteActsAndLevelZeroIsANoOp() async throws {
        let clean = try await run(smallConfiguration(), threads: 2).rounds.last!.weightsDigest
        for m in Self.allSites().resolved {
            var config = smallConfiguration()
            config.noiseInfusion = NoiseInfusion(mechanisms: [m])
            let noisy = try await run(config, threads: 2).rounds.last!.weightsDigest
            #expect(noisy != clean, "site \(m.site.rawValue) changed nothing")
            var zero = m
            zero.level = 0
            config.noiseInfusion = NoiseInfusion(mechanisms: [zero])
            #expect(try await run(config, threads: 2).rounds.last!.weightsDigest == clean,
                    "site \(m.site.rawValue) at level 0")
        }
    }

    @Test func invalidNoiseConfigurationsNameTheirKeyPath() throws {
        func keyPath(_ edit: (inout FederationConfiguration) -> Void) -> String? {
            var c = smallConfiguration()
            edit(&c)
            do {
                try c.validate()
                return nil
            } catch {
                return error.keyPath
            }
        }
        #expect(keyPath { $0.noiseInfusion = NoiseInfusion(mechanisms: [
            NoiseMechanism(site: .clientModel, distribution: .speckle, level: 0.1)]) }
            == "noiseInfusion.mechanisms[0].distribution")
        #expect(keyPath { $0.noiseInfusion = NoiseInfusion() } == "noiseInfusion.mechanisms")
        #expect(keyPath {
            $0.noiseInfusion = NoiseInfusion(preset: .m3)
            $0.training.dpsgd.noiseMultiplier = 1
        } == "noiseInfusion")
        #expect(keyPath { $0.noiseInfusion = NoiseInfusion(preset: .m4) } == nil)
        var c = smallConfiguration()
        c.noiseInfusion = NoiseInfusion(mechanisms: [NoiseMechanism(site: .activation, level: 0.1, afterLayers: [7])])
        #expect(throws: ConfigurationError.self) {
            _ = try Federation(configuration: c, train: smallMNIST.train, test: smallMNIST.test)
        }
    }

    /// large-cnn (BatchNorm) federates with FedAvg, its running statistics averaged with the weights, bit-identically
    /// across thread counts; DP strategies are refused naming the model key.
    @Test func largeCNNFederatesWithFedAvgOnly() async throws {
        var config = smallConfiguration()
        config.model = .largeCNN
        config.rounds = 1
        config.clients.fraction = 0.2
        let one = try await run(config, threads: 1)
        let two = try await run(config, threads: 2)
        #expect(one.rounds[0].weightsDigest == two.rounds[0].weightsDigest)
        #expect(try #require(one.finalTestAccuracy).isFinite)
        for kind in [StrategyKind.dpFedAvg, .niss] {
            config.strategy.kind = kind
            #expect(throws: ConfigurationError(keyPath: "model", message: "large-cnn (BatchNorm) runs with FedAvg only: "
                + "its running statistics travel in the parameter vector, which DP-FedAvg's or NISS's noise would "
                + "corrupt, and DP-SGD's per-example gradients are undefined under batch statistics")) {
                try config.validate()
            }
        }
    }
}
