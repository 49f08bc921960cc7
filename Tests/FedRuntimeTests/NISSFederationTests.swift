// NISSFederationTests: NISS's guarantees (spec B.5) as invariants of whole federations over the fault transport.
import FedData
import FedNN
import FedPrivacy
import FedRuntime
import FedTestKit
import FedStrategy
import FedTensor
import FedTransport
import Testing

/// NISS on the 600-image subset: every client holds the same number of images, so every σ_k, and so every v_k, is
/// equal and v_k·σ² = σ_k² exactly.
func nissConfiguration(model: ModelKind = .logistic, clients: Int = 20, fraction: Double = 1, tau2: Double = 0,
                       shares: Int = 16, rounds: Int = 1) -> FederationConfiguration {
    var c = smallConfiguration(.niss)
    c.model = model
    c.rounds = rounds
    c.clients.count = clients
    c.clients.fraction = fraction
    c.strategy.niss.tau2 = tau2
    c.strategy.niss.targetShares = shares
    c.strategy.niss.minimumShares = min(8, shares)
    return c
}

/// Runs `config` and returns the summary and the final global weights.
func runKeepingWeights(_ config: FederationConfiguration, threads: Int = 2,
                       transport: (any Transport<FederationMessage>)? = nil) async throws
    -> (summary: FederationSummary, weights: [Float])
{
    let federation = try Federation(configuration: config, train: smallMNIST.train, test: smallMNIST.test)
    let summary = try await ComputeThreads.$taskLimit.withValue(threads) {
        try await federation.run(transport: transport)
    }
    return (summary, try #require(federation.globalWeights))
}

func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }

/// Runs `config` and the same configuration with plain FedAvg; returns the first run's summary and the largest
/// coordinate difference between the two final models.
func compareWithFedAvg(_ config: FederationConfiguration) async throws -> (summary: FederationSummary, worst: Float) {
    var plain = config
    plain.strategy.kind = .fedAvg
    let (a, wa) = try await runKeepingWeights(config)
    let (_, wb) = try await runKeepingWeights(plain)
    return (a, zip(wa, wb).map { abs($0 - $1) }.max()!)
}

@Suite("NISS federations", .serialized)
struct NISSFederationTests {
    /// τ = 0: the shares cancel and the PS gets FedAvg's aggregate (clipping made a no-op by a huge threshold).
    @Test func tauZeroAggregateEqualsFedAvg() async throws {
        for model in [ModelKind.logistic, .mlp] {
            var niss = nissConfiguration(model: model, clients: 10, fraction: 0.5, rounds: 2)
            // No clipping (updates are far below 100), with σ_k = 4.34·0.2·100/1000 ≈ 0.087.
            niss.strategy.dp.clippingThreshold = 100
            niss.strategy.dp.epsilon = 1000
            let (a, worst) = try await compareWithFedAvg(niss)
            #expect(a.rounds.allSatisfy { ($0.realisedNoiseVariance ?? 1) < 1e-12 && $0.expectedNoiseVariance == 0 })
            #expect(worst <= 1e-6, "largest coordinate difference \(worst)")
            // The noise really was there: each upload alone carried about 2σ_k² (2σ_k² ≈ 0.015).
            #expect(a.rounds[0].uploadNoiseVariances.count == 5)
            #expect(a.rounds[0].uploadNoiseVariances.allSatisfy { $0 > 0.01 })
        }
    }

    /// DP strategies clip the update but upload the model p_k·(w_t + clip(Δ_k)), not the update: with negligible
    /// noise and no clipping, DP-FedAvg's model is FedAvg's.
    @Test func dpFedAvgWithNegligibleNoiseIsFedAvg() async throws {
        var dp = smallConfiguration(.dpFedAvg)
        dp.rounds = 2
        dp.strategy.dp.clippingThreshold = 1e3
        dp.strategy.dp.epsilon = 1e12
        let worst = try await compareWithFedAvg(dp).worst
        #expect(worst <= 1e-6, "largest coordinate difference \(worst)")
    }

    /// Theorem 2: the aggregate noise variance is Σ σ_k²·τ_k²; each upload alone carries 2σ_k² at τ = 0.
    @Test func aggregateAndUploadVariancesMatchTheTheorems() async throws {
        // 20 clients × 400 shares = 8,000 distorted shares per round over h = 7,850 coordinates: the realised
        // variance's relative standard error is √(2/8000 + 2/7850) ≈ 2.2% per round, 1.0% over 5 rounds, so the
        // 3% tolerance is three standard errors.
        let run = try await runKeepingWeights(nissConfiguration(tau2: 0.5, shares: 400, rounds: 5)).summary
        var ratios: [Double] = []
        var conditional: [Double] = []
        for r in run.rounds {
            let n = try #require(r.niss)
            #expect(n.shares.allSatisfy { $0 == 400 })
            // Theorem 2's closed form: Σ σ_k² τ_k² with 20 equal σ_k².
            let sigma2 = r.noiseStds[0] * r.noiseStds[0]
            #expect(abs(n.theoremVariance / (20 * sigma2 * 0.5) - 1) < 1e-9)
            let realised = try #require(r.realisedNoiseVariance)
            ratios.append(realised / n.theoremVariance)
            conditional.append(realised / (try #require(n.distortionVariance)))
        }
        #expect(abs(mean(ratios) - 1) < 0.03, "realised / Theorem 2 = \(mean(ratios))")
        // Given the realised s, only coordinate sampling is left: √(2/7850)/√5 ≈ 0.7%; 3% is over four errors.
        #expect(abs(mean(conditional) - 1) < 0.03, "realised / σ²Σ(s−1)² = \(mean(conditional))")

        // τ = 0: every upload alone carries v_k·σ² own + v_k·σ² received = 2σ_k². Each is a mean over 7,850
        // coordinates (relative error 1.6%); the mean over 100 uploads is within 2% with room to spare.
        let zero = try await runKeepingWeights(nissConfiguration(tau2: 0, shares: 16, rounds: 5)).summary
        var perUpload: [Double] = []
        for r in zero.rounds {
            #expect(try #require(r.realisedNoiseVariance) < 1e-12)
            for (v, s) in zip(r.uploadNoiseVariances, r.noiseStds) { perUpload.append(v / (2 * s * s)) }
        }
        #expect(perUpload.count == 100)
        #expect(abs(mean(perUpload) - 1) < 0.02, "upload variance / 2σ_k² = \(mean(perUpload))")
        #expect(perUpload.allSatisfy { abs($0 - 1) < 0.08 })
    }

    /// Theorem 3: with a fraction ρ of the other clients colluding with the PS, the noise left in an honest upload
    /// is (2 − 2ρ + τ²)·σ_k² in expectation.
    @Test(arguments: [0.0, 0.25, 0.5, 0.75, 1.0])
    func collusionLeavesTheTheorem3Variance(rho: Double) async throws {
        // K = 25: ρ·(K − 1) colluders is a whole number for every ρ here, at ρ = 1 one client is honest, and the
        // 600 images split into 24 per client, so every σ_k and v_k is equal.
        var config = nissConfiguration(clients: 25, tau2: 1, shares: 400, rounds: 4)
        config.strategy.niss.collusionFraction = rho
        #expect(config.colluders.count == Int(rho * 24))
        #expect(!config.makeStrategy().warnings.contains { $0.contains("Theorem 3") })  // τ² = 1 ≥ max(2ρ − 1, 0) for every ρ
        let summary = try await runKeepingWeights(config).summary
        let findings = summary.rounds.flatMap { $0.niss?.collusion ?? [] }
        let honest = 25 - Int(rho * 24)
        #expect(findings.count == 4 * honest)
        // Each finding sums ≥ 400 share terms whose variances carry (s − 1)² or s² factors (relative variance ≤ 2)
        // over 7,850 coordinates: relative standard error of the mean ≤ √((2/400 + 2/7850) / n).
        let n = Double(findings.count)
        let tolerance = 4 * ((2.0 / 400 + 2.0 / 7850) / n).squareRoot()
        let residual = mean(findings.map { $0.residualVariance / $0.shareVariance })
        let graph = mean(findings.map { $0.expectedVariance / $0.shareVariance })
        let theorem = NISSShares.collusionResidualFactor(rho: rho, tau2: 1)
        #expect(abs(residual / graph - 1) < tolerance, "residual \(residual) vs share-graph expectation \(graph)")
        // The graph expectation is the theorem's factor at each client's realised colluding fraction…
        #expect(findings.allSatisfy { abs($0.expectedVariance / $0.shareVariance - $0.theoremFactor) < 1e-9 })
        #expect(findings.allSatisfy { $0.shareVariance >= $0.clientVariance * (1 - 1e-12) })
        // …whose mean is 2 − 2ρ + τ² (binomial partner draws: 800 partners per finding).
        let rhoError = 4 * 2 * (max(rho * (1 - rho), 0.01) / (800 * n)).squareRoot()
        #expect(abs(graph - theorem) < rhoError, "mean factor \(graph) vs Theorem 3's \(theorem)")
        #expect(abs(residual - theorem) / theorem < tolerance + rhoError / theorem)
        // τ² ≥ max(2ρ − 1, 0): the honest uploads keep at least σ_k² (Theorem 3's claim), in expectation.
        #expect(mean(findings.map { $0.residualVariance / $0.clientVariance }) > 1 - tolerance)
    }

    @Test func warnsWhenTauIsBelowTheorem3sBound() throws {
        var config = nissConfiguration(clients: 21, tau2: 0.2)
        config.strategy.niss.collusionFraction = 0.75
        config.strategy.niss.clientTau2 = [ClientTau(from: 0, to: 4, tau2: 0.6)]
        let warnings = config.makeStrategy().warnings.filter { $0.contains("Theorem 3") }
        #expect(warnings.count == 1)
        #expect(warnings[0].contains("16 clients"))
        // Without a deadline a client that fails mid-exchange would stall its round: that is warned about too.
        #expect(config.makeStrategy().warnings.contains { $0.contains("deadlineSeconds") })
        config.deadlineSeconds = 60
        #expect(!config.makeStrategy().warnings.contains { $0.contains("deadlineSeconds") })
    }

    /// No share to oneself; bit-identical global models and noise for 1 or 2 threads and reordered shares and uploads.
    @Test func deterministicAcrossThreadsAndMessageOrdersAndNoSelfShares() async throws {
        var config = nissConfiguration(model: .mlp, clients: 10, fraction: 0.5, tau2: 0.6, rounds: 2)
        config.strategy.niss.collusionFraction = 0.3  // the collusion findings must not depend on arrival order
        let a = try await runKeepingWeights(config, threads: 1)
        let faulty = FaultInjectingTransport(wrapping: InProcessTransport<FederationMessage>(), seed: 17)
        // 5 clients × 16 shares = 80 share messages a round: batches of 16 always fill.
        faulty.inject(.reorder(batchSize: 16)) { if case .share = $0.message { return true }; return false }
        faulty.inject(.reorder(batchSize: 5)) { if case .upload = $0.message { return true }; return false }
        let b = try await runKeepingWeights(config, threads: 2, transport: faulty)
        #expect(faulty.log.filter { $0.fault == .reordered }.count > 100)
        #expect(a.weights == b.weights)
        for (x, y) in zip(a.summary.rounds, b.summary.rounds) {
            #expect(x.weightsDigest == y.weightsDigest)
            #expect(x.realisedNoiseVariance == y.realisedNoiseVariance)
            #expect(x.uploadNoiseVariances == y.uploadNoiseVariances)
            #expect(x.niss?.collusion == y.niss?.collusion)
            #expect(!(x.niss?.collusion.isEmpty ?? true))
        }
        let shares = faulty.log.compactMap { entry -> (EndpointID, EndpointID, NoiseShare)? in
            if case .share(let s) = entry.envelope.message { return (entry.envelope.from, entry.envelope.to, s) }
            return nil
        }
        #expect(shares.count == 2 * 80)
        #expect(shares.allSatisfy { from, to, s in from != to && from == .client(s.id.from) && to == .client(s.to) })

        // The CNN (h = 1.66 M) splits share expansion over threads: 1 and 2 threads agree bit for bit.
        let cnn = nissConfiguration(model: .cnn, clients: 10, fraction: 0.2, tau2: 0.3, rounds: 1)
        let one = try await runKeepingWeights(cnn, threads: 1)
        let two = try await runKeepingWeights(cnn, threads: 2)
        #expect(one.weights == two.weights)
        #expect(one.summary.rounds[0].realisedNoiseVariance == two.summary.rounds[0].realisedNoiseVariance)
    }

    /// A duplicated round start (an at-least-once transport) must not make a client abandon its exchange.
    /// Every message through the wire format's bytes, as a socket transport would carry it: the same model bit for
    /// bit, for NISS with dense shares and with diagnostics (so uploads carry their noise vectors), and for DP-FedAvg.
    @Test(arguments: [StrategyKind.niss, .dpFedAvg])
    func overTheWireFormatTheModelIsBitIdentical(kind: StrategyKind) async throws {
        var config = nissConfiguration(clients: 10, fraction: 0.5, tau2: 0.3, rounds: 2)
        config.strategy.kind = kind
        config.strategy.niss.encoding = .dense
        let direct = try await runKeepingWeights(config)
        let wire = SerializingTransport(wrapping: InProcessTransport<FederationMessage>())
        let serialized = try await runKeepingWeights(config, transport: wire)
        #expect(serialized.weights == direct.weights)
        #expect(serialized.summary.rounds.map(\.realisedNoiseVariance)
            == direct.summary.rounds.map(\.realisedNoiseVariance))
        // At least the round starts and uploads (weights, payload, noise: 3 vectors of 7,850 floats per client and
        // round) crossed as 4-byte values.
        #expect(wire.bytesSent > 2 * 5 * 3 * 4 * 7_850)
    }

    @Test func duplicatedRoundStartsAreHarmless() async throws {
        let config = nissConfiguration(clients: 10, fraction: 0.5, tau2: 0.3, rounds: 2)
        let plain = try await runKeepingWeights(config)
        let faulty = FaultInjectingTransport(wrapping: InProcessTransport<FederationMessage>(), seed: 5)
        faulty.inject(.duplicate) { if case .roundStart = $0.message { return true }; return false }
        let doubled = try await runKeepingWeights(config, transport: faulty)
        #expect(faulty.log.filter { $0.fault == .duplicated }.count == 10)
        #expect(doubled.weights == plain.weights)
        #expect(doubled.summary.rounds.allSatisfy { $0.dropped.isEmpty && $0.attempts == 1 })
    }

    /// Dense and seeded shares give the same uploads bit for bit; the seeded ones move ≥ 1,000× fewer bytes.
    @Test func denseAndSeededEncodingsAgree() async throws {
        var config = nissConfiguration(model: .mlp, clients: 10, fraction: 0.5, tau2: 0.3, rounds: 1)
        config.strategy.niss.encoding = .dense
        let dense = try await runKeepingWeights(config)
        config.strategy.niss.encoding = .seeded
        let seeded = try await runKeepingWeights(config)
        #expect(dense.weights == seeded.weights)
        let d = try #require(dense.summary.rounds[0].niss)
        let s = try #require(seeded.summary.rounds[0].niss)
        let h = 199_210
        #expect(d.shareBytes == 80 * (NoiseShare.headerBytes + 4 * h))
        #expect(s.shareBytes == 80 * (NoiseShare.headerBytes + 16))
        #expect(d.denseShareBytes == s.denseShareBytes && d.seededShareBytes == s.seededShareBytes)
        #expect(d.shareBytes / s.shareBytes >= 1_000)
    }

    /// A client whose upload is lost after the exchange: redone without it (default), or accepted with the
    /// unmatched shares' residual noise logged.
    @Test(arguments: [DropoutPolicy.redo, .accept])
    func dropoutAfterTheExchange(policy: DropoutPolicy) async throws {
        var config = nissConfiguration(clients: 10, fraction: 0.5, tau2: 0, rounds: 2)
        config.strategy.niss.dropout = policy
        let federation = try Federation(configuration: config, train: smallMNIST.train, test: smallMNIST.test)
        let transport = FaultInjectingTransport(wrapping: InProcessTransport<FederationMessage>(), seed: 3)
        transport.inject(.drop, limit: 1) { if case .upload(let u, _) = $0.message { return u.round == 1 }; return false }
        async let summary = federation.run(transport: transport)
        var answered = 0
        for await event in federation.events {
            if case .uploadReceived(1, _) = event {
                answered += 1
                if answered == 4 {  // everyone else has answered: the deadline passes (no sleeping)
                    try await transport.send(.deadline(round: 1), from: .parameterServer, to: .parameterServer)
                }
            }
            if case .finished = event { break }
        }
        let round1 = try await summary.rounds[0]
        let lost = try #require(transport.log.first { $0.fault == .dropped }.flatMap { entry -> Int? in
            if case .upload(let u, _) = entry.envelope.message { return u.client }
            return nil
        })
        #expect(round1.dropped == [lost])
        let n = try #require(round1.niss)
        switch policy {
        case .redo:
            #expect(round1.attempts == 2)
            #expect(n.unmatched.isEmpty && n.shares.count == 4)
            #expect(try #require(round1.realisedNoiseVariance) < 1e-12)
        case .accept:
            #expect(round1.attempts == 1)
            #expect(n.unmatched == [lost])
            // 16 shares the lost client created (added, negated, by the others) and 16 it never negated: 32σ²,
            // over (Σ p_k)² = (4/5)². Coordinate sampling over 7,850: 1.6% relative error; 8% is five errors.
            let sigma2 = n.unitNoiseVariance
            #expect(abs(n.theoremVariance / (32 * sigma2 / 0.64) - 1) < 1e-9)
            let realised = try #require(round1.realisedNoiseVariance)
            #expect(abs(realised / n.theoremVariance - 1) < 0.08, "realised \(realised) vs \(n.theoremVariance)")
        }
    }

    /// Two participants, one upload lost: no exchange is possible among one client, so the round is skipped and the
    /// model kept, rather than aggregating an upload full of unmatched shares.
    @Test func redoWithOneClientLeftSkipsTheRound() async throws {
        let config = nissConfiguration(clients: 10, fraction: 0.2, tau2: 0, rounds: 1)
        let federation = try Federation(configuration: config, train: smallMNIST.train, test: smallMNIST.test)
        let transport = FaultInjectingTransport(wrapping: InProcessTransport<FederationMessage>(), seed: 3)
        transport.inject(.drop, limit: 1) { if case .upload = $0.message { return true }; return false }
        async let summary = federation.run(transport: transport)
        for await event in federation.events {
            if case .uploadReceived(1, _) = event {
                try await transport.send(.deadline(round: 1, attempt: 0), from: .parameterServer, to: .parameterServer)
            }
            if case .finished = event { break }
        }
        let round = try await summary.rounds[0]
        #expect(round.skipped)
        #expect(round.dropped.count == 2)
        #expect(round.niss == nil)
        let initial = federation.network.initialParameters(key: StreamPurpose.initialWeights.key(seed: config.seed))
        #expect(federation.globalWeights == initial)
    }

    @Test func configurationErrorsNameTheKey() async throws {
        var config = nissConfiguration(clients: 10, fraction: 0.1)
        #expect(throws: ConfigurationError.self) { try config.validate() }
        do { try config.validate() } catch { #expect(error.keyPath == "clients.fraction") }
        config = nissConfiguration(clients: 10, fraction: 0.5)
        config.strategy.niss.collusionFraction = 0.5
        config.diagnostics = false
        do { try config.validate(); Issue.record("collusion without diagnostics accepted") } catch {
            #expect(error.keyPath == "diagnostics")
        }
        // The paper's σ² = 0.01 against σ_k² ≈ 0.068 gives v = 7 shares, below the default minimum of 8.
        config = nissConfiguration(clients: 10, fraction: 0.5)
        config.strategy.niss.unitNoiseVariance = 0.01
        config.strategy.niss.minimumShares = 8
        do {
            _ = try await runKeepingWeights(config)
            Issue.record("a run with too few shares started")
        } catch let error as ConfigurationError {
            #expect(error.keyPath == "strategy.niss.unitNoiseVariance")
        }
    }
}
