// PrivacyGuarantee: what a configuration actually earns — composed (ε, δ)-DP, per-release DP only, or nothing.
import Foundation

/// The accounting method behind a stated ε.
public enum PrivacyAccountingMethod: String, Codable, Sendable, Hashable {
    /// Rényi DP of the sampled Gaussian mechanism, converted with Balle et al. 2020, Thm 21 (``RDPAccountant``).
    case rdp
    /// The exact Gaussian-mechanism curve (Balle & Wang 2018, Thm 8); for L releases composed exactly as one
    /// Gaussian mechanism with sensitivity Δ·√L (Dong, Roth & Su 2019, Gaussian DP, Cor. 3.3).
    case analyticGaussian
}

/// What privacy a run or a release really has, so that no caller prints an ε a configuration has not earned.
///
/// Build one with the factories (``accounted(by:delta:orders:)``, ``gaussianReleases(noiseStd:sensitivity:delta:releases:)``,
/// ``perRelease(noiseStd:sensitivity:delta:reason:)``, ``heuristic(_:)``) rather than by hand: they decide
/// between the cases. Only ``dp(epsilon:delta:accountant:)`` has an ``epsilon`` for the whole run.
public enum PrivacyGuarantee: Codable, Sendable, Hashable, CustomStringConvertible {
    /// Everything released over the run, composed, is (ε, δ)-DP.
    case dp(epsilon: Double, delta: Double, accountant: PrivacyAccountingMethod)
    /// Each release *in isolation* is (ε, δ)-DP, but the releases taken together are not: e.g. NISS with τ → 0,
    /// where the shares cancel and the server learns the exact sum (spec B.12). `reason` says why.
    case perReleaseOnly(epsilon: Double, delta: Double, accountant: PrivacyAccountingMethod, reason: String)
    /// No formal guarantee: no noise, heuristic noise infusion, an unproven bound, or an ε that is not finite.
    case none(reason: String)

    /// ε of the whole run, or nil when the configuration does not earn one (``perReleaseOnly`` included).
    public var epsilon: Double? {
        if case let .dp(epsilon, _, _) = self { return epsilon }
        return nil
    }

    /// Whether the run as a whole is differentially private.
    public var isDifferentiallyPrivate: Bool { epsilon != nil }

    /// One line for logs and reports, e.g. `(ε = 7.329, δ = 1e-05)-DP [rdp]`.
    public var description: String {
        switch self {
        case let .dp(epsilon, delta, accountant):
            return "(ε = \(format(epsilon)), δ = \(format(delta)))-DP [\(accountant.rawValue)]"
        case let .perReleaseOnly(epsilon, delta, accountant, reason):
            return "per-release only: each release is (ε = \(format(epsilon)), δ = \(format(delta)))-DP "
                + "[\(accountant.rawValue)], the run is not: \(reason)"
        case let .none(reason):
            return "no DP guarantee: \(reason)"
        }
    }

    private func format(_ x: Double) -> String { String(format: "%.4g", x) }
}

extension PrivacyGuarantee {
    /// The guarantee an ``RDPAccountant`` history earns at δ.
    ///
    /// `.none` when a step with q > 0 had σ = 0 (the data went out unnoised) or ε is not finite; `.dp(0, 0)` when
    /// nothing data-dependent was released (empty history, or q = 0 throughout); `.dp(ε, δ, .rdp)` otherwise.
    public static func accounted(by accountant: RDPAccountant, delta: Double,
                                 orders: [Double] = RDP.defaultOrders) throws -> PrivacyGuarantee {
        try Check.delta(delta)
        if let run = accountant.history.first(where: { $0.noiseMultiplier == 0 && $0.sampleRate > 0 }) {
            return .none(reason: "\(run.steps) step(s) at sampling rate \(run.sampleRate) had noise multiplier 0")
        }
        if accountant.history.allSatisfy({ $0.sampleRate == 0 }) {
            return .dp(epsilon: 0, delta: 0, accountant: .rdp)
        }
        let (epsilon, _) = try accountant.epsilon(delta: delta, orders: orders)
        guard epsilon.isFinite else { return .none(reason: "the RDP accountant's ε is not finite") }
        return .dp(epsilon: epsilon, delta: delta, accountant: .rdp)
    }

    /// The guarantee of `releases` = L full (unsampled) releases of the Gaussian mechanism with noise standard
    /// deviation σ on a query of L2 sensitivity Δ, composed adaptively.
    ///
    /// Exact: L such releases are one Gaussian mechanism with sensitivity Δ·√L (Dong, Roth & Su 2019, Cor. 3.3),
    /// whose ε at δ is ``GaussianMechanism/analyticEpsilon(sigma:delta:sensitivity:)``. Use it to report what a
    /// classically calibrated σ really earns: σ = c(δ)·Δ/ε at ε = 10, δ = 1e-4 earns ε ≈ 10.62, not 10.
    /// σ = 0 gives `.none`.
    public static func gaussianReleases(noiseStd sigma: Double, sensitivity: Double, delta: Double,
                                        releases: Int = 1) throws -> PrivacyGuarantee {
        try Check.atLeast(releases, 1, "releases")
        let effective = try SensitivityModel.scaledForComposition(sensitivity, releases: releases)
        let epsilon = try GaussianMechanism.analyticEpsilon(sigma: sigma, delta: delta, sensitivity: effective)
        guard epsilon.isFinite else {
            return .none(reason: sigma == 0 ? "noise standard deviation is 0" : "ε is not finite (noise too small)")
        }
        return .dp(epsilon: epsilon, delta: delta, accountant: .analyticGaussian)
    }

    /// The guarantee of a protocol in which each single release is the Gaussian mechanism (σ, Δ) but the releases
    /// together are not protected (`reason`, e.g. "τ = 0: NISS shares cancel, the aggregate carries no noise").
    /// σ = 0 gives `.none`.
    public static func perRelease(noiseStd sigma: Double, sensitivity: Double, delta: Double,
                                  reason: String) throws -> PrivacyGuarantee {
        let epsilon = try GaussianMechanism.analyticEpsilon(sigma: sigma, delta: delta, sensitivity: sensitivity)
        guard epsilon.isFinite else {
            return .none(reason: sigma == 0 ? "noise standard deviation is 0" : "ε is not finite (noise too small)")
        }
        return .perReleaseOnly(epsilon: epsilon, delta: delta, accountant: .analyticGaussian, reason: reason)
    }

    /// No formal guarantee, e.g. heuristic noise infusion (Part A) or the NbAFL sensitivity lemma used as if it
    /// were enforced. `reason` is shown to the user.
    public static func heuristic(_ reason: String) -> PrivacyGuarantee {
        .none(reason: reason)
    }
}

extension SensitivityModel {
    /// Δ·√L: the sensitivity of one Gaussian mechanism equivalent to L adaptive releases (Gaussian DP composition).
    static func scaledForComposition(_ sensitivity: Double, releases: Int) throws -> Double {
        try Check.positive(sensitivity, "sensitivity")
        return sensitivity * Double(releases).squareRoot()
    }
}
