// RDP: Rényi DP of the sampled Gaussian mechanism (Mironov, Talwar & Zhang 2019) and its (ε, δ) conversion (Balle et al. 2020).
import Foundation

/// Pure functions for Rényi differential privacy accounting, numerically equivalent to opacus
/// `accountants/analysis/rdp.py` (itself TF-privacy's `rdp_accountant.py`).
///
/// The sampled Gaussian mechanism (SGM) adds N(0, σ²) noise to a sensitivity-1 sum over a Poisson sample of rate
/// q. Its RDP at order α is log(A_α)/(α − 1) (Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy of the
/// Sampled Gaussian Mechanism", arXiv:1908.10530, Sec. 3.3), with
/// A_α = E_{z∼N(0,σ²)}[((1 − q) + q·e^{(2z−1)/(2σ²)})^α];
/// computed by the binomial expansion for integer α and by the two-series method for fractional α
/// (see `SampledGaussianRDP.swift`). RDP composes additively over steps.
public enum RDP {
    /// Opacus' default orders: 1.1, 1.2, …, 10.9 (`1 + x/10` for x in 1..<100), then 12, 13, …, 63.
    public static let defaultOrders: [Double] = (1..<100).map { 1 + Double($0) / 10.0 } + (12..<64).map { Double($0) }

    /// RDP at order α of one step of the sampled Gaussian mechanism with noise multiplier σ and sampling rate q.
    ///
    /// Special cases as opacus `_compute_rdp`: q = 0 gives 0; σ = 0 (with q > 0) gives +∞; q = 1 gives the plain
    /// Gaussian mechanism's α/(2σ²) (Mironov 2017, Prop. 7). Returns NaN in the (not observed) case where the
    /// fractional series loses its sign or fails to converge; the conversion then ignores that order, which can
    /// only raise ε.
    /// - Throws: ``PrivacyError/invalidParameter(name:value:requirement:)`` unless σ ≥ 0, q ∈ [0, 1], α > 1.
    public static func sampledGaussian(noiseMultiplier sigma: Double, sampleRate q: Double, order alpha: Double) throws -> Double {
        try Check.nonNegative(sigma, "noiseMultiplier")
        try Check.rate(q, "sampleRate")
        try Check.orders([alpha])
        return SampledGaussianRDP.rdp(q: q, sigma: sigma, alpha: alpha)
    }

    /// RDP of `steps` compositions of the sampled Gaussian mechanism, at each order (RDP adds up over steps,
    /// Mironov 2017, Prop. 1): `steps · sampledGaussian(σ, q, α)`.
    public static func sampledGaussian(
        noiseMultiplier sigma: Double, sampleRate q: Double, steps: Int, orders: [Double] = defaultOrders
    ) throws -> [Double] {
        try Check.nonNegative(sigma, "noiseMultiplier")
        try Check.rate(q, "sampleRate")
        try Check.atLeast(steps, 0, "steps")
        try Check.orders(orders)
        return orders.map { steps == 0 ? 0 : Double(steps) * SampledGaussianRDP.rdp(q: q, sigma: sigma, alpha: $0) }
    }

    /// Converts RDP values to (ε, δ)-DP, minimising over the orders (Balle et al. 2020, "Hypothesis testing
    /// interpretations and Rényi differential privacy", arXiv:1905.09982, Theorem 21; as opacus `get_privacy_spent`):
    ///
    ///     ε(α) = rdp(α) − (log δ + log α)/(α − 1) + log((α − 1)/α),   ε = min_α ε(α).
    ///
    /// NaN entries are skipped (numpy `nanargmin`); ties keep the first order. If every entry is NaN the answer is
    /// (+∞, NaN). The result is clamped at 0 (ε(α) can dip below 0 only when δ > 1/(e·α)), a weaker but still
    /// true statement and the one deviation from opacus.
    /// - Returns: ε and the order α that attains it.
    public static func epsilon(orders: [Double], rdp: [Double], delta: Double) throws -> (epsilon: Double, bestOrder: Double) {
        try Check.orders(orders)
        try Check.delta(delta)
        guard orders.count == rdp.count else {
            throw PrivacyError.invalidParameter(name: "rdp.count", value: Double(rdp.count),
                                                requirement: "equal to orders.count (\(orders.count))")
        }
        var best: (epsilon: Double, bestOrder: Double)?
        for (alpha, r) in zip(orders, rdp) {
            let e = r - (log(delta) + log(alpha)) / (alpha - 1) + log((alpha - 1) / alpha)
            guard !e.isNaN else { continue }
            if best == nil || e < best!.epsilon { best = (e, alpha) }
        }
        guard let found = best else { return (.infinity, .nan) }
        return (max(0, found.epsilon), found.bestOrder)
    }
}
