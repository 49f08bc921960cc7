// RDPAccountant+NoiseMultiplier: the smallest σ (to a tolerance) whose RDP ε stays within a target, never above it.

extension RDPAccountant {
    /// The largest σ the search tries before it reports ``PrivacyError/unreachableBudget(targetEpsilon:delta:maximumNoiseMultiplier:)``
    /// (opacus `MAX_SIGMA`).
    public static let maximumNoiseMultiplier = 1e6

    /// A noise multiplier σ for which `steps` steps at sampling rate q spend at most `targetEpsilon` at δ,
    /// as opacus `accountants/utils.py` `get_noise_multiplier`.
    ///
    /// Bracketing: σ_low = 0, σ_high doubles from 10 (first try 20) until ε(σ_high) ≤ target. Bisection: the
    /// midpoint replaces σ_high when its ε is below the target, σ_low otherwise, until
    /// target − ε(σ_high) ≤ `epsilonTolerance` (or 200 halvings). The answer is σ_high, so **ε(σ) ≤ target
    /// always**: it never overshoots. Pinned against opacus: ε = 8, δ = 1e-5, q = 0.04, 2,250 steps → 1.416015625.
    /// - Parameters:
    ///   - targetEpsilon: ε > 0 to stay within.
    ///   - delta: δ ∈ (0, 1).
    ///   - sampleRate: q ∈ (0, 1].
    ///   - steps: how many steps will be taken, ≥ 1 (opacus' `epochs` is `steps = Int(epochs / q)`).
    ///   - epsilonTolerance: how far below the target ε may end, > 0 (opacus default 0.01).
    /// - Throws: ``PrivacyError/unreachableBudget(targetEpsilon:delta:maximumNoiseMultiplier:)`` when even
    ///   σ = 1e6 spends more than the target; ``PrivacyError/invalidParameter(name:value:requirement:)`` for bad input.
    public static func noiseMultiplier(
        targetEpsilon: Double, delta: Double, sampleRate: Double, steps: Int,
        orders: [Double] = RDP.defaultOrders, epsilonTolerance: Double = 0.01
    ) throws -> Double {
        try Check.positive(targetEpsilon, "targetEpsilon")
        try Check.delta(delta)
        try Check.positive(sampleRate, "sampleRate")
        try Check.rate(sampleRate, "sampleRate")
        try Check.atLeast(steps, 1, "steps")
        try Check.positive(epsilonTolerance, "epsilonTolerance")
        func epsilon(_ sigma: Double) throws -> Double {
            let accountant = try RDPAccountant(history: [Run(noiseMultiplier: sigma, sampleRate: sampleRate, steps: steps)])
            return try accountant.epsilon(delta: delta, orders: orders).epsilon
        }
        var sigmaLow = 0.0, sigmaHigh = 10.0, epsilonHigh = Double.infinity
        while epsilonHigh > targetEpsilon {
            sigmaHigh *= 2
            epsilonHigh = try epsilon(sigmaHigh)
            if epsilonHigh > targetEpsilon && sigmaHigh > maximumNoiseMultiplier {
                throw PrivacyError.unreachableBudget(targetEpsilon: targetEpsilon, delta: delta,
                                                     maximumNoiseMultiplier: maximumNoiseMultiplier)
            }
        }
        var halvings = 0
        while targetEpsilon - epsilonHigh > epsilonTolerance && halvings < 200 {
            let sigma = (sigmaLow + sigmaHigh) / 2
            let e = try epsilon(sigma)
            if e < targetEpsilon {
                sigmaHigh = sigma
                epsilonHigh = e
            } else {
                sigmaLow = sigma
            }
            halvings += 1
        }
        return sigmaHigh
    }
}
