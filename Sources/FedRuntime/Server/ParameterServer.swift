// ParameterServer: the PS actor: samples clients, broadcasts the global model, sums uploads, evaluates.
import FedNN
import FedPrivacy
import FedStrategy
import FedTensor
import FedTransport
import Foundation

/// The parameter server: a thin shell that carries out `RoundStateMachine`'s decisions over the transport.
actor ParameterServer {
    private let configuration: FederationConfiguration
    private let network: Network
    private let test: any SampleSource
    private let samplesOf: [Int]
    private let transport: any Transport<FederationMessage>
    private let mailbox: Mailbox<FederationMessage>
    private let emit: @Sendable (FederationEvent) -> Void
    private var weights: [Float]
    private var machine: RoundStateMachine
    private var participations: [Int]
    private var niss: Bool { configuration.strategy.kind == .niss }
    private let colluders: Set<Int>

    init(configuration: FederationConfiguration, network: Network, initialWeights: [Float], test: any SampleSource,
         samplesOf: [Int], transport: any Transport<FederationMessage>, mailbox: Mailbox<FederationMessage>,
         emit: @escaping @Sendable (FederationEvent) -> Void) {
        self.configuration = configuration
        self.network = network
        self.test = test
        self.samplesOf = samplesOf
        self.transport = transport
        self.mailbox = mailbox
        self.emit = emit
        self.weights = initialWeights
        self.machine = RoundStateMachine(length: network.parameterCount)
        self.participations = [Int](repeating: 0, count: samplesOf.count)
        self.colluders = configuration.colluders
    }

    var globalWeights: [Float] { weights }

    /// Runs every round, then tells everyone to stop. Returns the run's summary.
    func run() async throws -> FederationSummary {
        let started = Date()
        var iterator = mailbox.makeAsyncIterator()
        var reports: [RoundReport] = []
        let evaluation = Workspace(network: network, capacity: network.parameterCount > 1_000_000 ? 100 : 500)
        for round in 1...configuration.rounds {
            let t0 = Date()
            try await transport.send(.liveClientsRequest(round: round), from: .parameterServer, to: .tracker)
            var live: [Int]?
            while live == nil {
                guard let envelope = await iterator.next() else { throw FederationError.mailboxClosed }
                if case .liveClients(round, let clients) = envelope.message { live = clients }
            }
            let sampled = RoundStateMachine.sample(
                live: live!, fraction: configuration.clients.fraction, totalClients: configuration.clients.count,
                key: StreamPurpose.sampling.key(seed: configuration.seed, round))
            emit(.roundStarted(round: round, sampled: sampled))
            var participants = sampled
            var attempt = 0
            var allDropped: [Int] = []
            var outcome: (weights: [Float]?, reports: [ClientUpload], noise: [Float]?, dropped: [Int])
            var plan: NISSPlan?
            var uploadNoise: [Int: Double] = [:]
            var collusion: CollusionAnalysis?
            var skipped = false
            while true {
                do {
                    plan = try makePlan(participants)
                } catch {
                    // A redo among fewer clients may have no share graph: skip the round rather than stop the run.
                    guard attempt > 0 else { throw error }
                    outcome = (nil, [], nil, participants)
                    allDropped += participants
                    skipped = true
                    break
                }
                // With diagnostics on, what a colluding PS could strip from each honest upload (with no colluders:
                // each upload's own noise, (2 + τ_k²)·σ_k² by Theorem 3 at ρ = 0).
                collusion = plan.flatMap { p in
                    configuration.collectsNoise
                        ? CollusionAnalysis(colluders: colluders, unitVariance: p.unitVariance,
                                            length: network.parameterCount) : nil
                }
                uploadNoise = [:]
                machine.start(round: round, sampled: participants, samples: participants.map { samplesOf[$0] },
                              diagnostics: configuration.collectsNoise, attempt: attempt)
                let start = RoundStart(round: round, weights: weights, sampledSamples: machine.sampledSamples,
                                       participants: participants, attempt: attempt,
                                       unitNoiseVariance: plan?.unitVariance)
                for client in participants {
                    try await transport.send(.roundStart(start), from: .parameterServer, to: .client(client))
                }
                let timer = deadlineTimer(round: round, attempt: attempt)
                defer { timer?.cancel() }
                collecting: while true {
                    guard let envelope = await iterator.next() else { throw FederationError.mailboxClosed }
                    let action: RoundStateMachine.Action
                    switch envelope.message {
                    case .upload(let upload):
                        action = machine.receive(upload)
                        if case .ignore = action {} else {
                            if let n = upload.diagnosticNoise { uploadNoise[upload.client] = meanSquare(n) }
                            collusion?.add(upload)
                            emit(.uploadReceived(round: round, client: upload.client))
                        }
                    case .deadline(let r, let a):
                        action = machine.deadlinePassed(round: r, attempt: a)
                    default:
                        continue
                    }
                    if case .aggregate = action { break collecting }
                }
                timer?.cancel()
                outcome = machine.finish()
                allDropped += outcome.dropped
                // Every upload the PS received is a release, redone rounds included (the redo retrains to the same
                // w_k and adds fresh noise, so the PS sees w_k twice): all count for the accountant.
                for r in outcome.reports { participations[r.client] += 1 }
                // NISS: a client that dropped after the exchange left unmatched shares. Redo without it (default);
                // with fewer than 2 clients left no exchange is possible and the round is skipped.
                let remaining = participants.filter { !outcome.dropped.contains($0) }
                if niss, !outcome.dropped.isEmpty, configuration.strategy.niss.dropout == .redo {
                    guard remaining.count >= 2 else {
                        allDropped += remaining
                        outcome = (nil, [], nil, participants)
                        skipped = true
                        break
                    }
                    participants = remaining
                    attempt += 1
                    continue
                }
                break
            }
            if let w = outcome.weights { weights = w }
            var report = RoundReport(
                round: round, sampled: sampled, dropped: allDropped,
                meanTrainLoss: outcome.reports.map(\.trainLoss).reduce(0, +) / Double(max(outcome.reports.count, 1)),
                testAccuracy: nil, testLoss: nil, noiseStds: outcome.reports.map(\.noiseStd),
                expectedNoiseVariance: expectedNoiseVariance(outcome.reports),
                realisedNoiseVariance: outcome.noise.map(meanSquare), seconds: 0, weightsDigest: digest(weights))
            report.uploadNoiseVariances = outcome.reports.compactMap { uploadNoise[$0.client] }
            report.attempts = attempt + 1
            report.skipped = skipped
            if let plan, !skipped {
                report.niss = nissReport(plan: plan, reports: outcome.reports, dropped: outcome.dropped,
                                         collusion: collusion?.findings() ?? [])
                report.expectedNoiseVariance = report.niss!.theoremVariance
            }
            if round % configuration.evaluateEvery == 0 || round == configuration.rounds {
                let e = evaluate(network, parameters: weights, on: test, workspace: evaluation)
                report.testAccuracy = e.accuracy
                report.testLoss = e.loss
            }
            report.seconds = Date().timeIntervalSince(t0)
            reports.append(report)
            emit(.roundCompleted(report))
        }
        try await transport.send(.stop, from: .parameterServer, to: .tracker)
        for client in 0..<configuration.clients.count {
            try await transport.send(.stop, from: .parameterServer, to: .client(client))
        }
        let evaluated = reports.last { $0.testAccuracy != nil }
        return FederationSummary(
            name: configuration.name, rounds: reports, finalTestAccuracy: evaluated?.testAccuracy,
            finalTestLoss: evaluated?.testLoss, privacy: try privacyGuarantee(),
            seconds: Date().timeIntervalSince(started))
    }

    /// NISS's σ² and v_k for `participants` (nil for the other strategies).
    private func makePlan(_ participants: [Int]) throws -> NISSPlan? {
        guard niss else { return nil }
        return try NISSPlan.make(configuration, participants: participants, samples: participants.map { samplesOf[$0] })
    }

    /// Σ σ_k² / (Σ p_k)²: the expected per-coordinate noise variance of the (renormalised) aggregate.
    private func expectedNoiseVariance(_ reports: [ClientUpload]) -> Double {
        let total = reports.map(\.weight).reduce(0, +)
        guard total > 0 else { return 0 }
        return reports.map { $0.noiseStd * $0.noiseStd }.reduce(0, +) / (total * total)
    }

    private func deadlineTimer(round: Int, attempt: Int) -> Task<Void, Never>? {
        guard let seconds = configuration.deadlineSeconds else { return nil }
        let transport = self.transport
        return Task {
            try? await Task.sleep(for: .seconds(seconds))
            guard !Task.isCancelled else { return }
            try? await transport.send(.deadline(round: round, attempt: attempt), from: .parameterServer,
                                      to: .parameterServer)
        }
    }

    /// The weakest guarantee over clients that took part, from the RDP accountant over each one's participations.
    private func privacyGuarantee() throws -> PrivacyGuarantee {
        let strategy = configuration.strategy
        guard strategy.kind.usesDP else { return .none(reason: "FedAvg adds no noise") }
        let dp = strategy.dp
        var worst: PrivacyGuarantee?
        for (client, count) in participations.enumerated() where count > 0 {
            var accountant = RDPAccountant()
            let z = try dp.noiseMultiplier(client: client, samples: samplesOf[client], rounds: configuration.rounds)
            try accountant.step(noiseMultiplier: z, sampleRate: 1, count: count)
            let g = try PrivacyGuarantee.accounted(by: accountant, delta: dp.budget(client: client).delta)
            if worst == nil || (g.epsilon ?? .infinity) > (worst!.epsilon ?? .infinity) { worst = g }
        }
        guard let worst else { return .none(reason: "no client took part") }
        if dp.sensitivity == .nbafl {
            return .none(reason: "NbAFL's 2C/d_k sensitivity is a lemma about training, not enforced by clipping; "
                         + "the accountant's nominal value would be \(worst)")
        }
        if strategy.kind == .niss, let epsilon = worst.epsilon, case .dp(_, let delta, let method) = worst {
            return .perReleaseOnly(
                epsilon: epsilon, delta: delta, accountant: method,
                reason: "under NISS each client's uploads, taken alone, carry its own noise (≥ σ_k² per round), but "
                    + "the server sums them and the shares cancel: the model carries only Σ σ_k²·τ_k² "
                    + "(nothing at τ = 0), and Theorem 3's collusion bound is a variance argument, not a proof")
        }
        return worst
    }

    /// The round's NISS figures from the uploads' exchange reports (Theorem 2 over the realised share graph).
    private func nissReport(plan: NISSPlan, reports: [ClientUpload], dropped: [Int],
                            collusion: [CollusionFinding]) -> NISSRoundReport {
        let sigma2 = plan.unitVariance
        let gone = Set(dropped)
        let total = reports.map(\.weight).reduce(0, +)
        let norm = total > 0 ? 1 / (total * total) : 0
        var theorem = 0.0
        var distortion: Double? = 0
        var bytes = 0, dense = 0, seeded = 0
        for r in reports {
            guard let n = r.niss else { continue }
            for id in n.incoming { theorem += sigma2 * (gone.contains(id.from) ? 1 + n.tau2 : n.tau2) }
            theorem += sigma2 * Double(n.targets.filter { gone.contains($0) }.count)
            if let d = n.distortion, distortion != nil { distortion! += d } else { distortion = nil }
            bytes += n.shareBytes
            dense += n.denseBytes
            seeded += n.seededBytes
        }
        return NISSRoundReport(
            unitNoiseVariance: sigma2, shares: reports.map { plan.shares[$0.client] ?? 0 }, shareBytes: bytes,
            denseShareBytes: dense, seededShareBytes: seeded, theoremVariance: theorem * norm,
            distortionVariance: distortion.map { $0 * norm }, unmatched: dropped, collusion: collusion)
    }
}

/// FNV-1a over the bit patterns of `v`, as 16 hex digits.
func digest(_ v: [Float]) -> String {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for x in v {
        h = (h ^ UInt64(x.bitPattern)) &* 0x0000_0100_0000_01B3
    }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

func meanSquare(_ v: [Float]) -> Double {
    v.withUnsafeBufferPointer { sumOfSquares($0.baseAddress!, count: $0.count) } / Double(max(v.count, 1))
}

/// Why a federation could not run.
public enum FederationError: Error, CustomStringConvertible {
    case mailboxClosed
    case invalidData(String)

    public var description: String {
        switch self {
        case .mailboxClosed: "the parameter server's mailbox closed before the run ended"
        case .invalidData(let why): why
        }
    }
}
