// SampledGaussianRDP: log A_α of the sampled Gaussian mechanism in log space (Mironov, Talwar & Zhang 2019, Sec. 3.3).
import Foundation

/// The unchecked math behind ``RDP``; a line-for-line port of opacus `analysis/rdp.py` (`_compute_rdp`,
/// `_compute_log_a_for_int_alpha`, `_compute_log_a_for_frac_alpha`, `_log_add`, `_log_sub`).
enum SampledGaussianRDP {
    /// RDP at order α of one SGM step (opacus `_compute_rdp`).
    static func rdp(q: Double, sigma: Double, alpha: Double) -> Double {
        if q == 0 { return 0 }
        if sigma == 0 { return .infinity }
        if q == 1 { return alpha / (2 * sigma * sigma) }
        let logA = alpha.rounded() == alpha ? logAInteger(q: q, sigma: sigma, alpha: Int(alpha))
                                            : logAFractional(q: q, sigma: sigma, alpha: alpha)
        return logA / (alpha - 1)
    }

    /// log A_α for integer α (arXiv:1908.10530, Sec. 3.3, the binomial expansion):
    /// A_α = Σ_{i=0}^{α} C(α, i)·(1 − q)^{α−i}·q^i·exp((i² − i)/(2σ²)).
    static func logAInteger(q: Double, sigma: Double, alpha: Int) -> Double {
        var logA = -Double.infinity
        var logBinomial = 0.0  // log C(α, i), updated by C(α, i) = C(α, i−1)·(α − i + 1)/i
        for i in 0...alpha {
            if i > 0 { logBinomial += log(Double(alpha - i + 1)) - log(Double(i)) }
            let di = Double(i)
            let logCoef = logBinomial + di * log(q) + Double(alpha - i) * log(1 - q)
            logA = logAdd(logA, logCoef + (di * di - di) / (2 * sigma * sigma))
        }
        return logA
    }

    /// log A_α for fractional α (arXiv:1908.10530, Sec. 3.3): A_α splits at z₀ = σ² log(1/q − 1) + ½ into two
    /// integrals, each an alternating series in the generalised binomial C(α, i); terms are added until both fall
    /// below e^{−30}. Returns NaN if a log-space subtraction would go negative or 100 000 terms do not suffice.
    static func logAFractional(q: Double, sigma: Double, alpha: Double) -> Double {
        var logA0 = -Double.infinity, logA1 = -Double.infinity
        let z0 = sigma * sigma * log(1 / q - 1) + 0.5
        let s2 = 2.0.squareRoot() * sigma
        var logAbsCoef = 0.0, coefPositive = true  // C(α, 0) = 1
        for i in 0..<100_000 {
            let di = Double(i)
            if i > 0 {  // C(α, i) = C(α, i−1)·(α − i + 1)/i; the factor is never 0 for fractional α
                let factor = alpha - di + 1
                logAbsCoef += log(abs(factor)) - log(di)
                if factor < 0 { coefPositive.toggle() }
            }
            let j = alpha - di
            let logT0 = logAbsCoef + di * log(q) + j * log(1 - q)
            let logT1 = logAbsCoef + j * log(q) + di * log(1 - q)
            let logE0 = log(0.5) + logErfc((di - z0) / s2)
            let logE1 = log(0.5) + logErfc((z0 - j) / s2)
            let logS0 = logT0 + (di * di - di) / (2 * sigma * sigma) + logE0
            let logS1 = logT1 + (j * j - j) / (2 * sigma * sigma) + logE1
            if coefPositive {
                logA0 = logAdd(logA0, logS0)
                logA1 = logAdd(logA1, logS1)
            } else {
                guard let a0 = logSub(logA0, logS0), let a1 = logSub(logA1, logS1) else { return .nan }
                logA0 = a0
                logA1 = a1
            }
            if max(logS0, logS1) < -30 { return logAdd(logA0, logA1) }
        }
        return .nan
    }

    /// log(eˣ + eʸ).
    static func logAdd(_ x: Double, _ y: Double) -> Double {
        let a = min(x, y), b = max(x, y)
        if a == -.infinity { return b }
        return log1p(exp(a - b)) + b
    }

    /// log(eˣ − eʸ), or nil when y > x (the difference would be negative).
    static func logSub(_ x: Double, _ y: Double) -> Double? {
        if x < y { return nil }
        if y == -.infinity { return x }
        if x == y { return -.infinity }
        return x + log(-expm1(y - x))
    }
}
