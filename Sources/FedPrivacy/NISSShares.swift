// NISSShares: the share arithmetic of NISS (Yang et al. 2021, Alg. 2; spec B.3, B.5, B.11): σ², v_k and the theorems.

/// The pure formulas of noise-information secret sharing. A client's DP noise n_k ~ N(0, σ_k²·I) is the sum of
/// v_k shares n_i ~ N(0, σ²·I) (spec B.3, correction 1: each share has the *unit* variance σ²); each negated share goes
/// to a neighbour, who multiplies it by its own scalar s ~ N(1, τ²) before adding it to its upload.
public enum NISSShares {
    /// v_k = ⌈σ_k² / σ²⌉ (spec B.11 item 2: conservative, own noise variance v_k·σ² ≥ σ_k²). A ratio within
    /// 1e-9 (relative) of a whole number counts as that number, so σ² = σ_k²/16 gives exactly 16 shares.
    public static func shareCount(clientVariance: Double, unitVariance: Double) -> Int {
        precondition(clientVariance >= 0 && unitVariance > 0, "variances must be positive")
        let ratio = clientVariance / unitVariance
        // Saturate instead of trapping in Int(_:) when σ² is tiny next to σ_k² (callers bound v_k).
        guard ratio < 9.2e18 else { return Int.max }
        let nearest = ratio.rounded()
        if nearest >= 1, abs(ratio - nearest) <= 1e-9 * nearest { return Int(nearest) }
        return max(Int(ratio.rounded(.up)), 1)
    }

    /// The default unit variance σ² = min_k σ_k² / v_target (spec B.11 item 3), so the least noisy client sends
    /// v_target shares and every other client at least as many.
    public static func defaultUnitVariance(clientVariances: [Double], targetShares: Int) -> Double {
        precondition(!clientVariances.isEmpty && targetShares >= 1)
        return clientVariances.min()! / Double(targetShares)
    }

    /// Lemma 1 and Theorem 2 (send-to-neighbour form, spec B.11 item 4): the aggregate noise variance per coordinate
    /// after offsetting is σ²·Σ_l (shares received by l)·τ_l². With every client receiving v_l = σ_l²/σ² shares this
    /// is Σ σ_l²·τ_l². `received[l]` and `tau2[l]` are client l's count and τ_l².
    public static func aggregateVariance(unitVariance: Double, received: [Int], tau2: [Double]) -> Double {
        precondition(received.count == tau2.count)
        return unitVariance * zip(received, tau2).reduce(0) { $0 + Double($1.0) * $1.1 }
    }

    /// Theorem 3's effective variance factor: with a fraction ρ of a client's partners colluding with the PS, the
    /// noise the coalition cannot remove from its upload is (2 − 2ρ + τ²)·σ_k² in expectation (Appendix A, with the
    /// σ² of Eq. (8)'s last line read as σ_k²).
    public static func collusionResidualFactor(rho: Double, tau2: Double) -> Double {
        2 - 2 * rho + tau2
    }

    /// Theorem 3's condition: τ_k² ≥ max(2ρ − 1, 0) keeps the residual ≥ σ_k².
    public static func minimumTau2(rho: Double) -> Double { max(2 * rho - 1, 0) }
}
