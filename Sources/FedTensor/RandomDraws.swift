// RandomDraws: version-stable uniform, index, shuffle, normal, Gamma and Dirichlet draws from any generator.
import Foundation

/// Random draws defined here (not by the standard library) so that a seeded run gives the same partition on every
/// Swift version: `shuffle(using:)` and `random(in:using:)` are free to change their algorithms.
public enum RandomDraws {
    /// Uniform in the open interval (0, 1), 53 random bits.
    @inlinable
    public static func uniformOpen(using rng: inout some RandomNumberGenerator) -> Double {
        (Double(rng.next() >> 11) + 0.5) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform integer in `0..<bound` without modulo bias (Lemire's multiply-and-reject).
    @inlinable
    public static func index(below bound: Int, using rng: inout some RandomNumberGenerator) -> Int {
        precondition(bound > 0, "RandomDraws.index: bound must be positive")
        let b = UInt64(bound)
        var m = rng.next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold { m = rng.next().multipliedFullWidth(by: b) }
        }
        return Int(m.high)
    }

    /// Fisher–Yates shuffle in place (from the last element down).
    public static func shuffle<T>(_ a: inout [T], using rng: inout some RandomNumberGenerator) {
        var i = a.count - 1
        while i > 0 {
            let j = index(below: i + 1, using: &rng)
            if i != j { a.swapAt(i, j) }
            i -= 1
        }
    }

    /// A standard normal draw (Box–Muller, cosine branch).
    public static func normal(using rng: inout some RandomNumberGenerator) -> Double {
        let u1 = uniformOpen(using: &rng), u2 = uniformOpen(using: &rng)
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// The logarithm of a Gamma(shape, 1) draw (Marsaglia & Tsang 2000).
    ///
    /// For `shape < 1` it uses the boost Gamma(a) = Gamma(a + 1) · U^(1/a), kept in log space so that tiny shapes
    /// (whose draws underflow `Double`) stay usable for Dirichlet proportions.
    public static func logGamma(shape: Double, using rng: inout some RandomNumberGenerator) -> Double {
        precondition(shape > 0, "RandomDraws.logGamma: shape must be positive")
        if shape < 1 {
            let boosted = logGamma(shape: shape + 1, using: &rng)
            return boosted + log(uniformOpen(using: &rng)) / shape
        }
        let d = shape - 1.0 / 3.0, c = 1.0 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat {
                x = normal(using: &rng)
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = uniformOpen(using: &rng)
            if u < 1 - 0.0331 * (x * x) * (x * x) { return log(d * v) }
            if log(u) < 0.5 * x * x + d * (1 - v + log(v)) { return log(d * v) }
        }
    }

    /// A Gamma(shape, 1) draw (may underflow to 0 for very small shapes; see ``logGamma(shape:using:)``).
    public static func gamma(shape: Double, using rng: inout some RandomNumberGenerator) -> Double {
        exp(logGamma(shape: shape, using: &rng))
    }

    /// A draw from the symmetric Dirichlet(α, …, α) on `count` categories: normalised Gamma(α) draws,
    /// normalised in log space (log-sum-exp) so that small α cannot give 0/0.
    public static func dirichlet(alpha: Double, count: Int, using rng: inout some RandomNumberGenerator) -> [Double] {
        precondition(alpha > 0 && count > 0, "RandomDraws.dirichlet: alpha and count must be positive")
        let logs = (0..<count).map { _ in logGamma(shape: alpha, using: &rng) }
        let top = logs.max()!
        let w = logs.map { exp($0 - top) }
        let total = w.reduce(0, +)
        return w.map { $0 / total }
    }
}
