// OneChannelConvKernel: one-input-channel convolution tiles that broadcast each pixel once, not once per kernel column.
//
// With one input channel, output pixel x of a tile reads image[x + kx] at kernel column kx, so a tile of mr
// adjacent pixels reads only mr + k − 1 distinct values per kernel row, where `microKernel` broadcasts mr of them
// at each of the k columns (mr·k broadcasts). These tiles broadcast the mr + k − 1 once and reuse them across the
// row's k columns. Each accumulator receives the same fused multiply-adds in the same (ky, kx) order as in
// `microKernel`, so the output has the same bits (ImplicitConvTests checks against one Float FMA per tap).
// The tiles are 2 vectors (32 output channels) wide, mr ∈ 4…8 rows, k ∈ {3, 5}: 16 accumulators, ≤ 9 live
// broadcasts and 2 filter vectors fit the 32 AVX-512 registers. The weight gradient's tiles below do the same along
// the image row (each step broadcasts one new pixel) and sum the bias gradient on the way.

/// The accumulators of an 8 × 2-vector tile: `c00`, `c01` hold output pixel 0's channels 0–15 and 16–31, etc.
struct OneChannelAccumulators {
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
    var c40 = SIMD16<Float>(), c41 = SIMD16<Float>(), c50 = SIMD16<Float>(), c51 = SIMD16<Float>()
    var c60 = SIMD16<Float>(), c61 = SIMD16<Float>(), c70 = SIMD16<Float>(), c71 = SIMD16<Float>()

    /// One kernel column: pixel r < mr of the tile gets p_r · (b0, b1), p_r being the broadcast of image[r + kx].
    @_transparent
    mutating func column(_ mr: Int, _ p0: SIMD16<Float>, _ p1: SIMD16<Float>, _ p2: SIMD16<Float>,
                         _ p3: SIMD16<Float>, _ p4: SIMD16<Float>, _ p5: SIMD16<Float>, _ p6: SIMD16<Float>,
                         _ p7: SIMD16<Float>, _ b0: SIMD16<Float>, _ b1: SIMD16<Float>) {
        c00.addProduct(p0, b0); c01.addProduct(p0, b1)
        c10.addProduct(p1, b0); c11.addProduct(p1, b1)
        if mr > 2 { c20.addProduct(p2, b0); c21.addProduct(p2, b1) }
        if mr > 3 { c30.addProduct(p3, b0); c31.addProduct(p3, b1) }
        if mr > 4 { c40.addProduct(p4, b0); c41.addProduct(p4, b1) }
        if mr > 5 { c50.addProduct(p5, b0); c51.addProduct(p5, b1) }
        if mr > 6 { c60.addProduct(p6, b0); c61.addProduct(p6, b1) }
        if mr > 7 { c70.addProduct(p7, b0); c71.addProduct(p7, b1) }
    }

    /// The tile's `mr` rows into `out` (`unitAlpha`, a literal, as in `TileOutput.put`).
    @_transparent
    func store(_ mr: Int, _ out: TileOutput, unitAlpha u: Bool) {
        out.put(c00, 0, 0, direct: true, unitAlpha: u); out.put(c01, 0, 1, direct: true, unitAlpha: u)
        out.put(c10, 1, 0, direct: true, unitAlpha: u); out.put(c11, 1, 1, direct: true, unitAlpha: u)
        out.put(c20, 2, 0, direct: true, unitAlpha: u); out.put(c21, 2, 1, direct: true, unitAlpha: u)
        out.put(c30, 3, 0, direct: true, unitAlpha: u); out.put(c31, 3, 1, direct: true, unitAlpha: u)
        if mr > 4 { out.put(c40, 4, 0, direct: true, unitAlpha: u); out.put(c41, 4, 1, direct: true, unitAlpha: u) }
        if mr > 5 { out.put(c50, 5, 0, direct: true, unitAlpha: u); out.put(c51, 5, 1, direct: true, unitAlpha: u) }
        if mr > 6 { out.put(c60, 6, 0, direct: true, unitAlpha: u); out.put(c61, 6, 1, direct: true, unitAlpha: u) }
        if mr > 7 { out.put(c70, 7, 0, direct: true, unitAlpha: u); out.put(c71, 7, 1, direct: true, unitAlpha: u) }
    }
}

/// The `mr` × 2-vector tile of a one-channel k × k convolution: for each of `seg.count` kernel rows (A and B
/// advancing `seg.aStep` and `seg.bStep` floats), acc(r, :) += a[r + kx] · B(kx, :) for kx = 0 ..< k, B(kx, :)
/// being 32 contiguous floats at `b + kx·32`. `out.rows` must equal `mr`. `mr` and `k` are literals.
@inline(__always)
func oneChannelKernel(_ mr: Int, _ k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, seg: TileSegments,
                      out: TileOutput) {
    var acc = OneChannelAccumulators()
    var pa = a, pb = b
    var left = seg.count
    repeat {
        // p_r = image[r + kx] for kx = 0, each pixel broadcast once: at the next column every p_r takes p_(r+1)'s
        // value and the last one broadcasts the next pixel.
        var p0 = SIMD16<Float>(repeating: pa[0]), p1 = SIMD16<Float>(repeating: pa[1])
        var p2 = SIMD16<Float>(repeating: pa[2]), p3 = SIMD16<Float>(repeating: pa[3])
        var p4 = mr > 4 ? SIMD16<Float>(repeating: pa[4]) : p0, p5 = mr > 5 ? SIMD16<Float>(repeating: pa[5]) : p0
        var p6 = mr > 6 ? SIMD16<Float>(repeating: pa[6]) : p0, p7 = mr > 7 ? SIMD16<Float>(repeating: pa[7]) : p0
        var kx = 0
        while true {
            acc.column(mr, p0, p1, p2, p3, p4, p5, p6, p7, load16(pb + kx &* 32), load16(pb + (kx &* 32 &+ 16)))
            kx &+= 1
            if kx == k { break }
            let next = SIMD16<Float>(repeating: pa[kx &+ mr &- 1])
            p0 = p1; p1 = p2; p2 = p3
            switch mr {
            case 4: p3 = next
            case 5: p3 = p4; p4 = next
            case 6: p3 = p4; p4 = p5; p5 = next
            case 7: p3 = p4; p4 = p5; p5 = p6; p6 = next
            default: p3 = p4; p4 = p5; p5 = p6; p6 = p7; p7 = next
            }
        }
        pa += seg.aStep
        pb += seg.bStep
        left &-= 1
    } while left > 0
    if out.alpha == 1 { acc.store(mr, out, unitAlpha: true) } else { acc.store(mr, out, unitAlpha: false) }
}

// Instantiations: one non-inlined function per (rows, k), each with its own register allocation.
@inline(never) func oneChannel4k3(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ s: TileSegments,
                                  _ o: TileOutput) {
    oneChannelKernel(4, 3, a: a, b: b, seg: s, out: o)
}
@inline(never) func oneChannel5k3(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ s: TileSegments,
                                  _ o: TileOutput) {
    oneChannelKernel(5, 3, a: a, b: b, seg: s, out: o)
}
@inline(never) func oneChannel6k3(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ s: TileSegments,
                                  _ o: TileOutput) {
    oneChannelKernel(6, 3, a: a, b: b, seg: s, out: o)
}
@inline(never) func oneChannel7k3(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ s: TileSegments,
                                  _ o: TileOutput) {
    oneChannelKernel(7, 3, a: a, b: b, seg: s, out: o)
}
@inline(never) func oneChannel8k3(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ s: TileSegments,
                                  _ o: TileOutput) {
    oneChannelKernel(8, 3, a: a, b: b, seg: s, out: o)
}
@inline(never) func oneChannel4k5(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ s: TileSegments,
                                  _ o: TileOutput) {
    oneChannelKernel(4, 5, a: a, b: b, seg: s, out: o)
}
@inline(never) func oneChannel5k5(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ s: TileSegments,
                                  _ o: TileOutput) {
    oneChannelKernel(5, 5, a: a, b: b, seg: s, out: o)
}
@inline(never) func oneChannel6k5(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ s: TileSegments,
                                  _ o: TileOutput) {
    oneChannelKernel(6, 5, a: a, b: b, seg: s, out: o)
}
@inline(never) func oneChannel7k5(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ s: TileSegments,
                                  _ o: TileOutput) {
    oneChannelKernel(7, 5, a: a, b: b, seg: s, out: o)
}
@inline(never) func oneChannel8k5(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ s: TileSegments,
                                  _ o: TileOutput) {
    oneChannelKernel(8, 5, a: a, b: b, seg: s, out: o)
}

/// Whether `runOneChannelTile` and `runOneChannelGradientTile` have tiles for `k` × `k` kernels: k ∈ {3, 5}.
@inline(__always)
func oneChannelKernelExists(k: Int) -> Bool { k == 3 || k == 5 }

/// Runs the `out.rows` × 2-vector one-channel tile (rows ∈ 4…8, k ∈ {3, 5}; see `oneChannelKernel`).
@inline(__always)
func runOneChannelTile(k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, segments: TileSegments,
                       out: TileOutput) {
    switch (out.rows, k) {
    case (4, 3): oneChannel4k3(a, b, segments, out)
    case (5, 3): oneChannel5k3(a, b, segments, out)
    case (6, 3): oneChannel6k3(a, b, segments, out)
    case (7, 3): oneChannel7k3(a, b, segments, out)
    case (8, 3): oneChannel8k3(a, b, segments, out)
    case (4, 5): oneChannel4k5(a, b, segments, out)
    case (5, 5): oneChannel5k5(a, b, segments, out)
    case (6, 5): oneChannel6k5(a, b, segments, out)
    case (7, 5): oneChannel7k5(a, b, segments, out)
    case (8, 5): oneChannel8k5(a, b, segments, out)
    default: preconditionFailure("runOneChannelTile: rows \(out.rows), k \(k)")
    }
}


// MARK: Weight gradient

/// The weight gradient's k × 2-vector tile of a one-channel k × k convolution for one kernel row: for each of
/// `seg.count` image rows (A and B advancing `seg.aStep` and `seg.bStep` floats), acc(r, :) += a[r + p] · B(p, :)
/// for p = 0 ..< kc, B(p, :) being the 32 floats at `b + p·bKS` (a row of dY). Row r of the tile is kernel column
/// r: `microKernel`'s tile with A(r, p) = a[r + p] (`aRS` = `aKS` = 1) in the same order of sums, but a step
/// broadcasts only the one pixel the step before did not. With `columnSums` (32 floats), each B row is also added
/// to it in turn, the bits of `accumulateColumnSums` over those rows, on the loads the tile makes anyway. `k` is a
/// literal, 3 or 5; `out.rows` must equal k.
@inline(__always)
func oneChannelGradientKernel(_ k: Int, kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bKS: Int,
                              seg: TileSegments, out: TileOutput, columnSums: UnsafeMutablePointer<Float>?) {
    var c00 = SIMD16<Float>(), c01 = SIMD16<Float>(), c10 = SIMD16<Float>(), c11 = SIMD16<Float>()
    var c20 = SIMD16<Float>(), c21 = SIMD16<Float>(), c30 = SIMD16<Float>(), c31 = SIMD16<Float>()
    var c40 = SIMD16<Float>(), c41 = SIMD16<Float>()
    var s0 = SIMD16<Float>(), s1 = SIMD16<Float>()
    if let columnSums { s0 = load16(columnSums); s1 = load16(columnSums + 16) }
    let sums = columnSums != nil
    var segA = a, segB = b
    var left = seg.count
    repeat {
        // p0 … p3 hold a[p], a[p + 1], … for the step p about to run, which broadcasts a[p + k − 1] itself.
        var p0 = SIMD16<Float>(repeating: segA[0]), p1 = SIMD16<Float>(repeating: segA[1])
        var p2 = k > 3 ? SIMD16<Float>(repeating: segA[2]) : p0, p3 = k > 3 ? SIMD16<Float>(repeating: segA[3]) : p0
        var pa = segA + (k &- 1), pb = segB
        var steps = kc
        while steps > 0 {
            let newest = SIMD16<Float>(repeating: pa[0])
            let b0 = load16(pb), b1 = load16(pb + 16)
            c00.addProduct(p0, b0); c01.addProduct(p0, b1)
            c10.addProduct(p1, b0); c11.addProduct(p1, b1)
            if k > 3 {
                c20.addProduct(p2, b0); c21.addProduct(p2, b1)
                c30.addProduct(p3, b0); c31.addProduct(p3, b1)
                c40.addProduct(newest, b0); c41.addProduct(newest, b1)
                p0 = p1; p1 = p2; p2 = p3; p3 = newest
            } else {
                c20.addProduct(newest, b0); c21.addProduct(newest, b1)
                p0 = p1; p1 = newest
            }
            if sums { s0 += b0; s1 += b1 }
            pa += 1
            pb += bKS
            steps &-= 1
        }
        segA += seg.aStep
        segB += seg.bStep
        left &-= 1
    } while left > 0
    if let columnSums { store16(s0, columnSums); store16(s1, columnSums + 16) }
    putGradientColumns(k, out, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41)
}

/// A weight-gradient tile's k kernel columns into `out` (row r = kernel column r; c_r0 its channels 0–15, c_r1
/// 16–31). `k` is a literal, 3 or 5.
@_transparent
func putGradientColumns(_ k: Int, _ out: TileOutput, _ c00: SIMD16<Float>, _ c01: SIMD16<Float>,
                        _ c10: SIMD16<Float>, _ c11: SIMD16<Float>, _ c20: SIMD16<Float>, _ c21: SIMD16<Float>,
                        _ c30: SIMD16<Float>, _ c31: SIMD16<Float>, _ c40: SIMD16<Float>, _ c41: SIMD16<Float>) {
    out.put(c00, 0, 0, direct: true); out.put(c01, 0, 1, direct: true)
    out.put(c10, 1, 0, direct: true); out.put(c11, 1, 1, direct: true)
    out.put(c20, 2, 0, direct: true); out.put(c21, 2, 1, direct: true)
    if k > 3 {
        out.put(c30, 3, 0, direct: true); out.put(c31, 3, 1, direct: true)
        out.put(c40, 4, 0, direct: true); out.put(c41, 4, 1, direct: true)
    }
}

/// Runs the weight gradient's k × 2-vector one-channel tile (k ∈ {3, 5}: `oneChannelKernelExists`; see
/// `oneChannelGradientKernel`).
@inline(__always)
func runOneChannelGradientTile(k: Int, kc: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, bKS: Int,
                               segments: TileSegments, out: TileOutput, columnSums: UnsafeMutablePointer<Float>?) {
    if k == 5 {
        oneChannelGradient5(kc, a, b, bKS, segments, out, columnSums)
    } else {
        precondition(k == 3, "runOneChannelGradientTile: k \(k)")
        oneChannelGradient3(kc, a, b, bKS, segments, out, columnSums)
    }
}

@inline(never) func oneChannelGradient3(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ bKS: Int,
                                        _ s: TileSegments, _ o: TileOutput, _ sums: UnsafeMutablePointer<Float>?) {
    oneChannelGradientKernel(3, kc: kc, a: a, b: b, bKS: bKS, seg: s, out: o, columnSums: sums)
}
@inline(never) func oneChannelGradient5(_ kc: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ bKS: Int,
                                        _ s: TileSegments, _ o: TileOutput, _ sums: UnsafeMutablePointer<Float>?) {
    oneChannelGradientKernel(5, kc: kc, a: a, b: b, bKS: bKS, seg: s, out: o, columnSums: sums)
}


// MARK: Weight gradient, two kernel rows at a time

/// `oneChannelGradientKernel` for kernel rows ky (image rows at `a`) and ky + 1 (at `a + pitch`) at once, into
/// `out` and `next`: each step loads dY's row once for both, and the two rows' 2 × 2k accumulators are independent
/// chains (one row's 2k are too few to hide the multiply-add latency). Pixels are broadcast from memory at each
/// use (two rows' windows of broadcasts would not fit the registers beside the accumulators). Every accumulator
/// gets the fused multiply-adds of its own row's tile in the same order, so the bits are those of two
/// `oneChannelGradientKernel` calls; `columnSums` likewise. `c` are row ky's sums, `d` row ky + 1's.
@inline(__always)
func oneChannelGradientPairKernel(_ k: Int, kc: Int, a: UnsafePointer<Float>, pitch: Int, b: UnsafePointer<Float>,
                                  bKS: Int, seg: TileSegments, out: TileOutput, next: TileOutput,
                                  columnSums: UnsafeMutablePointer<Float>?) {
    typealias V = SIMD16<Float>
    var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V(), c40 = V(), c41 = V()
    var d00 = V(), d01 = V(), d10 = V(), d11 = V(), d20 = V(), d21 = V(), d30 = V(), d31 = V(), d40 = V(), d41 = V()
    var s0 = V(), s1 = V()
    if let columnSums { s0 = load16(columnSums); s1 = load16(columnSums + 16) }
    let sums = columnSums != nil
    var segA = a, segB = b
    var left = seg.count
    repeat {
        var pa = segA, pb = segB
        var steps = kc
        while steps > 0 {
            let b0 = load16(pb), b1 = load16(pb + 16)
            let qa = pa + pitch
            var x = V(repeating: pa[0]), y = V(repeating: qa[0])
            c00.addProduct(x, b0); c01.addProduct(x, b1); d00.addProduct(y, b0); d01.addProduct(y, b1)
            x = V(repeating: pa[1]); y = V(repeating: qa[1])
            c10.addProduct(x, b0); c11.addProduct(x, b1); d10.addProduct(y, b0); d11.addProduct(y, b1)
            x = V(repeating: pa[2]); y = V(repeating: qa[2])
            c20.addProduct(x, b0); c21.addProduct(x, b1); d20.addProduct(y, b0); d21.addProduct(y, b1)
            if k > 3 {
                x = V(repeating: pa[3]); y = V(repeating: qa[3])
                c30.addProduct(x, b0); c31.addProduct(x, b1); d30.addProduct(y, b0); d31.addProduct(y, b1)
                x = V(repeating: pa[4]); y = V(repeating: qa[4])
                c40.addProduct(x, b0); c41.addProduct(x, b1); d40.addProduct(y, b0); d41.addProduct(y, b1)
            }
            if sums { s0 += b0; s1 += b1 }
            pa += 1
            pb += bKS
            steps &-= 1
        }
        segA += seg.aStep
        segB += seg.bStep
        left &-= 1
    } while left > 0
    if let columnSums { store16(s0, columnSums); store16(s1, columnSums + 16) }
    putGradientColumns(k, out, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41)
    putGradientColumns(k, next, d00, d01, d10, d11, d20, d21, d30, d31, d40, d41)
}

/// Runs `oneChannelGradientPairKernel` (k ∈ {3, 5}: `oneChannelKernelExists`).
@inline(__always)
func runOneChannelGradientPair(k: Int, kc: Int, a: UnsafePointer<Float>, pitch: Int, b: UnsafePointer<Float>,
                               bKS: Int, segments: TileSegments, out: TileOutput, next: TileOutput,
                               columnSums: UnsafeMutablePointer<Float>?) {
    if k == 5 {
        oneChannelGradientPair5(kc, a, pitch, b, bKS, segments, out, next, columnSums)
    } else {
        precondition(k == 3, "runOneChannelGradientPair: k \(k)")
        oneChannelGradientPair3(kc, a, pitch, b, bKS, segments, out, next, columnSums)
    }
}

@inline(never) func oneChannelGradientPair3(_ kc: Int, _ a: UnsafePointer<Float>, _ pitch: Int,
                                            _ b: UnsafePointer<Float>, _ bKS: Int, _ s: TileSegments,
                                            _ o: TileOutput, _ next: TileOutput, _ sums: UnsafeMutablePointer<Float>?) {
    oneChannelGradientPairKernel(3, kc: kc, a: a, pitch: pitch, b: b, bKS: bKS, seg: s, out: o, next: next,
                                 columnSums: sums)
}
@inline(never) func oneChannelGradientPair5(_ kc: Int, _ a: UnsafePointer<Float>, _ pitch: Int,
                                            _ b: UnsafePointer<Float>, _ bKS: Int, _ s: TileSegments,
                                            _ o: TileOutput, _ next: TileOutput, _ sums: UnsafeMutablePointer<Float>?) {
    oneChannelGradientPairKernel(5, kc: kc, a: a, pitch: pitch, b: b, bKS: bKS, seg: s, out: o, next: next,
                                 columnSums: sums)
}
