// NISSStrategy: NISS (NISS paper Alg. 2) as a strategy: DP-FedAvg's σ_k, split into shares exchanged through the tracker.
import FedPrivacy
import FedStrategy

/// NISS (NISS paper Alg. 2, with spec B.3's correction): a sampled client computes DP-FedAvg's σ_k, splits its noise
/// into v_k = ⌈σ_k²/σ²⌉ shares of variance σ² sent negated to neighbours the tracker picks, distorts every share it
/// receives by s ~ N(1, τ_k²), and uploads p_k·clip(w_k) + Σ n_i + Σ s_j·r_j. The server averages as FedAvg does;
/// the aggregate keeps Σ σ_k²·τ_k² of noise (Theorem 2).
public struct NISS: FederatedStrategy {
    public let dp: DPConfiguration
    public let niss: NISSConfiguration
    public let rounds: Int
    /// Clients that reveal their shares to the PS (a collusion study).
    public let colluders: Set<Int>
    /// For the warnings: K and whether rounds have a deadline.
    let clientCount: Int
    let hasDeadline: Bool

    public init(dp: DPConfiguration, niss: NISSConfiguration, rounds: Int, colluders: Set<Int> = [],
                clientCount: Int, hasDeadline: Bool) {
        self.dp = dp
        self.niss = niss
        self.rounds = rounds
        self.colluders = colluders
        self.clientCount = clientCount
        self.hasDeadline = hasDeadline
    }

    public var name: String { "NISS" }
    public var addsNoise: Bool { true }

    /// σ² and every v_k for the attempt's participants (spec B.11 items 2–3).
    public func plan(participants: [Int], samples: [Int]) throws(ConfigurationError) -> NISSPlan {
        try NISSPlan.make(dp: dp, niss: niss, rounds: rounds, participants: participants, samples: samples)
    }

    public func roundParameters(round: Int, participants: [Int], samples: [Int]) throws -> RoundParameters {
        RoundParameters(unitNoiseVariance: try plan(participants: participants, samples: samples).unitVariance)
    }

    public func noiseExchange(_ c: ExchangeContext) throws -> NoiseExchangePlan? {
        guard let unit = c.parameters.unitNoiseVariance else { return nil }
        let sigma = try dp.noiseStd(client: c.client, weight: c.weight, samples: c.samples, rounds: rounds)
        return NoiseExchangePlan(
            unitVariance: unit, shareCount: NISSShares.shareCount(clientVariance: sigma * sigma, unitVariance: unit),
            tau2: niss.tau2(client: c.client), encoding: niss.encoding, reveal: colluders.contains(c.client))
    }

    public func prepareUpload(_ context: UploadContext) throws -> PreparedUpload {
        try clippedWeightedModel(context, dp: dp, rounds: rounds)
    }

    /// A client that dropped after the exchange left unmatched shares: redo without it (default), needing two
    /// clients for an exchange, or aggregate anyway and report the residual.
    public func afterDropouts(_ dropped: [Int]) -> DropoutDecision {
        niss.dropout == .redo ? .redo(minimumClients: 2) : .aggregate
    }

    public func makeRoundObserver(_ context: RoundObserverContext) throws -> (any RoundObserver)? {
        // σ² is what `roundParameters` broadcast for this attempt; each upload reports its own v_k.
        guard let unit = context.parameters.unitNoiseVariance else { return nil }
        return NISSRoundObserver(unitVariance: unit, collusion: context.diagnostics
            ? CollusionAnalysis(colluders: colluders, unitVariance: unit, length: context.length) : nil)
    }

    public func privacy(releases: [Int], samples: [Int], rounds: Int) throws -> PrivacyGuarantee {
        perUpload(try worstClientGuarantee(dp: dp, releases: releases, samples: samples, rounds: rounds))
    }

    public func clientLevelNoise(client: Int, samples: Int, rounds: Int) throws -> ClientLevelNoise? {
        try dp.clientLevelNoise(client: client, samples: samples, rounds: rounds)
    }

    public func privacy(ledger: ClientPrivacyLedger, samples: [Int], rounds: Int) throws -> PrivacyGuarantee {
        perUpload(try worstClientGuarantee(dp: dp, accountants: ledger.clientLevel))
    }

    /// NISS's uploads are private one by one, the run as a whole is not.
    private func perUpload(_ worst: PrivacyGuarantee) -> PrivacyGuarantee {
        guard let epsilon = worst.epsilon, case .dp(_, let delta, let method) = worst else { return worst }
        return .perReleaseOnly(
            epsilon: epsilon, delta: delta, accountant: method,
            reason: "under NISS each client's uploads, taken alone, carry its own noise (≥ σ_k² per round), but "
                + "the server sums them and the shares cancel: the model carries only Σ σ_k²·τ_k² "
                + "(nothing at τ = 0), and Theorem 3's collusion bound is a variance argument, not a proof")
    }

    /// Theorem 3's warnings: clients whose τ_k² < max(2ρ − 1, 0), and a run without a deadline.
    public var warnings: [String] {
        var result: [String] = []
        if !hasDeadline {
            result.append("NISS without deadlineSeconds: a client that fails before or during the share exchange "
                          + "stalls its round for good (set deadlineSeconds to redo such rounds without it)")
        }
        let needed = NISSShares.minimumTau2(rho: niss.collusionFraction)
        let weak = (0..<clientCount).filter { niss.tau2(client: $0) < needed }
        guard !weak.isEmpty else { return result }
        let list = weak.count > 8 ? "\(weak.count) clients" : "clients \(weak.map(String.init).joined(separator: ", "))"
        return result + ["Theorem 3: with ρ = \(niss.collusionFraction) colluding, τ_k² must be ≥ max(2ρ − 1, 0) = "
                         + "\(needed); \(list) have less, so colluders and the PS can strip their uploads below σ_k²"]
    }
}
