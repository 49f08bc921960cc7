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

/// A key's Philox4x32-10 round keys (the Weyl schedule k_r = k + r·(0x9E3779B9, 0xBB67AE85), r = 0…9) and its
/// two stream words, computed once per fill rather than once per block: with the ten rounds written out, the
/// round keys are loop invariants of a fill's block loop (`fillGaussian` on one Zen 4 core: 764–767 → 846–931 M
/// normals per second, uniforms 1,374 → 1,604–1,657 M/s, same bits).
/// Rounds 3–10's keys are also kept broadcast to eight 64-bit lanes, so a fill's loop reads each as a vector
/// operand instead of broadcasting it from a general register every round (one Zen 5 core, `fillUniform`
/// 3.89–4.11 → 4.55–4.81 G/s, same bits).
public struct PhiloxSchedule: Sendable {
    /// Rounds 1–2's keys (`philox16` folds them with the lane-uniform counter words).
    @usableFromInline let k0: (UInt32, UInt32), k1: (UInt32, UInt32)
    @usableFromInline let s0: UInt32, s1: UInt32
    /// Rounds 3–10's keys broadcast to the lanes of the even and odd halves (`PhiloxHalves.round`).
    @usableFromInline let v0, v1: (SIMD8<UInt64>, SIMD8<UInt64>, SIMD8<UInt64>, SIMD8<UInt64>, SIMD8<UInt64>,
                                   SIMD8<UInt64>, SIMD8<UInt64>, SIMD8<UInt64>)

    @inlinable
    public init(_ key: StreamKey) {
        let a = UInt32(truncatingIfNeeded: key.key), b = UInt32(truncatingIfNeeded: key.key >> 32)
        @inline(__always) func r(_ x: UInt32, _ w: UInt32, _ i: UInt32) -> UInt32 { x &+ w &* i }
        let wa: UInt32 = 0x9E37_79B9, wb: UInt32 = 0xBB67_AE85
        k0 = (a, r(a, wa, 1))
        k1 = (b, r(b, wb, 1))
        s0 = UInt32(truncatingIfNeeded: key.stream)
        s1 = UInt32(truncatingIfNeeded: key.stream >> 32)
        @inline(__always) func q(_ x: UInt32, _ w: UInt32, _ i: UInt32) -> SIMD8<UInt64> {
            SIMD8(repeating: UInt64(r(x, w, i)))
        }
        v0 = (q(a, wa, 2), q(a, wa, 3), q(a, wa, 4), q(a, wa, 5), q(a, wa, 6), q(a, wa, 7), q(a, wa, 8), q(a, wa, 9))
        v1 = (q(b, wb, 2), q(b, wb, 3), q(b, wb, 4), q(b, wb, 5), q(b, wb, 6), q(b, wb, 7), q(b, wb, 8), q(b, wb, 9))
    }
}

/// Philox4x32-10 for blocks `firstBlock ..< firstBlock + 16`. `firstBlock` must be a multiple of 16, so the low
/// counter word never carries into the high one inside the batch.
@_transparent
public func philox16(_ key: StreamKey, firstBlock: UInt64) -> PhiloxWords16 {
    philox16(PhiloxSchedule(key), firstBlock: firstBlock)
}

/// `philox16(key, firstBlock:)` with the key's schedule computed beforehand.
///
/// The rounds work on each word as two vectors of 8 × UInt64, the even lanes' words and the odd lanes' words in
/// the low halves (high halves unused), so that a round's four 32 × 32 → 64-bit products are four `vpmuludq` whose
/// results serve as they are: the high word by one shift, the low word by being left in place (the next product
/// reads only low halves, and the XORs keep them). The 16-lane words are put back together once, after the last
/// round. Uniform and normal fills per second on one core, by how the 16 products of a round were formed:
///   Zen 4: 16 × UInt64 lanes, truncated back (LLVM splits them into xmm/ymm pieces)    466 M normals
///   Zen 4: 16-bit halves, four `vpmulld` partial products plus carry fix-ups           650
///   Zen 4: even/odd halves merged every round, low words blended (LLVM: `vpmullq`)      773
///   Zen 4: even/odd halves merged every round, low words by `vpmulld`                   845
///   Zen 5: the same, round keys computed once per fill: 2,449 M uniforms, 1,312 M normals
///   Zen 5: halves kept across rounds (this code): 3,209–3,358 M uniforms, 1,811–1,880 M normals (same bits)
@_transparent
public func philox16(_ s: PhiloxSchedule, firstBlock: UInt64) -> PhiloxWords16 {
    precondition(firstBlock & 15 == 0, "philox16: firstBlock must be a multiple of 16")
    typealias Q = SIMD8<UInt64>
    let low = Q(repeating: 0xFFFF_FFFF)
    let m0 = Q(repeating: 0xD251_1F53), m1 = Q(repeating: 0xCD9E_8D57)
    let base = Q(repeating: UInt64(UInt32(truncatingIfNeeded: firstBlock)))
    let c0e = base | Q(0, 2, 4, 6, 8, 10, 12, 14), c0o = base | Q(1, 3, 5, 7, 9, 11, 13, 15)
    let c1 = UInt32(truncatingIfNeeded: firstBlock >> 32)

    // Round 1: only c0 differs between lanes, so the c2 product is a scalar.
    let p0e = c0e &* m0, p0o = c0o &* m0
    let p1 = UInt64(0xCD9E_8D57) &* UInt64(s.s0)
    let a0 = UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ s.k0.0      // uniform across lanes
    let a1 = UInt32(truncatingIfNeeded: p1)                          // uniform across lanes
    let t1 = Q(repeating: UInt64(s.s1 ^ s.k1.0))
    let x2e = (p0e &>> 32) ^ t1, x2o = (p0o &>> 32) ^ t1

    // Round 2: c0 and c1 are still uniform.
    let q0 = UInt64(0xD251_1F53) &* UInt64(a0)
    let r1e = (x2e & low) &* m1, r1o = (x2o & low) &* m1
    let t0 = Q(repeating: UInt64(a1 ^ s.k0.1))
    let t2 = Q(repeating: UInt64(UInt32(truncatingIfNeeded: q0 >> 32) ^ s.k1.1))
    var x = PhiloxHalves(w0e: (r1e &>> 32) ^ t0, w0o: (r1o &>> 32) ^ t0, w1e: r1e, w1o: r1o,
                         w2e: p0e ^ t2, w2o: p0o ^ t2,
                         w3e: Q(repeating: q0), w3o: Q(repeating: q0))

    // Rounds 3–10, written out so each round key is a constant of the caller's loop.
    x.round(s.v0.0, s.v1.0)
    x.round(s.v0.1, s.v1.1)
    x.round(s.v0.2, s.v1.2)
    x.round(s.v0.3, s.v1.3)
    x.round(s.v0.4, s.v1.4)
    x.round(s.v0.5, s.v1.5)
    x.round(s.v0.6, s.v1.6)
    x.round(s.v0.7, s.v1.7)
    return x.words
}

/// Philox's four words of 16 blocks as even-lane and odd-lane halves (`philox16`): lane j of `w0e` holds word 0
/// of block 2j in its low 32 bits, lane j of `w0o` that of block 2j + 1; the high 32 bits are not used.
@usableFromInline
struct PhiloxHalves {
    @usableFromInline var w0e, w0o, w1e, w1o, w2e, w2o, w3e, w3o: SIMD8<UInt64>

    @_transparent @usableFromInline
    init(w0e: SIMD8<UInt64>, w0o: SIMD8<UInt64>, w1e: SIMD8<UInt64>, w1o: SIMD8<UInt64>, w2e: SIMD8<UInt64>,
         w2o: SIMD8<UInt64>, w3e: SIMD8<UInt64>, w3o: SIMD8<UInt64>) {
        (self.w0e, self.w0o, self.w1e, self.w1o) = (w0e, w0o, w1e, w1o)
        (self.w2e, self.w2o, self.w3e, self.w3o) = (w2e, w2o, w3e, w3o)
    }

    /// One Philox round with round keys `k0`, `k1`: (w0, w1, w2, w3) ← (hi(w2·M1) ⊕ w1 ⊕ k0, lo(w2·M1),
    /// hi(w0·M0) ⊕ w3 ⊕ k1, lo(w0·M0)), the products of the low halves.
    @_transparent @usableFromInline
    mutating func round(_ key0: SIMD8<UInt64>, _ key1: SIMD8<UInt64>) {
        typealias Q = SIMD8<UInt64>
        let low = Q(repeating: 0xFFFF_FFFF)
        let m0 = Q(repeating: 0xD251_1F53), m1 = Q(repeating: 0xCD9E_8D57)
        let p0e = (w0e & low) &* m0, p0o = (w0o & low) &* m0
        let p2e = (w2e & low) &* m1, p2o = (w2o & low) &* m1
        (w0e, w0o) = ((p2e &>> 32) ^ w1e ^ key0, (p2o &>> 32) ^ w1o ^ key0)
        (w1e, w1o) = (p2e, p2o)
        (w2e, w2o) = ((p0e &>> 32) ^ w3e ^ key1, (p0o &>> 32) ^ w3o ^ key1)
        (w3e, w3o) = (p0e, p0o)
    }

    /// The 16-lane words: lane 2j from the even half's lane j, lane 2j + 1 from the odd half's.
    @_transparent @usableFromInline
    var words: PhiloxWords16 {
        @_transparent func merge(_ e: SIMD8<UInt64>, _ o: SIMD8<UInt64>) -> SIMD16<UInt32> {
            unsafeBitCast((e & 0xFFFF_FFFF) | (o &<< 32), to: SIMD16<UInt32>.self)
        }
        return PhiloxWords16(w0: merge(w0e, w0o), w1: merge(w1e, w1o), w2: merge(w2e, w2o), w3: merge(w3e, w3o))
    }
}
