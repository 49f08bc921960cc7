// ServerMachine+Privacy: the per-client ledger's bookkeeping: sampling steps, uploads, the budget gate, round figures.
import FedPrivacy
import FedStrategy

extension ServerMachine {
    /// Who may be sampled this round under the budget, or why the run ends here.
    enum Admission {
        case eligible([Int])
        case stop(String)
    }

    /// q of one client-level step: C under Poisson client sampling, 1 (no amplification) under fixed-size sampling.
    var clientSampleRate: Double { settings.sampling == .poisson ? settings.fraction : 1 }

    /// Client k's cumulative client-level ε after one more step at ``clientSampleRate`` (nil: k has no client-level
    /// accountant).
    mutating func epsilonAfterNextStep(_ k: Int) throws -> Double? {
        guard let noise = clientNoise[k] else { return nil }
        var next = ledger.clientLevel[k]
        try next.step(noiseMultiplier: noise.noiseMultiplier, sampleRate: clientSampleRate)
        return try epsilonCache.epsilon(next, delta: noise.delta)
    }

    /// The budget gate before sampling. `stop` under Poisson sampling: every live client would spend this round, so
    /// any one past the budget ends the run (under fixed sampling ``refuse(_:)`` checks the cohort instead).
    /// `excludeClients`: clients past the budget after this round are not sampled; the run ends when fewer remain
    /// than a round needs (m under fixed sampling, 1 under Poisson).
    mutating func admit(live: [Int]) throws -> Admission {
        excludedThisRound = 0
        guard let budget = settings.budget else { return .eligible(live) }
        var within: [Int] = [], over: [(client: Int, epsilon: Double)] = []
        for k in live {
            if let e = try epsilonAfterNextStep(k), e > budget.totalEpsilon { over.append((k, e)) } else { within.append(k) }
        }
        let limit = "strategy.dp.totalEpsilon = \(budget.totalEpsilon)"
        switch budget.policy {
        case .stop:
            guard settings.sampling == .poisson, let first = over.first else { return .eligible(live) }
            return .stop("privacy budget: round \(round) would take client \(first.client) to ε = "
                         + "\(first.epsilon) > \(limit) (Poisson sampling: every client spends each round); "
                         + "the run stopped after round \(round - 1)")
        case .excludeClients:
            excludedThisRound = over.count
            let m = max(Int((settings.fraction * Double(settings.clientCount)).rounded(.down)), 1)
            let needed = settings.sampling == .poisson ? 1 : min(m, live.count)
            guard within.count >= needed, !within.isEmpty else {
                return .stop("privacy budget: only \(within.count) client(s) can take part in round \(round) without "
                             + "passing \(limit), a round needs \(needed); the run stopped after round \(round - 1)")
            }
            return .eligible(within)
        }
    }

    /// Under fixed sampling and the `stop` policy: why the sampled cohort may not run (a client would pass the
    /// budget), or nil.
    mutating func refuse(_ cohort: [Int]) throws -> String? {
        guard let budget = settings.budget, budget.policy == .stop, settings.sampling == .fixed else { return nil }
        for k in cohort {
            if let e = try epsilonAfterNextStep(k), e > budget.totalEpsilon {
                return "privacy budget: round \(round) would take sampled client \(k) to ε = \(e) > "
                    + "strategy.dp.totalEpsilon = \(budget.totalEpsilon); the run stopped after round \(round - 1)"
            }
        }
        return nil
    }

    /// Poisson client sampling: every client that could have been sampled spends one (z_k, q = C) step, whether or
    /// not its coin came up (that is what amplification by subsampling accounts).
    mutating func accountSampling(eligible: [Int]) throws {
        guard settings.sampling == .poisson else { return }
        for k in eligible {
            guard let noise = clientNoise[k] else { continue }
            try ledger.recordClientLevel(client: k, noiseMultiplier: noise.noiseMultiplier,
                                         sampleRate: settings.fraction)
        }
    }

    /// The server received `upload`: a release. Fixed sampling: a (z_k, q = 1) step. Poisson: the round's q-step
    /// covers the first upload; a further one in the same round (a redone attempt) is a (z_k, q = 1) step. The
    /// DP-SGD steps the client ran for it go to its example-level accountant.
    mutating func recordUpload(_ upload: ClientUpload) throws {
        let k = upload.client
        let first = uploadedThisRound.insert(k).inserted
        ledger.recordRelease(client: k, newRound: first)
        if let noise = clientNoise[k], settings.sampling == .fixed || !first {
            try ledger.recordClientLevel(client: k, noiseMultiplier: noise.noiseMultiplier, sampleRate: 1)
        }
        if let dp = upload.exampleLevel {
            try ledger.recordExampleLevel(client: k, noiseMultiplier: dp.noiseMultiplier, sampleRate: dp.sampleRate,
                                          steps: dp.steps)
        }
    }

    /// The weakest example-level (DP-SGD) guarantee over the clients that ran any step (nil without DP-SGD).
    func exampleLevelGuarantee() throws -> PrivacyGuarantee? {
        guard let delta = settings.exampleDelta else { return nil }
        var worst: PrivacyGuarantee = .none(reason: "no client ran a DP-SGD step")
        var worstEpsilon = -1.0
        for accountant in ledger.exampleLevel where accountant.steps > 0 {
            let g = try PrivacyGuarantee.accounted(by: accountant, delta: delta)
            let e = g.epsilon ?? .infinity
            if e > worstEpsilon { (worst, worstEpsilon) = (g, e) }
        }
        return worst
    }

    /// Every accounted client's cumulative ε after the round, and the worst of each kind.
    mutating func roundPrivacy() throws -> RoundPrivacy? {
        let hasExample = !ledger.exampleLevel.isEmpty
        guard hasExample || clientNoise.contains(where: { $0 != nil }) else { return nil }
        var entries: [ClientPrivacyEntry] = []
        var worst: (client: Int, epsilon: Double)?
        var worstExample: Double?
        for k in 0..<settings.clientCount {
            let accountant = ledger.clientLevel[k]
            let exampleSteps = hasExample ? ledger.exampleSteps[k] : 0
            guard accountant.steps > 0 || exampleSteps > 0 else { continue }
            let epsilon = try clientNoise[k].map { try epsilonCache.epsilon(accountant, delta: $0.delta) } ?? 0
            var entry = ClientPrivacyEntry(client: k, roundsParticipated: ledger.roundsParticipated[k],
                                           epsilon: epsilon)
            if hasExample, let delta = settings.exampleDelta {
                let e = try epsilonCache.epsilon(ledger.exampleLevel[k], delta: delta)
                entry.exampleEpsilon = e
                entry.exampleSteps = exampleSteps
                worstExample = max(worstExample ?? 0, e)
            }
            if clientNoise[k] != nil, worst == nil || epsilon > worst!.epsilon { worst = (k, epsilon) }
            entries.append(entry)
        }
        var result = RoundPrivacy(epsilonWorstClient: worst?.epsilon, worstClient: worst?.client,
                                  epsilonWorstExample: worstExample, clients: entries)
        result.excludedClients = excludedThisRound
        return result
    }
}
