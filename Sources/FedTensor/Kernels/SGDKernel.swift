// SGDKernel: the fused momentum-SGD update, one pass over parameters, gradient and velocity.

/// For each i: g = grad[i] + λ·w[i]; v[i] = μ·v[i] + g; w[i] −= η·(nesterov ? g + μ'·v[i] : v[i]).
/// Without a velocity buffer: w[i] −= η·g. `dampening` is reserved (PyTorch's default 0).
@inlinable
public func sgdStep(
    _ w: UnsafeMutablePointer<Float>, _ grad: UnsafePointer<Float>, velocity v: UnsafeMutablePointer<Float>?,
    count: Int, learningRate: Float, momentum: Float, dampening: Float, weightDecay: Float, nesterov: Bool,
    nesterovMomentum: Float = 0
) {
    let lr = SIMD16<Float>(repeating: learningRate), mu = SIMD16<Float>(repeating: momentum)
    let wd = SIMD16<Float>(repeating: weightDecay), nmu = SIMD16<Float>(repeating: nesterovMomentum)
    var i = 0
    if let v {
        while i &+ 16 <= count {
            var g = load16(grad + i)
            let wv = load16(w + i)
            g.addProduct(wd, wv)
            var vv = load16(v + i)
            vv = vv * mu + g
            store16(vv, v + i)
            let update = nesterov ? g + nmu * vv : vv
            store16(wv - lr * update, w + i)
            i &+= 16
        }
        while i < count {
            let g = grad[i] + weightDecay * w[i]
            v[i] = momentum * v[i] + g
            w[i] -= learningRate * (nesterov ? g + nesterovMomentum * v[i] : v[i])
            i &+= 1
        }
    } else {
        while i &+ 16 <= count {
            var g = load16(grad + i)
            let wv = load16(w + i)
            g.addProduct(wd, wv)
            store16(wv - lr * g, w + i)
            i &+= 16
        }
        while i < count {
            w[i] -= learningRate * (grad[i] + weightDecay * w[i])
            i &+= 1
        }
    }
}

/// `sgdStep` over both cores for long vectors: contiguous chunks of whole 16-lane blocks, each element updated by
/// exactly one thread with the same arithmetic, so the result does not depend on the thread count.
public func sgdStepParallel(
    _ w: UnsafeMutablePointer<Float>, _ grad: UnsafePointer<Float>, velocity v: UnsafeMutablePointer<Float>?,
    count: Int, learningRate: Float, momentum: Float, dampening: Float, weightDecay: Float, nesterov: Bool,
    nesterovMomentum: Float = 0
) {
    // ~12–16 bytes per element move: below ~256 K elements waking a second worker costs more than it saves.
    let chunks = count >= 1 << 18 ? ComputeThreads.count : 1
    if chunks <= 1 {
        sgdStep(w, grad, velocity: v, count: count, learningRate: learningRate, momentum: momentum,
                dampening: dampening, weightDecay: weightDecay, nesterov: nesterov, nesterovMomentum: nesterovMomentum)
        return
    }
    let blocks = (count + 15) / 16
    parallelFor(chunks, threads: chunks) { t in
        let lo = min(count, blocks * t / chunks * 16), hi = min(count, blocks * (t + 1) / chunks * 16)
        sgdStep(w + lo, grad + lo, velocity: v.map { $0 + lo }, count: hi - lo, learningRate: learningRate,
                momentum: momentum, dampening: dampening, weightDecay: weightDecay, nesterov: nesterov,
                nesterovMomentum: nesterovMomentum)
    }
}
