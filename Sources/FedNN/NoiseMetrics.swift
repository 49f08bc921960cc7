// NoiseMetrics: SNR in its four forms, the prices of stability and anarchy, generalisation gap and stability (A.1).
import Foundation

/// Signal-to-noise ratio of a noise site (spec A.1 item 4; the paper's own definition is unverified, so all four
/// forms are given). s is the clean tensor at the site, σ the noise std. The two dB forms are equal by
/// construction (20·log10(RMS/σ) = 10·log10(RMS²/σ²)); both are kept so a table can name the one it uses.
public struct SignalToNoise: Sendable, Equatable, Codable {
    /// RMS(s)²/σ².
    public var power: Double
    /// RMS(s)/σ.
    public var amplitude: Double
    /// 10·log10(power): the default form ("power SNR in dB", A.4).
    public var powerDB: Double { 10 * log10(power) }
    /// 20·log10(amplitude).
    public var amplitudeDB: Double { 20 * log10(amplitude) }

    /// From the clean tensor's RMS and the noise std (σ = 0 gives +∞).
    public init(signalRMS: Double, noiseStd: Double) {
        amplitude = signalRMS / noiseStd
        power = amplitude * amplitude
    }

    /// Measured on a clean tensor and its noisy version: RMS(s) over RMS(x̃ − s).
    public static func measured(clean: [Float], noisy: [Float]) -> SignalToNoise {
        precondition(clean.count == noisy.count && !clean.isEmpty, "clean and noisy tensors must match")
        var signal = 0.0, noise = 0.0
        for (s, x) in zip(clean, noisy) {
            signal += Double(s) * Double(s)
            noise += (Double(x) - Double(s)) * (Double(x) - Double(s))
        }
        let n = Double(clean.count)
        return SignalToNoise(signalRMS: (signal / n).squareRoot(), noiseStd: (noise / n).squareRoot())
    }
}

/// The prices of stability and anarchy of noise infusion (spec A.1 item 5): the "equilibria" are the admissible
/// noisy configurations, the optimum the noise-free baseline. Never clamped to ≥ 1: the paradox is PoS < 1.
public struct NoisePrices: Sendable, Equatable, Codable {
    /// A_opt / max_E A.
    public var stabilityAccuracy: Double
    /// A_opt / min_E A.
    public var anarchyAccuracy: Double
    /// min_E L / L_opt.
    public var stabilityLoss: Double
    /// max_E L / L_opt.
    public var anarchyLoss: Double
    /// |E|.
    public var admissibleCount: Int

    /// nil when no configuration is admissible (then no price exists).
    public init?(baselineAccuracy: Double, baselineLoss: Double, admissible: [(accuracy: Double, loss: Double)]) {
        guard let bestA = admissible.map(\.accuracy).max(), let worstA = admissible.map(\.accuracy).min(),
              let bestL = admissible.map(\.loss).min(), let worstL = admissible.map(\.loss).max() else { return nil }
        stabilityAccuracy = baselineAccuracy / bestA
        anarchyAccuracy = baselineAccuracy / worstA
        stabilityLoss = bestL / baselineLoss
        anarchyLoss = worstL / baselineLoss
        admissibleCount = admissible.count
    }
}

/// Which noisy configurations count as admissible (meet the privacy requirement) for the prices.
public enum Admissibility: Sendable, Equatable, Codable {
    /// SNR (power, dB) ≤ s*: at least this much noise relative to the signal.
    case snrAtMost(Double)
    /// σ (or λ) ≥ σ_min.
    case levelAtLeast(Double)

    public func admits(snrDB: Double, level: Double) -> Bool {
        switch self {
        case .snrAtMost(let s): snrDB <= s
        case .levelAtLeast(let l): level >= l
        }
    }
}

/// Generalisation and stability figures (spec A.1 item 6).
public enum StabilityMetrics {
    /// Train accuracy − test accuracy (the loss gap is test loss − train loss).
    public static func generalizationGap(train: Double, test: Double) -> Double { train - test }

    /// Sample standard deviation (n − 1); 0 for fewer than 2 values.
    public static func standardDeviation(_ x: [Double]) -> Double {
        guard x.count > 1 else { return 0 }
        let mean = x.reduce(0, +) / Double(x.count)
        return (x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(x.count - 1)).squareRoot()
    }

    /// Std of the last `window` values of a per-round (or per-epoch) series.
    public static func lastWindowStd(_ series: [Double], window: Int) -> Double {
        standardDeviation(Array(series.suffix(window)))
    }

    /// Mean |a_t − a_{t−1}| over the series (0 for fewer than 2 values).
    public static func meanAbsoluteChange(_ series: [Double]) -> Double {
        guard series.count > 1 else { return 0 }
        return zip(series.dropFirst(), series).reduce(0) { $0 + abs($1.0 - $1.1) } / Double(series.count - 1)
    }

    /// The default optimum rule (A.1 item 4): the largest level whose test accuracy is ≥ baseline − tolerance;
    /// nil when none qualifies.
    public static func optimalLevel(_ points: [(level: Double, accuracy: Double)], baseline: Double,
                                    tolerance: Double = 0.01) -> Double? {
        points.filter { $0.accuracy >= baseline - tolerance }.map(\.level).max()
    }
}
