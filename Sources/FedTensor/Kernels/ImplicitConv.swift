// ImplicitConv: input gradients of stride-1 convolutions read straight from the padded output gradient (no col2im).

/// Whether `convInputGradient` handles this geometry: stride 1, padding ≤ k − 1, channels a multiple of 16.
public func convInputGradientSupported(_ g: ConvGeometry) -> Bool {
    g.stride == 1 && g.padding <= g.kernel - 1 && g.channels % 16 == 0 && g.outputHeight > 0 && g.outputWidth > 0
}

/// Floats of scratch `convInputGradient` needs: the zero-padded output gradient of every sample, then the
/// flipped filters.
public func convInputGradientScratch(_ g: ConvGeometry, outputChannels: Int, batch: Int) -> Int {
    let hp = g.height + g.kernel - 1, wp = g.width + g.kernel - 1
    return batch * hp * wp * outputChannels + g.patchSize * outputChannels
}

/// dX (batch × H × W × C, overwritten) of a stride-1 convolution with filters W (OC × k × k × C, one output channel
/// per row) and padding p ≤ k − 1, from dY (batch × OH × OW × OC) without unfolding anything:
///
///     dX[iy, ix, :] = Σ_{ky, kx, oc} dYp[iy + ky, ix + kx, oc] · Wf[(ky, kx, oc), :]
///
/// where dYp is dY zero-padded by k − 1 − p on every side ((H + k − 1) × (W + k − 1) × OC) and
/// Wf[(ky, kx, oc), c] = W[oc, k − 1 − ky, k − 1 − kx, c]. For each kernel row ky the K run (kx, oc) is contiguous in
/// dYp, so one image row of dX is a few register tiles with K = k·OC, accumulated over the k kernel rows.
/// Samples are split over threads; every element is computed by one thread in a fixed order, so the result does
/// not depend on the thread count. `scratch` holds `convInputGradientScratch` floats.
public func convInputGradient(
    _ dy: UnsafePointer<Float>, weights w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
    _ g: ConvGeometry, outputChannels oc: Int, batch: Int, scratch: UnsafeMutablePointer<Float>
) {
    precondition(convInputGradientSupported(g), "convInputGradient: unsupported geometry")
    let k = g.kernel, c = g.channels, h = g.height, wd = g.width
    let oh = g.outputHeight, ow = g.outputWidth
    let hp = h + k - 1, wp = wd + k - 1, q = k - 1 - g.padding
    let paddedSize = hp * wp * oc
    let flipped = scratch + batch * paddedSize
    // Wf: k·k·OC rows of C, read as the B operand (rows contiguous).
    for ky in 0..<k {
        for kx in 0..<k {
            let src = w + ((k - 1 - ky) * k + (k - 1 - kx)) * c
            let dst = flipped + (ky * k + kx) * oc * c
            for o in 0..<oc { (dst + o * c).update(from: src + o * g.patchSize, count: c) }
        }
    }
    let flops = 2.0 * Double(batch * h * wd) * Double(k * k * oc * c)
    let threads = flops >= GEMMBlocking.parallelFlops ? nil : 1 as Int?
    let geometry = ImplicitGeometry(k: k, c: c, oc: oc, h: h, w: wd, oh: oh, ow: ow, wp: wp, q: q)
    parallelFor(batch, threads: threads) { n in
        withGEMMWorkspace(GEMMBlocking.scratch) { tileScratch in
            let padded = scratch + n * paddedSize
            padOutputGradient(dy + n * oh * ow * oc, padded, geometry)
            inputGradientOfSample(padded, UnsafePointer(flipped), dx + n * h * wd * c, geometry, tileScratch)
        }
    }
}

struct ImplicitGeometry {
    var k: Int, c: Int, oc: Int, h: Int, w: Int, oh: Int, ow: Int, wp: Int, q: Int
}

/// dYp = dY shifted by q rows and columns into a zeroed (H + k − 1) × (W + k − 1) × OC frame.
func padOutputGradient(_ dy: UnsafePointer<Float>, _ p: UnsafeMutablePointer<Float>, _ g: ImplicitGeometry) {
    let hp = g.h &+ g.k &- 1
    let rowSize = g.wp &* g.oc
    for y in 0..<hp {
        let row = p + y &* rowSize
        let sy = y &- g.q
        guard sy >= 0 && sy < g.oh else {
            row.update(repeating: 0, count: rowSize)
            continue
        }
        // Columns x with 0 ≤ x − q < OW come from dY; the rest are zero.
        let lo = max(0, g.q), hi = min(g.wp, g.q &+ g.ow)
        row.update(repeating: 0, count: lo &* g.oc)
        (row + lo &* g.oc).update(from: dy + (sy &* g.ow &+ (lo &- g.q)) &* g.oc, count: (hi &- lo) &* g.oc)
        (row + hi &* g.oc).update(repeating: 0, count: (g.wp &- hi) &* g.oc)
    }
}

/// One sample's dX: per image row, tiles of up to 8 (6 when 4 vectors wide) positions × 16·nv channels, K = k·OC
/// per kernel row, the k kernel rows added into the tile in order.
func inputGradientOfSample(_ padded: UnsafePointer<Float>, _ flipped: UnsafePointer<Float>,
                           _ dx: UnsafeMutablePointer<Float>, _ g: ImplicitGeometry,
                           _ scratch: UnsafeMutablePointer<Float>) {
    let vecs = g.c >> 4
    let run = g.k &* g.oc  // K per kernel row
    var out = TileOutput(c: dx, ldc: g.c, rows: 0, cols: 0, alpha: 1, beta: 0, readC: false, scratch: scratch)
    var v0 = 0
    while v0 < vecs {
        let nv = min(4, vecs &- v0)
        let height = nv == 4 ? 6 : 8
        out.cols = nv &* 16
        for iy in 0..<g.h {
            var ix = 0
            while ix < g.w {
                let rows = min(height, g.w &- ix)
                // The tile height that fits `rows` (the kernels exist for 4, 5, 6 and 8 rows).
                let mr = rows <= 4 ? 4 : rows == 7 ? 8 : rows
                out.rows = rows
                let first = (iy &* g.w &+ ix) &* g.c
                out.c = dx + (first &+ v0 &* 16)
                for ky in 0..<g.k {
                    out.beta = ky == 0 ? 0 : 1
                    out.readC = ky != 0
                    let aOffset: Int = ((iy &+ ky) &* g.wp &+ ix) &* g.oc
                    let bOffset: Int = ky &* run &* g.c &+ v0 &* 16
                    let a = padded + aOffset, b = flipped + bOffset
                    runTile(mr: mr, nv: nv, kc: run, a: a, aRS: g.oc, aKS: 1, b: b, bKS: g.c, out: out)
                }
                ix &+= rows
            }
        }
        v0 &+= nv
    }
}
