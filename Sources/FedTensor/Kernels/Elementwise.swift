// Elementwise: vectorised pointwise kernels (ReLU, sigmoid, axpy, scaling) over raw Float32 buffers.

/// y[i] = max(x[i], 0). `x` and `y` may be the same buffer.
@inlinable
public func reluForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    let zero = SIMD16<Float>(repeating: 0)
    while i &+ 16 <= count {
        let v = load16(x + i)
        store16(v.replacing(with: zero, where: v .< zero), y + i)
        i &+= 16
    }
    while i < count {
        y[i] = x[i] > 0 ? x[i] : 0
        i &+= 1
    }
}

/// dx[i] = y[i] > 0 ? dy[i] : 0, where y is the ReLU output. `dy` and `dx` may be the same buffer.
@inlinable
public func reluBackward(output y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                         count: Int) {
    var i = 0
    let zero = SIMD16<Float>(repeating: 0)
    while i &+ 16 <= count {
        let yv = load16(y + i), g = load16(dy + i)
        store16(g.replacing(with: zero, where: yv .<= zero), dx + i)
        i &+= 16
    }
    while i < count {
        dx[i] = y[i] > 0 ? dy[i] : 0
        i &+= 1
    }
}

/// y[i] = 1 / (1 + e^(−x[i])). `x` and `y` may be the same buffer.
@inlinable
public func sigmoidForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { y[i] = 1 / (1 + expf(-x[i])) }
}

/// dx[i] = dy[i] · y[i] · (1 − y[i]), where y is the sigmoid output.
@inlinable
public func sigmoidBackward(output y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                            count: Int) {
    var i = 0
    let one = SIMD16<Float>(repeating: 1)
    while i &+ 16 <= count {
        let yv = load16(y + i)
        store16(load16(dy + i) * yv * (one - yv), dx + i)
        i &+= 16
    }
    while i < count {
        dx[i] = dy[i] * y[i] * (1 - y[i])
        i &+= 1
    }
}

/// y[i] += a · x[i].
@inlinable
public func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    let av = SIMD16<Float>(repeating: a)
    while i &+ 16 <= count {
        var yv = load16(y + i)
        yv.addProduct(av, load16(x + i))
        store16(yv, y + i)
        i &+= 16
    }
    while i < count {
        y[i] += a * x[i]
        i &+= 1
    }
}

/// x[i] *= a.
@inlinable
public func scale(_ x: UnsafeMutablePointer<Float>, by a: Float, count: Int) {
    var i = 0
    let av = SIMD16<Float>(repeating: a)
    while i &+ 16 <= count {
        store16(load16(x + i) * av, x + i)
        i &+= 16
    }
    while i < count {
        x[i] *= a
        i &+= 1
    }
}

/// Σ x[i]² accumulated in Float64 per 16-lane block (order fixed, so deterministic).
@inlinable
public func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
    var acc0 = SIMD16<Float>(repeating: 0), acc1 = SIMD16<Float>(repeating: 0)
    var total = 0.0
    var i = 0
    while i &+ 32 <= count {
        let a = load16(x + i), b = load16(x + (i &+ 16))
        acc0.addProduct(a, a)
        acc1.addProduct(b, b)
        i &+= 32
        if i & 4095 == 0 {  // flush to Float64 every 4096 values to bound rounding growth
            total += Double((acc0 + acc1).sum())
            acc0 = .zero
            acc1 = .zero
        }
    }
    total += Double((acc0 + acc1).sum())
    while i < count {
        total += Double(x[i]) * Double(x[i])
        i &+= 1
    }
    return total
}

@_transparent @usableFromInline
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@_transparent @usableFromInline
func load16(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@_transparent @usableFromInline
func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
