// FederatedDPSGDTests: DP-SGD inside clients: per-client steps and example-level ε equal the accountant's closed value;
// bit-identical across thread counts; both guarantees reported, not combined.
import FedNN
import FedPrivacy
import FedRuntime
import FedStrategy
import Testing

@Suite("DP-SGD inside federations", .serialized)
struct FederatedDPSGDTests {
    static func configuration(_ kind: StrategyKind = .dpFedAvg) -> FederationConfiguration {
        var c = smallConfiguration(kind)
        c.model = .logistic
        c.rounds = 3
        c.clients.fraction = 0.5
        c.training.dpsgd.noiseMultiplier = 1.1
        c.training.dpsgd.maxGradNorm = 1
        c.training.dpsgd.expectedBatchSize = 8
        return c
    }

    @Test func stepsAndExampleLevelEpsilonAreTheAccountantsOverTheRoundsTaken() async throws {
        let config = Self.configuration()
        let summary = try await run(config, threads: 2)
        let federation = try Federation(configuration: config, train: smallMNIST.train, test: smallMNIST.test)
        let d = federation.partitions.map(\.count)
        let perRound = (0..<d.count).map { k in
            config.training.localEpochs * max(1, Int((1 / (8 / Double(d[k]))).rounded(.down)))
        }
        var taken = [Int](repeating: 0, count: d.count)
        for r in summary.rounds {
            for k in r.sampled where !r.dropped.contains(k) { taken[k] += 1 }
            let p = try #require(r.privacy)
            for c in p.clients {
                let steps = taken[c.client] * perRound[c.client]
                #expect(c.exampleSteps == steps)
                let closed = try RDPAccountant(history: [.init(noiseMultiplier: 1.1, sampleRate: 8 / Double(d[c.client]),
                                                                steps: steps)]).epsilon(delta: 1e-5).epsilon
                #expect(c.exampleEpsilon == closed, "client \(c.client)")
            }
            #expect(p.epsilonWorstExample == p.clients.compactMap(\.exampleEpsilon).max())
        }
        // Two guarantees for two relations, each its own number: client-level from DP-FedAvg, example-level from
        // DP-SGD; the run's example-level ε is the last round's worst.
        let example = try #require(summary.exampleLevelPrivacy?.epsilon)
        #expect(example == summary.rounds.last!.privacy!.epsilonWorstExample)
        #expect(summary.privacy.epsilon == summary.rounds.last!.privacy!.epsilonWorstClient)
        #expect(summary.privacy.epsilon != example)
        // FedAvg on top: no client-level guarantee, the example-level one stands alone.
        let plain = try await run(Self.configuration(.fedAvg), threads: 2)
        #expect(plain.privacy.epsilon == nil && plain.exampleLevelPrivacy?.epsilon != nil)
    }

    @Test func federatedDPSGDIsBitIdenticalAcrossThreadCounts() async throws {
        let config = Self.configuration()
        let one = try await run(config, threads: 1)
        let two = try await run(config, threads: 2)
        #expect(one.rounds.map(\.weightsDigest) == two.rounds.map(\.weightsDigest))
        #expect(one.rounds.map(\.meanTrainLoss) == two.rounds.map(\.meanTrainLoss))
        // Negative control: DP-SGD noise really enters (another σ, other bits).
        var other = config
        other.training.dpsgd.noiseMultiplier = 1.2
        #expect(try await run(other, threads: 1).rounds.last!.weightsDigest != one.rounds.last!.weightsDigest)
    }

    @Test func badDPSGDKeysAreNamed() {
        func blamed(_ change: (inout FederationConfiguration) -> Void) -> String? {
            var c = Self.configuration()
            change(&c)
            do { try c.validate() } catch { return error.keyPath }
            return nil
        }
        #expect(blamed { _ in } == nil)
        #expect(blamed { $0.training.dpsgd.targetEpsilon = 3 } == "training.dpsgd.targetEpsilon")
        #expect(blamed { $0.training.dpsgd.samplingRate = 0.1 } == "training.dpsgd.samplingRate")
        #expect(blamed { $0.training.dpsgd.maxGradNorm = 0 } == "training.dpsgd.maxGradNorm")
        #expect(blamed { $0.training.dpsgd.noiseMultiplier = nil } == "training.dpsgd.noiseMultiplier")
    }
}
