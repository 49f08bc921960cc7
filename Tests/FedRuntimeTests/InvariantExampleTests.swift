// InvariantExampleTests: the README's test-kit example: NISS invariants checked on a traced federation.
import FedData
import FedRuntime
import FedTestKit
import Testing

@Suite("README examples: protocol invariants with FedTestKit")
struct InvariantExampleTests {
    static func nissConfiguration(tau2: Double) -> FederationConfiguration {
        var config = FederationConfiguration()
        config.model = .mlp
        config.clients.count = 8; config.clients.fraction = 1; config.rounds = 1
        config.deadlineSeconds = 60
        config.strategy.kind = .niss
        config.strategy.niss.tau2 = tau2
        return config
    }

    /// Runs `strategy` on the embedded data over a trace recorder; returns the trace, the new model and the report.
    static func traced(_ config: FederationConfiguration, _ strategy: any FederatedStrategy) async throws
        -> (trace: TraceRecorder, model: [Float], report: RoundReport) {
        let (train, test) = try DatasetLoader.embeddedMNIST()
        let federation = try Federation(configuration: config, train: DatasetSamples(train.subset(indices: 0..<400)),
                                        test: DatasetSamples(test.subset(indices: 0..<100)), strategy: strategy)
        let trace = TraceRecorder()
        let summary = try await federation.run(transport: trace)
        return (trace, federation.globalWeights!, summary.rounds[0])
    }

    @Test func nissInvariants() async throws {
        // Each client "trains" to w_t + a small client-specific step (norm ≤ 0.36, inside the clipping bound ζ = 3).
        let step = StubTraining { k, _, global in global.map { $0 + 1e-4 * Float(k + 1) } }
        let config = Self.nissConfiguration(tau2: 0)
        let niss = try await Self.traced(config, config.makeStrategy().training(step))
        let fedAvg = try await Self.traced(config, FedAvg().training(step))

        // 1. No client sends a share to itself, and every share sent is received.
        for k in niss.trace.clients(round: 1) {
            let client = niss.trace.client(k, round: 1)
            #expect(!client.sharesSent.isEmpty && client.sharesSent.allSatisfy { $0.to != k })
        }
        let sent = niss.trace.clients(round: 1).map { niss.trace.client($0, round: 1).sharesSent.count }.reduce(0, +)
        let received = niss.trace.clients(round: 1).map { niss.trace.client($0, round: 1).sharesReceived.count }
            .reduce(0, +)
        #expect(sent == received)

        // 2. With τ = 0 the shares cancel: the aggregate is FedAvg's, up to the rounding of the cancelled noise.
        let gap = zip(niss.model, fedAvg.model).map { abs($0 - $1) }.max()!
        #expect(gap < 1e-5, "max |NISS − FedAvg| = \(gap)")
        // …while each upload alone carries noise (every upload differs from FedAvg's by far more).
        let k = niss.trace.clients(round: 1)[0]
        let own = zip(niss.trace.client(k, round: 1).upload!.payload, fedAvg.trace.client(k, round: 1).upload!.payload)
            .map { abs($0 - $1) }.max()!
        #expect(own > 100 * gap)
        // Negative control: with τ² = 0.5 the distorted shares no longer cancel.
        let distorted = Self.nissConfiguration(tau2: 0.5)
        let noisy = try await Self.traced(distorted, distorted.makeStrategy().training(step))
        #expect(zip(noisy.model, fedAvg.model).map { abs($0 - $1) }.max()! > 100 * gap)
    }

    @Test func theAggregateCarriesTheoremTwosNoise() async throws {
        // Zero-signal mode: every upload is pure noise, so the new global model is the aggregate's noise.
        let config = Self.nissConfiguration(tau2: 0.2)
        let run = try await Self.traced(config, config.makeStrategy().zeroSignal())
        let h = Double(run.model.count)
        let variance = run.model.reduce(0.0) { $0 + Double($1) * Double($1) } / h
        // Given the realised distortions s, the aggregate's variance is σ²·Σ(s − 1)² (Theorem 2's proof); the
        // sample variance over h coordinates has relative standard error √(2/h): allow 5 of them.
        let realised = try #require(run.report.niss?.distortionVariance)
        #expect(abs(variance / realised - 1) < 5 * (2 / h).squareRoot(), "variance \(variance) vs \(realised)")
        // Negative control: DP-FedAvg's Σσ_k² (no cancellation) is far larger than what is left.
        let dpVariance = run.report.noiseStds.reduce(0) { $0 + $1 * $1 }
        #expect(dpVariance > 2 * variance)
    }
}
