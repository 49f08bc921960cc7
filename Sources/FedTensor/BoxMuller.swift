// BoxMuller: two Philox words → two standard normals (Box & Muller 1958), in Float32, 16 lanes or one.
//
// The scalar functions and the SIMD16 functions below perform the SAME sequence of IEEE-754 operations (every
// rounding step is an explicit `*`, `+`, `-`, `squareRoot()` or fused `addingProduct`; Swift never contracts or
// reassociates floating point), so they agree bit-for-bit. PhiloxTests checks it.
//
// Definition, for 32-bit words x (radius) and y (angle):
//   u1 = fl32((x + ½)·2⁻³²) ∈ [2⁻³³, 1]       (the correctly rounded value; never 0, so |z| ≤ √(66 ln 2) ≈ 6.76)
//   u2 = (y >> 7)·2⁻²⁵ ∈ [0, 1)
//   r  = √(−2 ln u1),  (z_cos, z_sin) = (r cos 2πu2, r sin 2πu2)
// ln uses the Cephes `logf` polynomial (S. Moshier) on m ∈ [√½, √2); sin and cos use the Cephes `sinf`/`cosf`
// polynomials on |a| ≤ π/4 after taking the quadrant straight from the top two bits of y + 2²⁹ (no range
// reduction error). Accuracy, measured in PhiloxTests on 2²⁰ samples against Float64 Box–Muller evaluated on
// the same u1, u2: max |z − z₆₄| < 1e-5 (observed 6.7e-7).

// MARK: Constants shared by both paths

@usableFromInline let lnP: (Float, Float, Float, Float, Float, Float, Float, Float, Float) = (
    7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1,
    -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1)
@usableFromInline let ln2Hi: Float = 0.693359375       // 355/512: k · ln2Hi is exact
@usableFromInline let ln2Lo: Float = -2.12194440e-4
@usableFromInline let halfPi: Float = 1.57079632679489661923
@usableFromInline let sinP: (Float, Float, Float) = (-1.6666654611e-1, 8.3321608736e-3, -1.9515295891e-4)
@usableFromInline let cosP: (Float, Float, Float) = (4.166664568298827e-2, -1.388731625493765e-3, 2.443315711809948e-5)

/// ln x for a positive normal float x (here x ≥ 2⁻³³): x = 2ᵏ·m with m = 1 + f ∈ [√½, √2), ln x = k ln 2 +
/// f − f²/2 + f³·P(f), the Cephes `logf` polynomial (S. Moshier), k ln 2 added in two parts (ln2Hi·k is exact).
/// Used by Box–Muller and by Laplace noise (Laplace.swift); the lane-wise `cephesLn16` performs the same operations.
@inlinable
public func cephesLn(_ x: Float) -> Float {
    let ix = x.bitPattern &- 0x3F35_04F3
    let k = UInt32(bitPattern: Int32(bitPattern: ix) &>> 23)
    let kf = Float(bitPattern: 0x4B40_0000 &+ k) - 12_582_912
    let f = Float(bitPattern: (ix & 0x007F_FFFF) &+ 0x3F35_04F3) - 1
    var p = lnP.0
    p = lnP.1.addingProduct(p, f); p = lnP.2.addingProduct(p, f); p = lnP.3.addingProduct(p, f)
    p = lnP.4.addingProduct(p, f); p = lnP.5.addingProduct(p, f); p = lnP.6.addingProduct(p, f)
    p = lnP.7.addingProduct(p, f); p = lnP.8.addingProduct(p, f)
    let f2 = f * f
    let t = (-0.5 as Float).addingProduct(f, p)
    let lnm = f.addingProduct(f2, t)
    return lnm.addingProduct(kf, ln2Lo).addingProduct(kf, ln2Hi)
}

// MARK: Scalar path

/// `(z_cos, z_sin)` for one pair of 32-bit words: the reference definition (see the file header).
@inlinable
public func boxMuller(_ x: UInt32, _ y: UInt32) -> (Float, Float) {
    // u1 = (x >> 16)·2⁻¹⁶ + ((x & 0xFFFF) + ½)·2⁻³², both parts exact, one rounding in the fused add.
    let uHi = Float(bitPattern: 0x3F80_0000 | ((x >> 9) & 0x007F_FF80)) - 1
    let uLo = Float(bitPattern: 0x3F80_0000 | ((x << 7) & 0x007F_FF80) | 0x40) - 1
    let u1 = uHi.addingProduct(uLo, 1.0 / 65536)
    let r = (-2 * cephesLn(u1)).squareRoot()
    // Angle: quadrant q from the top bits of v = y + 2²⁹, a = (frac − ½)·π/2 ∈ [−π/4, π/4).
    let v = y &+ 0x2000_0000
    let a = (Float(bitPattern: 0x3F80_0000 | ((v >> 7) & 0x007F_FFFF)) - 1.5) * halfPi
    let z = a * a
    let ps = sinP.0.addingProduct(sinP.1.addingProduct(sinP.2, z), z)
    let s = a.addingProduct(a * z, ps)
    let pc = cosP.0.addingProduct(cosP.1.addingProduct(cosP.2, z), z)
    let c = (1 as Float).addingProduct(-0.5, z).addingProduct(z * z, pc)
    // Rotate by q·π/2: odd q swaps sin and cos; the signs come from q's bits.
    let swap = UInt32(bitPattern: Int32(bitPattern: v << 1) &>> 31)
    let cb = c.bitPattern, sb = s.bitPattern
    let cosBits = ((cb & ~swap) | (sb & swap)) ^ ((v ^ (v << 1)) & 0x8000_0000)
    let sinBits = ((sb & ~swap) | (cb & swap)) ^ (v & 0x8000_0000)
    return (r * Float(bitPattern: cosBits), r * Float(bitPattern: sinBits))
}

/// A uniform in [0, 1) with 23 random bits: the top 23 bits of `w` as a mantissa (exactly representable).
@_transparent @usableFromInline
func unitFloat(_ w: UInt32) -> Float {
    Float(bitPattern: 0x3F80_0000 | (w >> 9)) - 1
}

// MARK: SIMD16 path (the same operations, lane-wise)

@_transparent @usableFromInline
func asFloat(_ b: SIMD16<UInt32>) -> SIMD16<Float> { unsafeBitCast(b, to: SIMD16<Float>.self) }

@_transparent @usableFromInline
func asBits(_ f: SIMD16<Float>) -> SIMD16<UInt32> { unsafeBitCast(f, to: SIMD16<UInt32>.self) }

@_transparent @usableFromInline
func signSpread(_ b: SIMD16<UInt32>) -> SIMD16<UInt32> {
    unsafeBitCast(unsafeBitCast(b, to: SIMD16<Int32>.self) &>> 31, to: SIMD16<UInt32>.self)
}

/// Lane-wise `cephesLn`.
@_transparent @usableFromInline
func cephesLn16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    typealias F = SIMD16<Float>
    typealias U = SIMD16<UInt32>
    let ix = asBits(x) &- 0x3F35_04F3
    let k = unsafeBitCast(unsafeBitCast(ix, to: SIMD16<Int32>.self) &>> 23, to: U.self)
    let kf = asFloat(U(repeating: 0x4B40_0000) &+ k) - F(repeating: 12_582_912)
    let f = asFloat((ix & 0x007F_FFFF) &+ 0x3F35_04F3) - F(repeating: 1)
    var p = F(repeating: lnP.0)
    p = F(repeating: lnP.1).addingProduct(p, f); p = F(repeating: lnP.2).addingProduct(p, f)
    p = F(repeating: lnP.3).addingProduct(p, f); p = F(repeating: lnP.4).addingProduct(p, f)
    p = F(repeating: lnP.5).addingProduct(p, f); p = F(repeating: lnP.6).addingProduct(p, f)
    p = F(repeating: lnP.7).addingProduct(p, f); p = F(repeating: lnP.8).addingProduct(p, f)
    let f2 = f * f
    let t = F(repeating: -0.5).addingProduct(f, p)
    let lnm = f.addingProduct(f2, t)
    return lnm.addingProduct(kf, ln2Lo).addingProduct(kf, ln2Hi)
}

/// Lane-wise `boxMuller`.
@_transparent @usableFromInline
func boxMuller16(_ x: SIMD16<UInt32>, _ y: SIMD16<UInt32>) -> (SIMD16<Float>, SIMD16<Float>) {
    typealias F = SIMD16<Float>
    typealias U = SIMD16<UInt32>
    let one = F(repeating: 1)
    let uHi = asFloat(U(repeating: 0x3F80_0000) | ((x &>> 9) & 0x007F_FF80)) - one
    let uLo = asFloat(U(repeating: 0x3F80_0000) | ((x &<< 7) & 0x007F_FF80) | 0x40) - one
    let u1 = uHi.addingProduct(uLo, 1.0 / 65536)
    let r = (F(repeating: -2) * cephesLn16(u1)).squareRoot()
    let v = y &+ 0x2000_0000
    let a = (asFloat(U(repeating: 0x3F80_0000) | ((v &>> 7) & 0x007F_FFFF)) - F(repeating: 1.5)) * halfPi
    let z = a * a
    let ps = F(repeating: sinP.0).addingProduct(F(repeating: sinP.1).addingProduct(F(repeating: sinP.2), z), z)
    let s = a.addingProduct(a * z, ps)
    let pc = F(repeating: cosP.0).addingProduct(F(repeating: cosP.1).addingProduct(F(repeating: cosP.2), z), z)
    let c = one.addingProduct(F(repeating: -0.5), z).addingProduct(z * z, pc)
    let swap = signSpread(v &<< 1)
    let cb = asBits(c), sb = asBits(s)
    let cosBits = ((cb & ~swap) | (sb & swap)) ^ ((v ^ (v &<< 1)) & 0x8000_0000)
    let sinBits = ((sb & ~swap) | (cb & swap)) ^ (v & 0x8000_0000)
    return (r * asFloat(cosBits), r * asFloat(sinBits))
}

/// Lane-wise `unitFloat`.
@_transparent @usableFromInline
func unitFloat16(_ w: SIMD16<UInt32>) -> SIMD16<Float> {
    asFloat(SIMD16<UInt32>(repeating: 0x3F80_0000) | (w &>> 9)) - SIMD16<Float>(repeating: 1)
}
