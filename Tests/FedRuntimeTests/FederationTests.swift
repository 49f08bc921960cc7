// FederationTests: whole federations over the in-process and fault-injecting transports.
import FedData
import FedNN
import FedPrivacy
import FedRuntime
import FedTestKit
import FedStrategy
import FedTensor
import FedTransport
import Testing

/// The embedded MNIST subset, cut small so a federation runs in about a second.
let smallMNIST: (train: DatasetSamples, test: DatasetSamples) = {
    let (train, test) = try! DatasetLoader.embeddedMNIST()
    return (DatasetSamples(train.subset(indices: 0..<600)), DatasetSamples(test.subset(indices: 0..<200)))
}()

func smallConfiguration(_ strategy: StrategyKind = .fedAvg) -> FederationConfiguration {
    var c = FederationConfiguration()
    c.name = "test"
    c.seed = 7
    c.rounds = 3
    c.model = .mlp
    c.clients.count = 10
    c.clients.fraction = 0.5
    c.training.localEpochs = 1
    c.training.batchSize = 10
    c.training.learningRate = 0.05
    c.strategy.kind = strategy
    return c
}

/// Collects the global model after each round by re-running the federation's events.
func run(_ config: FederationConfiguration, threads: Int = 2,
         transport: (any Transport<FederationMessage>)? = nil) async throws -> FederationSummary {
    let federation = try Federation(configuration: config, train: smallMNIST.train, test: smallMNIST.test)
    return try await ComputeThreads.$taskLimit.withValue(threads) {
        try await federation.run(transport: transport)
    }
}

@Suite("Federations", .serialized)
struct FederationTests {
    @Test func fedAvgLearns() async throws {
        var config = smallConfiguration()
        config.rounds = 5
        let summary = try await run(config)
        #expect(summary.rounds.count == 5)
        #expect(summary.rounds.allSatisfy { $0.sampled.count == 5 && $0.dropped.isEmpty })
        // Different rounds produce different models (the digest is not a constant).
        #expect(Set(summary.rounds.map(\.weightsDigest)).count == 5)
        // 600 MNIST images over 10 clients: chance is 10%; five FedAvg rounds of an MLP reach well above 60%.
        #expect(try #require(summary.finalTestAccuracy) > 0.6)
        if case .none = summary.privacy {} else { Issue.record("FedAvg must not claim a DP guarantee") }
    }

    @Test func bitIdenticalAcrossThreadCountsAndMessageOrders() async throws {
        var config = smallConfiguration(.dpFedAvg)
        let a = try await run(config, threads: 1)
        let b = try await run(config, threads: 2)
        // One client a round with the CNN: the client itself trains on 1 or 2 threads (large GEMMs split).
        config.clients.fraction = 0.1
        config.model = .cnn
        config.rounds = 1
        let one = try await run(config, threads: 1)
        let two = try await run(config, threads: 2)
        #expect(one.rounds[0].weightsDigest == two.rounds[0].weightsDigest)
        #expect(one.rounds[0].realisedNoiseVariance == two.rounds[0].realisedNoiseVariance)
        config = smallConfiguration(.dpFedAvg)
        // Reorder uploads in batches of 5 with a seeded permutation: the PS must still sum in client order.
        let faulty = FaultInjectingTransport(wrapping: InProcessTransport<FederationMessage>(), seed: 99)
        faulty.inject(.reorder(batchSize: 5)) { envelope in
            if case .upload = envelope.message { return true }
            return false
        }
        let c = try await run(config, threads: 2, transport: faulty)
        let reordered = faulty.log.filter { $0.fault == .reordered }.count
        #expect(reordered > 0)
        for (x, (y, z)) in zip(a.rounds, zip(b.rounds, c.rounds)) {
            #expect(x.weightsDigest == y.weightsDigest && y.weightsDigest == z.weightsDigest)
            #expect(x.realisedNoiseVariance == y.realisedNoiseVariance && y.realisedNoiseVariance == z.realisedNoiseVariance)
        }
    }

    @Test func silentClientIsLeftOutAtTheDeadline() async throws {
        let config = smallConfiguration()
        let transport = FaultInjectingTransport(wrapping: InProcessTransport<FederationMessage>(), seed: 1)
        // Round 1's upload from the first sampled client is lost.
        let federation = try Federation(configuration: config, train: smallMNIST.train, test: smallMNIST.test)
        var lostClient: Int?
        transport.inject(.drop, limit: 1) { envelope in
            if case .upload(let u, _) = envelope.message, u.round == 1 { return true }
            return false
        }
        async let summary = federation.run(transport: transport)
        // When every other sampled client has answered, tell the PS its deadline passed (no sleeping).
        var answered = 0
        for await event in federation.events {
            if case .roundStarted(1, let sampled) = event { answered = 0; lostClient = nil; _ = sampled }
            if case .uploadReceived(1, _) = event {
                answered += 1
                if answered == 4 {
                    try await transport.send(.deadline(round: 1), from: .parameterServer, to: .parameterServer)
                }
            }
            if case .finished = event { break }
        }
        let result = try await summary
        let round1 = result.rounds[0]
        lostClient = transport.log.first { $0.fault == .dropped }.map { entry -> Int in
            if case .upload(let u, _) = entry.envelope.message { return u.client }
            return -1
        }
        #expect(round1.dropped == [try #require(lostClient)])
        #expect(round1.noiseStds.count == 4)
        #expect(result.rounds[1].dropped.isEmpty)
    }

    @Test func perClientBudgetsSetEachClientsNoiseAndAccount() async throws {
        var config = smallConfiguration(.dpFedAvg)
        config.clients.fraction = 1
        config.rounds = 2
        config.strategy.dp.epsilon = 10
        config.strategy.dp.clientBudgets = [ClientBudget(from: 0, to: 4, epsilon: 20, delta: 1e-4),
                                            ClientBudget(from: 8, to: 9, epsilon: 5, delta: 1e-4)]
        let summary = try await run(config)
        let sigmas = summary.rounds[0].noiseStds
        #expect(sigmas.count == 10)
        // σ_k ∝ p_k/ε_k and every client holds 60 samples (equal p_k): ratios are exactly the budget ratios.
        #expect(abs(sigmas[0] / sigmas[5] - 0.5) < 1e-12)
        #expect(abs(sigmas[9] / sigmas[5] - 2) < 1e-12)
        // The worst client is one with ε_k = 20: z = c(δ)/20 per round, 2 rounds, accounted by RDP.
        var accountant = RDPAccountant()
        try accountant.step(noiseMultiplier: try GaussianMechanism.c(delta: 1e-4) / 20, sampleRate: 1, count: 2)
        let expected = try accountant.epsilon(delta: 1e-4).epsilon
        #expect(abs(try #require(summary.privacy.epsilon) - expected) < 1e-9 * expected)
    }

    @Test func dpFedAvgReportsNoiseAndAnHonestGuarantee() async throws {
        var config = smallConfiguration(.dpFedAvg)
        config.strategy.dp.epsilon = 10
        config.strategy.dp.delta = 1e-4
        config.strategy.dp.clippingThreshold = 3
        let summary = try await run(config)
        for round in summary.rounds {
            #expect(round.noiseStds.count == 5)
            #expect(round.noiseStds.allSatisfy { $0 > 0 })
            // 5 clients × h coordinates of noise: the realised variance is within a few standard errors of the
            // expectation (relative std of a mean of h squared normals is √(2/h)).
            let realised = try #require(round.realisedNoiseVariance)
            let h = 199_210.0
            #expect(abs(realised / round.expectedNoiseVariance - 1) < 6 * (2 / h).squareRoot())
        }
        #expect(summary.privacy.epsilon != nil)
    }
}
