// GaussianMechanism: noise scales for one Gaussian release — classical (NISS Cor. 1 / NbAFL) and analytic (Balle & Wang 2018).
import Foundation

/// Pure functions that calibrate the Gaussian mechanism M(D) = f(D) + N(0, σ²·I) to an (ε, δ) target.
///
/// Two calibrations, both for a query f of L2 sensitivity Δ:
/// - **Classical** (Dwork & Roth 2014, Thm A.1; NISS Corollary 1; NbAFL Thm 1): σ = c(δ)·L·Δ/ε with
///   c(δ) = √(2 ln(1.25/δ)). The theorem assumes ε < 1; for ε ≥ 1 the formula is *not* a proven bound (spec
///   B.11 item 8) and can under-noise: at ε = 10, δ = 1e-4 it gives σ ≈ 0.954× the exact requirement.
///   Keep it for paper parity.
/// - **Analytic** (Balle & Wang 2018, "Improving the Gaussian mechanism…", Thm 8 / Alg. 1): the smallest σ with
///   Φ(Δ/(2σ) − εσ/Δ) − e^ε·Φ(−Δ/(2σ) − εσ/Δ) ≤ δ. Exact, valid for every ε > 0, and smaller than the
///   classical σ whenever the classical one is valid.
public enum GaussianMechanism {
    /// c(δ) = √(2 ln(1.25/δ)), the classical Gaussian constant (NISS Corollary 1: c² > 2 ln(1.25/δ); we take the
    /// boundary value). c(1e-4) = 4.343612, c(1e-5) = 4.844805.
    /// - Throws: ``PrivacyError/invalidParameter(name:value:requirement:)`` unless δ ∈ (0, 1).
    public static func c(delta: Double) throws -> Double {
        try Check.delta(delta)
        return (2 * log(1.25 / delta)).squareRoot()
    }

    /// The classical noise standard deviation σ = c(δ)·L·Δ/ε (NISS Corollary 1 for L = 1; NbAFL Theorem 1's
    /// uplink σ_U = c·L·Δs_U/ε for L exposures of the same client's parameters).
    ///
    /// Proven only for ε < 1 (see the type's discussion); for a guarantee you can report, pass the σ you use to
    /// ``PrivacyGuarantee/gaussianReleases(noiseStd:sensitivity:delta:releases:)``.
    /// - Parameters:
    ///   - epsilon: ε > 0.
    ///   - delta: δ ∈ (0, 1).
    ///   - sensitivity: the L2 sensitivity Δ > 0 (e.g. ``SensitivityModel``).
    ///   - exposures: L ≥ 1, how many times the protected value is released (NbAFL linear composition).
    public static func sigma(epsilon: Double, delta: Double, sensitivity: Double, exposures: Int = 1) throws -> Double {
        try Check.positive(epsilon, "epsilon")
        try Check.positive(sensitivity, "sensitivity")
        try Check.atLeast(exposures, 1, "exposures")
        return try c(delta: delta) * Double(exposures) * sensitivity / epsilon
    }

    /// The exact δ of the Gaussian mechanism with noise σ and sensitivity Δ at a given ε
    /// (Balle & Wang 2018, Theorem 8):  δ(σ) = Φ(Δ/(2σ) − εσ/Δ) − e^ε·Φ(−Δ/(2σ) − εσ/Δ).
    ///
    /// The second term is evaluated as exp(ε + log Φ(·)) so that large ε neither overflows nor loses the tail.
    /// δ(σ) decreases in σ (and in ε). Returns 1 for σ = 0.
    public static func exactDelta(sigma: Double, epsilon: Double, sensitivity: Double) throws -> Double {
        try Check.nonNegative(sigma, "sigma")
        try Check.nonNegative(epsilon, "epsilon")
        try Check.positive(sensitivity, "sensitivity")
        return delta(sigma: sigma, epsilon: epsilon, sensitivity: sensitivity)
    }

    /// The analytic Gaussian mechanism's σ: the smallest σ with ``exactDelta(sigma:epsilon:sensitivity:)`` ≤ δ
    /// (Balle & Wang 2018, Algorithm 1, solved by bisection on σ directly).
    ///
    /// The bracket is found by doubling/halving from the classical value, then bisected until its relative
    /// width is below 1e-13. The upper end is returned, so δ(σ) ≤ δ holds at the returned σ (up to the
    /// ~1e-16 absolute rounding of evaluating Φ). Example: ε = 1, δ = 1e-5, Δ = 1 gives σ = 3.7306316.
    /// - Throws: ``PrivacyError/invalidParameter(name:value:requirement:)`` unless ε > 0, δ ∈ (0, 1), Δ > 0.
    public static func analyticSigma(epsilon: Double, delta target: Double, sensitivity: Double) throws -> Double {
        try Check.positive(epsilon, "epsilon")
        try Check.delta(target)
        try Check.positive(sensitivity, "sensitivity")
        let holds = { (s: Double) in delta(sigma: s, epsilon: epsilon, sensitivity: sensitivity) <= target }
        // Start from the classical σ, kept inside the normal range so doubling and halving both terminate
        // (δ(σ) → 1 as σ → 0 and → 0 as σ → ∞, so each loop ends within the ~2,100 binades of a Double).
        let start = try sigma(epsilon: epsilon, delta: target, sensitivity: sensitivity)
        var hi = min(max(start, .leastNormalMagnitude), .greatestFiniteMagnitude / 4), lo = hi
        var steps = 0
        while !holds(hi) && steps < 2100 { hi *= 2; steps += 1 }
        steps = 0
        while holds(lo) && steps < 2100 { lo /= 2; steps += 1 }
        return bisect(lo, hi, holdsAt: holds)
    }

    /// The smallest ε ≥ 0 that the Gaussian mechanism with noise σ and sensitivity Δ satisfies at δ, i.e. the
    /// inverse of ``analyticSigma(epsilon:delta:sensitivity:)`` (exact; Balle & Wang 2018, Theorem 8).
    ///
    /// Returns `.infinity` for σ = 0. The answer is rounded up (relative width 1e-13), never down.
    public static func analyticEpsilon(sigma: Double, delta target: Double, sensitivity: Double) throws -> Double {
        try Check.nonNegative(sigma, "sigma")
        try Check.delta(target)
        try Check.positive(sensitivity, "sensitivity")
        guard sigma > 0 else { return .infinity }
        let holds = { (e: Double) in delta(sigma: sigma, epsilon: e, sensitivity: sensitivity) <= target }
        if holds(0) { return 0 }
        var hi = 1.0
        while !holds(hi) {
            hi *= 2
            if hi > 1e6 { return .infinity }
        }
        return bisect(0, hi, holdsAt: holds)
    }

    // MARK: Internals

    /// Theorem 8's δ(σ; ε) without input checks.
    static func delta(sigma: Double, epsilon: Double, sensitivity: Double) -> Double {
        guard sigma > 0 else { return 1 }
        let a = sensitivity / (2 * sigma), b = epsilon * sigma / sensitivity
        let value = normalCDF(a - b) - exp(epsilon + logNormalCDF(-a - b))
        return max(0, value)
    }

    /// Bisects [lo, hi] for the boundary of a monotone predicate that is false at `lo` (or `lo` = 0) and true at
    /// `hi`; returns the final `hi`, where the predicate holds.
    static func bisect(_ lo: Double, _ hi: Double, holdsAt holds: (Double) -> Bool) -> Double {
        var lo = lo, hi = hi, iterations = 0
        while hi - lo > 1e-13 * hi && iterations < 200 {
            let mid = 0.5 * (lo + hi)
            if holds(mid) { hi = mid } else { lo = mid }
            iterations += 1
        }
        return hi
    }
}
