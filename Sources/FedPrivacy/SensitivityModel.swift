// SensitivityModel: the L2 sensitivity Δ of a client's release under NbAFL or client-level DP, and p_k weighting.

/// How much one client's release can change, in L2 norm, when the protected unit changes (spec B.11 item 7, D.1.2).
///
/// Every model assumes the released vector was clipped to L2 norm C (``Clipping``): NbAFL clips the local
/// parameters, client-level DP clips the update w − w_ref.
public enum SensitivityModel: Codable, Sendable, Hashable {
    /// NbAFL (Wei et al. 2020, IEEE TIFS; Kang Wei's `Privacy.py`: `delta_s = 2*clipthr/num_items_train`):
    /// Δ = 2C/d_k for a client with d_k samples. **Sample-level and heuristic**: it is the NbAFL lemma's bound on
    /// how far one changed sample moves the locally trained, clipped parameters, not a property clipping enforces.
    case nbafl
    /// Client-level DP (McMahan et al. 2018): the protected unit is a whole client. Δ = C when a client is added or
    /// removed, 2C when it is replaced (`replace: true`), per round.
    case clientLevel(replace: Bool)

    /// Δ for clipping norm C and a client with `datasetSize` = d_k samples (used by ``nbafl`` only).
    ///
    /// NbAFL with C = 3 and d_k = 600 gives Δ = 0.01; client-level replace with C = 3 gives 6.
    /// - Throws: ``PrivacyError/invalidParameter(name:value:requirement:)`` for C ≤ 0, or a missing or
    ///   non-positive `datasetSize` under ``nbafl``.
    public func sensitivity(clippingNorm: Double, datasetSize: Int? = nil) throws -> Double {
        try Check.positive(clippingNorm, "clippingNorm")
        switch self {
        case .nbafl:
            guard let size = datasetSize else {
                throw PrivacyError.invalidParameter(name: "datasetSize", value: .nan, requirement: "given for .nbafl")
            }
            try Check.atLeast(size, 1, "datasetSize")
            return 2 * clippingNorm / Double(size)
        case .clientLevel(let replace):
            return replace ? 2 * clippingNorm : clippingNorm
        }
    }

    /// Δ·p_k: the sensitivity of the weighted upload p_k·w (spec B.11 item 5). NISS and DP-FedAvg add noise in the
    /// weighted domain (upload = p_k·w + n), so the noise is calibrated to the weighted sensitivity.
    /// - Parameters:
    ///   - sensitivity: Δ of the unweighted release, > 0.
    ///   - weight: p_k ∈ (0, 1], usually d_k / Σ_{i∈M_t} d_i.
    public static func weighted(_ sensitivity: Double, weight: Double) throws -> Double {
        try Check.positive(sensitivity, "sensitivity")
        guard weight > 0, weight <= 1 else {
            throw PrivacyError.invalidParameter(name: "weight", value: weight, requirement: "in (0, 1]")
        }
        return sensitivity * weight
    }

    /// Whether Δ is enforced by clipping alone (client-level) rather than assumed from a training lemma (NbAFL).
    public var isEnforcedByClipping: Bool {
        if case .clientLevel = self { return true }
        return false
    }
}
