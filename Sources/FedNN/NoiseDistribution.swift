// NoiseDistribution: the noise laws of noise infusion (spec Part A.1) applied in place from a Philox stream.
import FedTensor
import Foundation

/// How a noise-infusion mechanism perturbs a tensor x. `level` σ is the standard deviation of the additive noise
/// η (x̃ = x + η), of the relative factor (x̃ = x·(1 + η)), or, for salt-and-pepper, the fraction of entries set to
/// the low or high value. Spec `papers.md` A.1 item 1; the paper's own choice is unverified (Part A.0).
public enum NoiseDistribution: String, Codable, Sendable, CaseIterable {
    /// η ~ N(0, σ²).
    case gaussian
    /// η ~ Laplace(0, b) with b = σ/√2 (so the std is σ).
    case laplace
    /// η ~ U(−a, a) with a = σ·√3 (so the std is σ).
    case uniform
    /// x·(1 + η), η ~ N(0, σ²): Keras `GaussianDropout(p)` with σ² = p/(1 − p).
    case multiplicativeGaussian = "multiplicative-gaussian"
    /// Inputs only: each entry becomes the low value with probability σ/2 and the high value with probability σ/2.
    case saltAndPepper = "salt-and-pepper"
    /// Inputs only: x + x·η, η ~ N(0, σ²) (scikit-image's `random_noise(mode="speckle")` without its clipping);
    /// the same law as multiplicative-gaussian, named for image users.
    case speckle

    /// Salt-and-pepper and speckle are image noise, for the input site only.
    public var isInputOnly: Bool { self == .saltAndPepper || self == .speckle }
    /// x̃ = x·m for a random m (multiplicative, speckle, salt-and-pepper's keep mask): the backward pass needs m.
    public var isMultiplicative: Bool { self == .multiplicativeGaussian || self == .speckle }
    /// Whether the level is a noise std that can be taken relative to the RMS of the clean tensor.
    public var allowsRelativeLevel: Bool { self == .gaussian || self == .laplace || self == .uniform }
}

/// Values per chunk of a noise application (salt-and-pepper's stack scratch; the result never depends on it).
let noiseChunk = 2048

/// Applies `distribution` at level `level` to x[0..<count] in place. Entry j uses element `startIndex + j` of the
/// stream `key` (Gaussian draws from `key`, uniform draws from `key.child(1)`), so the result is a pure function
/// of (key, index) whatever the chunking or thread count. For multiplicative laws and salt-and-pepper, the factor
/// m with x̃ = x·m (the keep mask 0/1 for salt-and-pepper) is written to `factor` when given (the backward pass
/// multiplies by it). `low`/`high` are salt-and-pepper's replacement values. With `source`, x[j] is computed from
/// source[j] instead (x̃ = source + η written to x in one pass, the same bits as copying source to x first).
public func applyNoise(
    _ x: UnsafeMutablePointer<Float>, count: Int, distribution: NoiseDistribution, level: Float, key: StreamKey,
    startIndex: UInt64 = 0, factor: UnsafeMutablePointer<Float>? = nil, low: Float = 0, high: Float = 1,
    source: UnsafePointer<Float>? = nil
) {
    guard count > 0 else { return }
    // Chunk c covers [c·noiseChunk, (c + 1)·noiseChunk) whatever thread runs it, so the split cannot change a bit;
    // large tensors (an activation batch, a gradient) spread their chunks over the compute threads.
    let chunks = (count + noiseChunk - 1) / noiseChunk
    let pieces = count < parallelNoiseThreshold ? 1 : min(ComputeThreads.count, chunks / 4)
    if pieces <= 1 {
        applyNoiseChunks(x, count: count, chunks: 0..<chunks, distribution: distribution, level: level, key: key,
                         startIndex: startIndex, factor: factor, low: low, high: high,
                         source: source ?? UnsafePointer(x))
        return
    }
    nonisolated(unsafe) let x = x, factor = factor, source = source ?? UnsafePointer(x)
    parallelFor(pieces, threads: pieces) { w in
        applyNoiseChunks(x, count: count, chunks: (chunks * w / pieces)..<(chunks * (w + 1) / pieces),
                         distribution: distribution, level: level, key: key, startIndex: startIndex, factor: factor,
                         low: low, high: high, source: source)
    }
}

/// Tensors at least this long are noised on several threads (below it the threads cost more than they save).
let parallelNoiseThreshold = 1 << 15

/// `applyNoise` on chunks `chunks` of x[0..<count] (chunk c: [c·noiseChunk, min((c + 1)·noiseChunk, count))), reading
/// the clean values from `source` (x itself when in place).
func applyNoiseChunks(
    _ x: UnsafeMutablePointer<Float>, count: Int, chunks: Range<Int>, distribution: NoiseDistribution, level: Float,
    key: StreamKey, startIndex: UInt64, factor: UnsafeMutablePointer<Float>?, low: Float, high: Float,
    source: UnsafePointer<Float>
) {
    guard !chunks.isEmpty else { return }
    let uniformKey = key.child(1)
    var i = chunks.lowerBound * noiseChunk
    let end = min(chunks.upperBound * noiseChunk, count)
    while i < end {
        let m = min(noiseChunk, end - i)
        let start = startIndex &+ UInt64(i)
        let xi = x + i, si = source + i
        switch distribution {
        case .gaussian:
            // η = 0 + σ·z drawn and added in one pass (the bits of filling a buffer with η, then adding it).
            combineGaussian(si, into: xi, count: m, key: key, std: level, mean: 0, startIndex: start, .add)
        case .multiplicativeGaussian, .speckle:
            combineGaussian(si, into: xi, count: m, key: key, std: level, mean: 1, startIndex: start, .multiply,
                            factor: factor?.advanced(by: i))
        case .uniform:
            // u + 2⁻²⁴ lies in (0, 1), symmetric about ½: 2u − 1 in (−1, 1); x + a·(2(u + 2⁻²⁴) − 1)
            // with a = σ√3, drawn and added in one pass.
            combineUniform(si, into: xi, count: m, key: uniformKey, scale: level * Float(3).squareRoot(),
                           startIndex: start)
        case .laplace:
            // Inverse CDF (`laplace(key, index:, scale:)`): η = −b·sign(v)·ln(1 − 2|v|), v = u + 2⁻²⁴ − ½.
            combineLaplace(si, into: xi, count: m, key: uniformKey, scale: level / Float(2).squareRoot(),
                           startIndex: start)
        case .saltAndPepper:
            // The only law that still goes through a buffer of uniforms (stack scratch of one chunk).
            withUnsafeTemporaryAllocation(of: Float.self, capacity: m) { t in
                fillUniform(t, key: uniformKey, startIndex: start)
                let half = level / 2
                for j in 0..<m {
                    let u = t[j]
                    xi[j] = u < half ? low : u < level ? high : si[j]
                    t[j] = u < level ? 0 : 1
                }
                factor?.advanced(by: i).update(from: t.baseAddress!, count: m)
            }
        }
        i += m
    }
}

/// RMS(x) = √(Σx²/n) in Float64 (0 for an empty tensor).
public func rootMeanSquare(_ x: UnsafePointer<Float>, count: Int) -> Double {
    count == 0 ? 0 : (sumOfSquares(x, count: count) / Double(count)).squareRoot()
}
