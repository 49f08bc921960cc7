// Tanh: a vectorised hyperbolic tangent (forward) and its derivative from the output (backward).

/// y[i] = tanh(x[i]), 16 lanes at a time, within 3 ulp-ish (< 3e-7 relative) of the exact value. `x` and `y` may be
/// the same buffer. With u = e^(2|x|) − 1, tanh|x| = u / (u + 2); u comes from an expm1 evaluated as
/// 2ⁿ·(e^r − 1) + (2ⁿ − 1), r = 2|x| − n·ln 2 ∈ [−ln2/2, ln2/2], e^r − 1 by its Taylor polynomial to r⁸ (remainder
/// < 0.347⁹/9! ≈ 2.0e-10), so small arguments keep full relative precision (no 1 − 2/(e^(2x)+1) cancellation).
/// The tail runs through the same vector code on a zero-padded copy, so every element gets the same arithmetic
/// whatever its position.
@inlinable
public func tanhForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i &+ 16 <= count {
        store16(tanh16(load16(x + i)), y + i)
        i &+= 16
    }
    guard i < count else { return }
    var tail = SIMD16<Float>(repeating: 0)
    for j in 0..<(count &- i) { tail[j] = x[i &+ j] }
    let r = tanh16(tail)
    for j in 0..<(count &- i) { y[i &+ j] = r[j] }
}

/// dx[i] = dy[i] · (1 − y[i]²), where y is the tanh output. `dy` and `dx` may be the same buffer.
@inlinable
public func tanhBackward(output y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                         count: Int) {
    var i = 0
    let one = SIMD16<Float>(repeating: 1)
    while i &+ 16 <= count {
        let yv = load16(y + i)
        store16(load16(dy + i) * (one - yv * yv), dx + i)
        i &+= 16
    }
    while i < count {
        dx[i] = dy[i] * (1 - y[i] * y[i])
        i &+= 1
    }
}

/// tanh of 16 lanes (see `tanhForward`). NaN stays NaN; |x| > 20 gives ±1 exactly (tanh 20 = 1 − 8.5e-18).
/// No float-to-integer conversion (which traps on NaN): n is rounded with the 1.5·2²³ shifter, whose low mantissa
/// bits then hold n, and 2ⁿ is built from them.
@inlinable
func tanh16(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let magnitude = x.replacing(with: -x, where: x .< 0)
    let finite = (magnitude + magnitude).replacing(with: 40, where: magnitude .> 20)
    let t = finite.replacing(with: 0, where: x .!= x)
    // t = n·ln2 + r, ln2 split in a high part exact in 9 bits and the rest (Cody–Waite).
    let shifter = SIMD16<Float>(repeating: 12_582_912)  // 1.5·2²³
    var shifted = shifter
    shifted.addProduct(t, SIMD16<Float>(repeating: 1.442_695_04))
    let n = shifted - shifter
    var r = t - n * 0.693_359_375
    r.addProduct(n, SIMD16<Float>(repeating: 2.121_944_4e-4))
    // e^r − 1 = r(1 + r(1/2 + r(1/6 + … r/8!))).
    var p = SIMD16<Float>(repeating: 1.0 / 40320)
    p = p * r + SIMD16<Float>(repeating: 1.0 / 5040)
    p = p * r + SIMD16<Float>(repeating: 1.0 / 720)
    p = p * r + SIMD16<Float>(repeating: 1.0 / 120)
    p = p * r + SIMD16<Float>(repeating: 1.0 / 24)
    p = p * r + SIMD16<Float>(repeating: 1.0 / 6)
    p = p * r + SIMD16<Float>(repeating: 0.5)
    p = p * r + SIMD16<Float>(repeating: 1)
    let em1 = p * r
    // 2ⁿ (0 ≤ n ≤ 58): n sits in the shifted value's low bits.
    let bits = (unsafeBitCast(shifted, to: SIMD16<UInt32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    let twoN = unsafeBitCast(bits, to: SIMD16<Float>.self)
    var u = twoN - 1
    u.addProduct(twoN, em1)
    let v = u / (u + 2)
    let signed = v.replacing(with: -v, where: x .< 0)
    return signed.replacing(with: x, where: x .!= x)
}
