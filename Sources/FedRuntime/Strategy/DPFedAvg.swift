// DPFedAvg: client-based DP-FedAvg (NISS paper Alg. 1) as a strategy: clip, scale by p_k, add N(0, σ_k²), account.
import FedPrivacy
import FedStrategy
import FedTensor

/// Client-based DP-FedAvg (NISS paper Alg. 1, `ClientUpdate`): clip the update (or the parameters) to ζ, upload
/// p_k·w_k + n_k with n_k ~ N(0, σ_k²·I) in the p_k-weighted domain (spec B.11 item 5). The run's guarantee is the
/// worst client's, from the RDP accountant over the rounds it uploaded in.
public struct DPFedAvg: FederatedStrategy {
    public let dp: DPConfiguration
    /// T: total rounds (for `nbaflLinear` composition).
    public let rounds: Int

    public init(dp: DPConfiguration, rounds: Int) {
        self.dp = dp
        self.rounds = rounds
    }

    public var name: String { "DP-FedAvg" }
    public var addsNoise: Bool { true }

    public func prepareUpload(_ context: UploadContext) throws -> PreparedUpload {
        var upload = try clippedWeightedModel(context, dp: dp, rounds: rounds)
        guard upload.noiseStd > 0 else { return upload }
        var n = [Float](repeating: 0, count: upload.payload.count)
        n.withUnsafeMutableBufferPointer { fillGaussian($0, key: context.noiseKey, std: Float(upload.noiseStd)) }
        upload.payload.withUnsafeMutableBufferPointer { w in
            n.withUnsafeBufferPointer { axpy(1, $0.baseAddress!, w.baseAddress!, count: w.count) }
        }
        if context.keepNoise { upload.noise = n }
        return upload
    }

    public func privacy(releases: [Int], samples: [Int], rounds: Int) throws -> PrivacyGuarantee {
        try worstClientGuarantee(dp: dp, releases: releases, samples: samples, rounds: rounds)
    }

    public func clientLevelNoise(client: Int, samples: Int, rounds: Int) throws -> ClientLevelNoise? {
        try dp.clientLevelNoise(client: client, samples: samples, rounds: rounds)
    }

    public func privacy(ledger: ClientPrivacyLedger, samples: [Int], rounds: Int) throws -> PrivacyGuarantee {
        try worstClientGuarantee(dp: dp, accountants: ledger.clientLevel)
    }
}

extension DPConfiguration {
    /// z_k and δ_k for the ledger; nil under NbAFL's sensitivity, which clipping does not enforce.
    func clientLevelNoise(client: Int, samples: Int, rounds: Int) throws -> ClientLevelNoise? {
        guard sensitivity != .nbafl else { return nil }
        return ClientLevelNoise(noiseMultiplier: try noiseMultiplier(client: client, samples: samples, rounds: rounds),
                                delta: budget(client: client).delta)
    }
}

extension FederatedStrategy {
    /// p_k·clip(w_k) and σ_k, without noise (NISS paper Alg. 1 and 2, `ClientUpdate`): the update w_k − w_t (or w_k
    /// itself) clipped to ζ in L2, then scaled by p_k; σ_k = c(δ_k)·p_k·Δ/ε_k.
    public func clippedWeightedModel(_ context: UploadContext, dp: DPConfiguration,
                                     rounds: Int) throws -> PreparedUpload {
        var w = context.trained
        let preClip: Double
        switch dp.clipTarget {
        case .update: preClip = Clipping.clipAroundReference(&w, reference: context.global, maxNorm: dp.clippingThreshold)
        case .parameters: preClip = Clipping.clip(&w, maxNorm: dp.clippingThreshold)
        }
        let sigma = try dp.noiseStd(client: context.client, weight: context.weight, samples: context.samples,
                                    rounds: rounds)
        let p = Float(context.weight)
        w.withUnsafeMutableBufferPointer { scale($0.baseAddress!, by: p, count: $0.count) }
        return PreparedUpload(payload: w, noiseStd: sigma, preClipNorm: preClip)
    }

    /// The weakest guarantee over clients that uploaded, each from the RDP accountant over its `releases` (sampling
    /// rate 1 per round: fixed-size client sampling gets no amplification). NbAFL's sensitivity earns none.
    /// Relation: add/remove one client's (clipped) update, the cohort's sample counts D_t being public.
    public func worstClientGuarantee(dp: DPConfiguration, releases: [Int], samples: [Int],
                                     rounds: Int) throws -> PrivacyGuarantee {
        var accountants = [RDPAccountant](repeating: RDPAccountant(), count: releases.count)
        for (client, count) in releases.enumerated() where count > 0 {
            let z = try dp.noiseMultiplier(client: client, samples: samples[client], rounds: rounds)
            try accountants[client].step(noiseMultiplier: z, sampleRate: 1, count: count)
        }
        return try worstClientGuarantee(dp: dp, accountants: accountants)
    }

    /// The weakest guarantee over the clients whose accountant recorded anything (client k at its δ_k).
    public func worstClientGuarantee(dp: DPConfiguration, accountants: [RDPAccountant]) throws -> PrivacyGuarantee {
        var worst: PrivacyGuarantee?
        for (client, accountant) in accountants.enumerated() where accountant.steps > 0 {
            let g = try PrivacyGuarantee.accounted(by: accountant, delta: dp.budget(client: client).delta)
            if worst == nil || (g.epsilon ?? .infinity) > (worst!.epsilon ?? .infinity) { worst = g }
        }
        guard let worst else { return .none(reason: "no client took part") }
        if dp.sensitivity == .nbafl {
            return .none(reason: "NbAFL's 2C/d_k sensitivity is a lemma about training, not enforced by clipping; "
                         + "the accountant's nominal value would be \(worst)")
        }
        return worst
    }
}
