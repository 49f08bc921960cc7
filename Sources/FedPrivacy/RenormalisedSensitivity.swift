// RenormalisedSensitivity: Δ of the p_k-weighted aggregate when removing a client renormalises the others' p_k.

/// The sensitivity question of spec B.11 item 5 with weights renormalised over the cohort, p_k = d_k / Σ_{i∈M} d_i.
///
/// **The aggregate (central view).** Let S(M) = Σ_{i∈M} p_i·u_i with ‖u_i‖ ≤ ζ (clipped updates) and D = Σ_{i∈M} d_i.
/// Removing client j gives M' = M∖{j}, p'_i = d_i/(D − d_j), so for i ≠ j
///     p_i − p'_i = −d_i·d_j / (D·(D − d_j)),   Σ_{i≠j} |p_i − p'_i| = (d_j/D)·Σ_{i≠j} d_i/(D − d_j) = p_j,
/// and by the triangle inequality
///     ‖S(M) − S(M')‖ ≤ p_j·‖u_j‖ + Σ_{i≠j} |p_i − p'_i|·‖u_i‖ ≤ 2·p_j·ζ,
/// with equality when u_j = ζ·e and every other u_i = −ζ·e (``worstCaseAggregateShift(samples:removed:clip:)``
/// builds that pair). So the *aggregate* under add/remove-one-client has sensitivity 2·p_j·ζ, not p_j·ζ.
///
/// **What FedNoise calibrates (the per-upload view).** DP-FedAvg and NISS add the noise on each client (local
/// noise, σ_k for client k's own upload p_k·u_k), and the server is told D_t = Σ_{i∈M_t} d_i in the round start
/// (spec B.11 item 5: clients need it for p_k). The ledger's guarantee is therefore about each client's upload
/// with the cohort and its sample counts public: neighbouring inputs differ in client k's clipped update only
/// (present ↔ zero: the "zero-out" relation of Kairouz et al. 2021, "Practical and private (deep) learning
/// without sampling or shuffling", ICML, Sec. 2), every p_i is the same in both, every other upload is unchanged, and the one upload that
/// changes moves by ‖p_k·u_k − 0‖ ≤ p_k·ζ. That is the Δ = p_k·ζ of ``SensitivityModel/weighted(_:weight:)``,
/// so **the calibration is right for the relation it states**, and the 2·p_j·ζ case does not apply to it: that
/// case is a change of D_t, which is published in clear and which no noise on the uploads could hide.
///
/// What the reported ε does **not** cover: membership of a client in the federation when D_t or the cohort are
/// secret. A deployment that needs that must hide D_t (fixed denominators, McMahan et al. 2018 §3) and calibrate
/// the *aggregate* to 2·p_max·ζ. Both are stated in the README's accounting section.
public enum RenormalisedSensitivity {
    /// ‖S(M) − S(M∖{removed})‖ for the worst-case clipped updates (u_removed = ζ·e, u_i = −ζ·e otherwise) in one
    /// dimension, computed directly from the two renormalised weightings (no formula used): the tight value 2·p_j·ζ.
    /// - Parameters:
    ///   - samples: d_i of the cohort M, all > 0, at least two clients.
    ///   - removed: the index j (into `samples`) of the client removed.
    ///   - clip: ζ > 0.
    public static func worstCaseAggregateShift(samples: [Int], removed j: Int, clip: Double) -> Double {
        aggregateShift(samples: samples, removed: j, updates: samples.indices.map { $0 == j ? clip : -clip })
    }

    /// |S(M) − S(M∖{removed})| for one-dimensional updates `updates[i]` = u_i.
    public static func aggregateShift(samples: [Int], removed j: Int, updates: [Double]) -> Double {
        let total = Double(samples.reduce(0, +)), rest = total - Double(samples[j])
        var with = 0.0, without = 0.0
        for (i, d) in samples.enumerated() {
            with += Double(d) / total * updates[i]
            if i != j { without += Double(d) / rest * updates[i] }
        }
        return abs(with - without)
    }
}
