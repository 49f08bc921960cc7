// PhiloxSIMD: Philox4x32-10 on 16 consecutive counters at once (Salmon, Moraes, Dror & Shaw, SC 2011).
//
// Lane i of `philox16(key, firstBlock:)` is bit-identical to the scalar `philoxBlock(key, firstBlock + i)` in
// Philox.swift: same counter/key packing (c0, c1 = the block index; c2, c3 = `key.stream`; k0, k1 = `key.key`),
// same round function and Weyl key schedule. PhiloxTests checks both against the Random123 known-answer vectors.

/// The four output words of 16 Philox blocks; lane i of `w0…w3` is block `firstBlock + i`.
public struct PhiloxWords16: Sendable {
    public var w0, w1, w2, w3: SIMD16<UInt32>

    @_transparent
    public init(w0: SIMD16<UInt32>, w1: SIMD16<UInt32>, w2: SIMD16<UInt32>, w3: SIMD16<UInt32>) {
        (self.w0, self.w1, self.w2, self.w3) = (w0, w1, w2, w3)
    }
}

/// 32 × 32 → 64-bit products of 16 lanes by a constant, as (high word, low word).
///
/// The lanes are viewed as 8 × UInt64 (little-endian: lane 2j is the low half of 64-bit lane j): `vpmuludq` multiplies the even lanes in place and, after a 32-bit shift,
/// the odd ones; one `vpternlogd` merges the two high halves, and the low word is a plain `vpmulld`.
/// `fillGaussian` on one Zen 4 core (M normals per CPU-second, medians of 3 runs of 5+ fills of 4 M):
///   widening to SIMD16<UInt64> and truncating back (LLVM splits it into xmm/ymm pieces)      466
///   16-bit halves: four `vpmulld` partial products plus carry fix-ups                        650
///   even/odd view, low word blended from the two products (LLVM emits `vpmullq`)             773
///   even/odd view, low word by `vpmulld` (this code)                                         845
/// (Before `PhiloxSchedule`, unrolling the round loop by hand was slower (812) than LLVM's 2× unroll.)
@_transparent @usableFromInline
func mulHiLo16(_ a: SIMD16<UInt32>, _ m: UInt32) -> (hi: SIMD16<UInt32>, lo: SIMD16<UInt32>) {
    let w = unsafeBitCast(a, to: SIMD8<UInt64>.self)
    let low: UInt64 = 0xFFFF_FFFF
    let even = (w & low) &* UInt64(m)          // lanes 0, 2, 4, …: vpmuludq ignores the high half
    let odd = (w &>> 32) &* UInt64(m)          // lanes 1, 3, 5, …
    let hi = (even &>> 32) | (odd & ~low)      // high words back in their lanes
    return (unsafeBitCast(hi, to: SIMD16<UInt32>.self), a &* m)
}

/// A key's Philox4x32-10 round keys (the Weyl schedule k_r = k + r·(0x9E3779B9, 0xBB67AE85), r = 0…9) and its
/// two stream words, computed once per fill rather than once per block: with the ten rounds written out, the
/// round keys are loop invariants of a fill's block loop (`fillGaussian` on one Zen 4 core: 764–767 → 846–931 M
/// normals per second, uniforms 1,374 → 1,604–1,657 M/s, same bits).
public struct PhiloxSchedule: Sendable {
    @usableFromInline let k0: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)
    @usableFromInline let k1: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)
    @usableFromInline let s0: UInt32, s1: UInt32

    @inlinable
    public init(_ key: StreamKey) {
        let a = UInt32(truncatingIfNeeded: key.key), b = UInt32(truncatingIfNeeded: key.key >> 32)
        @inline(__always) func r(_ x: UInt32, _ w: UInt32, _ i: UInt32) -> UInt32 { x &+ w &* i }
        let wa: UInt32 = 0x9E37_79B9, wb: UInt32 = 0xBB67_AE85
        k0 = (a, r(a, wa, 1), r(a, wa, 2), r(a, wa, 3), r(a, wa, 4), r(a, wa, 5), r(a, wa, 6), r(a, wa, 7),
              r(a, wa, 8), r(a, wa, 9))
        k1 = (b, r(b, wb, 1), r(b, wb, 2), r(b, wb, 3), r(b, wb, 4), r(b, wb, 5), r(b, wb, 6), r(b, wb, 7),
              r(b, wb, 8), r(b, wb, 9))
        s0 = UInt32(truncatingIfNeeded: key.stream)
        s1 = UInt32(truncatingIfNeeded: key.stream >> 32)
    }
}

/// Philox4x32-10 for blocks `firstBlock ..< firstBlock + 16`. `firstBlock` must be a multiple of 16, so the low
/// counter word never carries into the high one inside the batch.
@_transparent
public func philox16(_ key: StreamKey, firstBlock: UInt64) -> PhiloxWords16 {
    philox16(PhiloxSchedule(key), firstBlock: firstBlock)
}

/// One general Philox round (rounds 3–10) with round keys `k0`, `k1`.
@_transparent @usableFromInline
func philoxRound16(_ x: inout PhiloxWords16, _ k0: UInt32, _ k1: UInt32) {
    let (hi0, lo0) = mulHiLo16(x.w0, 0xD251_1F53)
    let (hi1, lo1) = mulHiLo16(x.w2, 0xCD9E_8D57)
    x = PhiloxWords16(w0: hi1 ^ x.w1 ^ k0, w1: lo1, w2: hi0 ^ x.w3 ^ k1, w3: lo0)
}

/// `philox16(key, firstBlock:)` with the key's schedule computed beforehand.
@_transparent
public func philox16(_ s: PhiloxSchedule, firstBlock: UInt64) -> PhiloxWords16 {
    precondition(firstBlock & 15 == 0, "philox16: firstBlock must be a multiple of 16")
    let lanes = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    let c0 = SIMD16<UInt32>(repeating: UInt32(truncatingIfNeeded: firstBlock)) | lanes
    let c1 = UInt32(truncatingIfNeeded: firstBlock >> 32)

    // Round 1: only c0 differs between lanes, so the c2 product is a scalar.
    let (h0, l0) = mulHiLo16(c0, 0xD251_1F53)
    let p1 = UInt64(0xCD9E_8D57) &* UInt64(s.s0)
    let a0 = UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ s.k0.0      // uniform across lanes
    let a1 = UInt32(truncatingIfNeeded: p1)                          // uniform across lanes
    let x2 = h0 ^ (s.s1 ^ s.k1.0)

    // Round 2: c0 and c1 are still uniform.
    let q0 = UInt64(0xD251_1F53) &* UInt64(a0)
    let (h1, l1) = mulHiLo16(x2, 0xCD9E_8D57)
    var x = PhiloxWords16(w0: h1 ^ (a1 ^ s.k0.1), w1: l1,
                          w2: l0 ^ (UInt32(truncatingIfNeeded: q0 >> 32) ^ s.k1.1),
                          w3: SIMD16(repeating: UInt32(truncatingIfNeeded: q0)))

    // Rounds 3–10, written out so each round key is a constant of the caller's loop.
    philoxRound16(&x, s.k0.2, s.k1.2)
    philoxRound16(&x, s.k0.3, s.k1.3)
    philoxRound16(&x, s.k0.4, s.k1.4)
    philoxRound16(&x, s.k0.5, s.k1.5)
    philoxRound16(&x, s.k0.6, s.k1.6)
    philoxRound16(&x, s.k0.7, s.k1.7)
    philoxRound16(&x, s.k0.8, s.k1.8)
    philoxRound16(&x, s.k0.9, s.k1.9)
    return x
}
