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
/// Unrolling the round loop by hand was slower (812) than LLVM's 2× unroll.
@_transparent @usableFromInline
func mulHiLo16(_ a: SIMD16<UInt32>, _ m: UInt32) -> (hi: SIMD16<UInt32>, lo: SIMD16<UInt32>) {
    let w = unsafeBitCast(a, to: SIMD8<UInt64>.self)
    let low: UInt64 = 0xFFFF_FFFF
    let even = (w & low) &* UInt64(m)          // lanes 0, 2, 4, …: vpmuludq ignores the high half
    let odd = (w &>> 32) &* UInt64(m)          // lanes 1, 3, 5, …
    let hi = (even &>> 32) | (odd & ~low)      // high words back in their lanes
    return (unsafeBitCast(hi, to: SIMD16<UInt32>.self), a &* m)
}

/// Philox4x32-10 for blocks `firstBlock ..< firstBlock + 16`. `firstBlock` must be a multiple of 16, so the low
/// counter word never carries into the high one inside the batch.
@_transparent
public func philox16(_ key: StreamKey, firstBlock: UInt64) -> PhiloxWords16 {
    precondition(firstBlock & 15 == 0, "philox16: firstBlock must be a multiple of 16")
    let lanes = SIMD16<UInt32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    var k0 = UInt32(truncatingIfNeeded: key.key), k1 = UInt32(truncatingIfNeeded: key.key >> 32)
    let s0 = UInt32(truncatingIfNeeded: key.stream), s1 = UInt32(truncatingIfNeeded: key.stream >> 32)
    let c0 = SIMD16<UInt32>(repeating: UInt32(truncatingIfNeeded: firstBlock)) | lanes
    let c1 = UInt32(truncatingIfNeeded: firstBlock >> 32)

    // Round 1: only c0 differs between lanes, so the c2 product is a scalar.
    let (h0, l0) = mulHiLo16(c0, 0xD251_1F53)
    let p1 = UInt64(0xCD9E_8D57) &* UInt64(s0)
    let a0 = UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0      // uniform across lanes
    let a1 = UInt32(truncatingIfNeeded: p1)                      // uniform across lanes
    var x2 = h0 ^ s1 ^ k1
    var x3 = l0
    k0 &+= 0x9E37_79B9
    k1 &+= 0xBB67_AE85

    // Round 2: c0 and c1 are still uniform.
    let q0 = UInt64(0xD251_1F53) &* UInt64(a0)
    let (h1, l1) = mulHiLo16(x2, 0xCD9E_8D57)
    var x0 = h1 ^ a1 ^ k0
    var x1 = l1
    x2 = x3 ^ SIMD16(repeating: UInt32(truncatingIfNeeded: q0 >> 32) ^ k1)
    x3 = SIMD16(repeating: UInt32(truncatingIfNeeded: q0))
    k0 &+= 0x9E37_79B9
    k1 &+= 0xBB67_AE85

    // Rounds 3–10: the general round.
    for _ in 2..<10 {
        let (hi0, lo0) = mulHiLo16(x0, 0xD251_1F53)
        let (hi1, lo1) = mulHiLo16(x2, 0xCD9E_8D57)
        x0 = hi1 ^ x1 ^ k0
        x1 = lo1
        x2 = hi0 ^ x3 ^ k1
        x3 = lo0
        k0 &+= 0x9E37_79B9
        k1 &+= 0xBB67_AE85
    }
    return PhiloxWords16(w0: x0, w1: x1, w2: x2, w3: x3)
}
