// DPSGDSettings: the privacy hyperparameters of DP-SGD, and Poisson sampling of its batches.
import FedTensor
import Foundation

/// DP-SGD's hyperparameters (Abadi et al. 2016, Alg. 1): every step samples each example independently with
/// probability q, clips each example's gradient to L2 norm C, sums, adds N(0, σ²C²) to every trainable coordinate
/// and divides by the *expected* batch size q·N (never the realised one: pitfalls §1.3).
public struct DPSGDSettings: Sendable, Equatable, Codable {
    /// σ: the noise standard deviation divided by the clipping norm (the accountant's noise multiplier).
    public var noiseMultiplier: Double
    /// C: the per-example clipping norm (flat, over all trainable parameters; split evenly with per-layer clipping).
    public var maxGradientNorm: Double
    /// q ∈ (0, 1]: the Poisson sampling rate. The expected batch is q × (number of examples trained on).
    public var sampleRate: Double
    /// Clip each trainable layer's gradient (weights and bias together) to C/√K, K trainable layers, instead of the
    /// whole gradient to C. The sensitivity stays C, so the noise and the accounting are unchanged.
    public var perLayerClipping: Bool

    public init(noiseMultiplier: Double, maxGradientNorm: Double, sampleRate: Double, perLayerClipping: Bool = false) {
        self.noiseMultiplier = noiseMultiplier
        self.maxGradientNorm = maxGradientNorm
        self.sampleRate = sampleRate
        self.perLayerClipping = perLayerClipping
    }

    /// Why these settings cannot run, or nil.
    public var problem: String? {
        if !(noiseMultiplier >= 0 && noiseMultiplier.isFinite) { return "noise multiplier must be ≥ 0, got \(noiseMultiplier)" }
        if !(maxGradientNorm > 0 && maxGradientNorm.isFinite) { return "max grad norm must be > 0, got \(maxGradientNorm)" }
        if !(sampleRate > 0 && sampleRate <= 1) { return "sample rate must be in (0, 1], got \(sampleRate)" }
        return nil
    }

    /// Steps in one "epoch": ⌊1/q⌋, as Opacus' Poisson loader (at least 1). About 63% of the examples are seen.
    public var stepsPerEpoch: Int { max(1, Int((1 / sampleRate).rounded(.down))) }
}

/// Poisson sampling: each of `count` positions is in the batch independently with probability q, so the batch size is
/// Binomial(count, q) and may be 0. Drawn by geometric skips (gap G with P(G = k) = (1 − q)ᵏq, G = ⌊ln U / ln(1 − q)⌋,
/// U uniform in (0, 1) with 53 bits), which costs O(batch) rather than O(count) per step.
public enum PoissonSampling {
    /// The sampled positions in 0..<count, increasing.
    public static func positions(count: Int, rate q: Double, rng: inout Philox) -> [Int] {
        precondition(q >= 0 && q <= 1, "PoissonSampling: rate must be in [0, 1]")
        guard q > 0, count > 0 else { return [] }
        if q == 1 { return Array(0..<count) }
        let logKeep = log1p(-q)
        var out: [Int] = []
        out.reserveCapacity(Int(Double(count) * q * 1.2) + 8)
        var position = -1
        while true {
            let gap = log(RandomDraws.uniformOpen(using: &rng)) / logKeep
            guard gap < Double(count - position) else { break }
            position += 1 + Int(gap)
            guard position < count else { break }
            out.append(position)
        }
        return out
    }
}
