// Laplace: Laplace(0, b) noise by the inverse CDF of a Philox stream's uniforms, drawn and added in one pass.
//
// Definition, for the uniform u of `uniform(key, index:)` (a multiple of 2⁻²³ in [0, 1)):
//   v = (u + 2⁻²⁴) − ½ ∈ (−½, ½)        (exact; an odd multiple of 2⁻²⁴, never 0)
//   w = 1 − 2|v| ∈ [2⁻²³, 1 − 2⁻²³]      (exact)
//   η = −sign(v) · b · ln w             (ln is `cephesLn`, the Box–Muller logarithm; −b·ln w > 0)
// so P(|η| > t) = P(w < e^(−t/b)) = e^(−t/b), the Laplace tail, up to the 2⁻²³ grid of w (|η| ≤ 23 b ln 2).
// The logarithm is FedNoise's own polynomial rather than the platform's `logf`, so the bits are the same on every
// libm (glibc's `logf` and the correctly rounded logarithm already differ on 30,278 of the 2²² values of w).
// `laplace(key, index:, scale:)` is the per-element definition; the SIMD16 path performs the same IEEE operations
// lane by lane, and LaplaceTests checks the two agree bit for bit in any chunking.

/// The Laplace(0, b) value with global index `index` of stream `key` (the per-element definition).
@inlinable
public func laplace(_ key: StreamKey, index: UInt64, scale b: Float) -> Float {
    let v = uniform(key, index: index) + 0x1p-24 - 0.5
    let e = -b * cephesLn(1 - 2 * abs(v))
    return v < 0 ? -e : e
}

/// `out[j] = source[j] + laplace(key, index: startIndex + j, scale: b)` for j < count, the draw and the add in one
/// pass (`source` may be `out`). Chunk-invariant: a value depends only on its global index.
public func combineLaplace(_ source: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int,
                           key: StreamKey, scale b: Float, startIndex: UInt64) {
    var v = UniformLawCombine(source: source, out: out, law: LaplaceLaw(b: SIMD16(repeating: b)))
    walkGroups(PhiloxSchedule(key), start: startIndex, count: count, &v)
}

/// `combineLaplace`'s law (`UniformLawCombine` walks the groups).
struct LaplaceLaw: UniformLaw {
    let b: SIMD16<Float>

    /// x + η for 16 uniforms u: `laplace`'s operations; the sign is v's sign bit moved onto e (v is never ±0, and
    /// negation flips only the sign bit, so this is `v < 0 ? −e : e`).
    @inline(__always)
    func noisy(_ x: SIMD16<Float>, _ u: SIMD16<Float>) -> SIMD16<Float> {
        let v = u + SIMD16(repeating: 0x1p-24) - SIMD16(repeating: 0.5)
        let sign = asBits(v) & 0x8000_0000
        let w = SIMD16<Float>(repeating: 1) - SIMD16(repeating: 2) * asFloat(asBits(v) & 0x7FFF_FFFF)
        let e = -b * cephesLn16(w)
        return x + asFloat(asBits(e) ^ sign)
    }
}
