// SparseConvGradient: a convolution's input gradient scattered from the nonzero output gradients only.

/// Nonzero entries of `count` floats (exact zeros are what ReLU and max-pool backward leave).
public func nonzeroCount(_ x: UnsafePointer<Float>, count: Int) -> Int {
    var n = 0
    for i in 0..<count where x[i] != 0 { n &+= 1 }
    return n
}

/// dX of a cross-correlation y[oy, ox, o] = Σ_{ky, kx, c} x[oy·s − p + ky, ox·s − p + kx, c] · W[o, ky, kx, c] + b[o]
/// (NHWC, weights as `Conv2d` keeps them: `outputChannels` rows of k·k·C), by scattering each NONZERO dY[oy, ox, o]:
/// dX[oy·s − p + ky, ox·s − p + kx, :] += dY[oy, ox, o] · W[o, ky, kx, :]. For one (o, ky) the in-image kx taps are
/// one contiguous run of both dX and W, so each nonzero costs k axpys of at most k·C floats. The work is
/// (nonzeros of dY)·k²·C instead of the dense pass's positions·OC·k²·C: behind max-pool (one of four positions gets
/// gradient) and ReLU (zeros where the unit is off), dY is mostly zeros. Overwrites `dx`. Each sample is summed by
/// one thread in a fixed order, so the result does not depend on the thread count; it differs from the dense pass
/// only in float rounding (another summation order).
public func sparseConvInputGradient(
    _ dy: UnsafePointer<Float>, weights w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
    _ g: ConvGeometry, outputChannels oc: Int, batch: Int
) {
    let k = g.kernel, c = g.channels, h = g.height, wd = g.width, s = g.stride, p = g.padding
    let oh = g.outputHeight, ow = g.outputWidth
    let inSize = h * wd * c, outSize = oh * ow * oc
    parallelFor(batch, threads: batch * outSize >= 1 << 16 ? nil : 1) { n in
        let x = dx + n * inSize, y = dy + n * outSize
        x.update(repeating: 0, count: inSize)
        for oy in 0..<oh {
            let top = oy * s - p
            let ky0 = max(0, -top), ky1 = min(k, h - top)
            for ox in 0..<ow {
                let left = ox * s - p
                let kx0 = max(0, -left), kx1 = min(k, wd - left)
                guard ky0 < ky1 && kx0 < kx1 else { continue }
                let row = y + (oy * ow + ox) * oc
                let run = (kx1 - kx0) * c
                for o in 0..<oc {
                    let v = row[o]
                    if v == 0 { continue }
                    let wo = w + o * g.patchSize + kx0 * c
                    for ky in ky0..<ky1 {
                        axpy(v, wo + ky * k * c, x + ((top + ky) * wd + left + kx0) * c, count: run)
                    }
                }
            }
        }
    }
}

/// Whether the scattered input gradient is expected to beat the dense one: it does about (density)·OC·k²·C work
/// per position with axpys that run at a fraction of a GEMM tile's speed, so it is used below one nonzero in four.
public func sparseConvInputGradientPays(nonzeros: Int, outputCount: Int) -> Bool {
    nonzeros * 4 <= outputCount
}
