// GEMMKernel: the register-tile micro-kernels (up to 8 rows × 4 SIMD16 columns) and their C epilogue.

/// Where a register tile goes: C(i, j) at `c + i·ldc + j`, `rows × cols` of it valid.
/// The tile result is `alpha · acc + beta · C`; `readC == false` means C is not read (beta == 0, first K block).
struct TileOutput {
    var c: UnsafeMutablePointer<Float>
    var ldc: Int
    var rows: Int
    var cols: Int
    var alpha: Float
    var beta: Float
    var readC: Bool
    /// At least 8 × 64 floats, used when the tile is narrower than its vectors.
    var scratch: UnsafeMutablePointer<Float>
    /// When set, bias[j] is added to column j last, after alpha and beta: the bits of storing the tile and then
    /// adding a bias row (`addRowVector`), without a second pass over C.
    var bias: UnsafePointer<Float>? = nil
    /// Replace negative values by 0 after everything else (`reluForward`'s SIMD arithmetic: −0 and NaN kept).
    var relu = false

    /// Accumulator (r, v) holds C(r, 16v ..< 16v + 16).
    @inline(__always)
    func put(_ acc: SIMD16<Float>, _ r: Int, _ v: Int, direct: Bool) {
        put(acc, r, v, direct: direct, unitAlpha: false)
    }

    /// `put`, where `unitAlpha` (a literal) promises α = 1 and skips the multiply: acc · 1 is acc bit for bit (the
    /// sums are FMA results, so a NaN is already quiet). Tiles test α once and run an epilogue of these.
    @inline(__always)
    func put(_ acc: SIMD16<Float>, _ r: Int, _ v: Int, direct: Bool, unitAlpha: Bool) {
        let scaled = unitAlpha ? acc : acc * alpha
        if direct {
            guard r < rows else { return }
            let p = UnsafeMutableRawPointer(c + (r &* ldc &+ v &* 16))
            var value = scaled
            if readC { value = scaled + p.loadUnaligned(as: SIMD16<Float>.self) * beta }
            if let bias { value += UnsafeRawPointer(bias + v &* 16).loadUnaligned(as: SIMD16<Float>.self) }
            if relu { value.replace(with: SIMD16<Float>(), where: value .< SIMD16<Float>()) }
            p.storeBytes(of: value, as: SIMD16<Float>.self)
        } else {
            UnsafeMutableRawPointer(scratch + (r &* 64 &+ v &* 16)).storeBytes(of: scaled, as: SIMD16<Float>.self)
        }
    }

    /// Writes the valid part of the scratch tile to C, one element at a time (same arithmetic as `put`).
    @inline(never)
    func flushScratch() {
        for r in 0..<rows {
            let src = scratch + r &* 64, dst = c + r &* ldc
            if readC {
                for j in 0..<cols { dst[j] = src[j] + dst[j] * beta }
            } else {
                for j in 0..<cols { dst[j] = src[j] }
            }
            if let bias { for j in 0..<cols { dst[j] += bias[j] } }
            if relu { for j in 0..<cols where dst[j] < 0 { dst[j] = 0 } }
        }
    }
}

/// The register tile: acc(r, :) = Σ_p A(r, p) · B(p, :) over `kc` steps, then the epilogue into `out`.
/// A(r, p) is read (broadcast) at `a + r·aRS + p·aKS`; rows ≥ `out.rows` re-read the last valid row (their
/// results are dropped). B(p, 0 ..< 16·nv) is `nv` contiguous vectors at `b + p·bKS`. `mr` and `nv` must be
/// literals at the call site so the unused accumulators fold away after inlining. The K loop runs `segments`
/// times, A and B restarting `aSeg` and `bSeg` floats after the previous run's start (see `TileSegments`).
/// The body is written out accumulator by accumulator on purpose: named `SIMD16` values are what stay in registers.
@inline(__always)
func microKernel(
    _ mr: Int, _ nv: Int, kc: Int,
    a: UnsafePointer<Float>, aRS: Int, aKS: Int,
    b: UnsafePointer<Float>, bKS: Int, segments: Int, aSeg: Int, bSeg: Int, out: TileOutput
) {
    let last = out.rows &- 1
    let o1 = (mr > 1 ? min(1, last) : 0) &* aRS
    let o2 = (mr > 2 ? min(2, last) : 0) &* aRS
    let o3 = (mr > 3 ? min(3, last) : 0) &* aRS
    let o4 = (mr > 4 ? min(4, last) : 0) &* aRS
    let o5 = (mr > 5 ? min(5, last) : 0) &* aRS
    let o6 = (mr > 6 ? min(6, last) : 0) &* aRS
    let o7 = (mr > 7 ? min(7, last) : 0) &* aRS
    var c00 = SIMD16<Float>(); var c01 = SIMD16<Float>(); var c02 = SIMD16<Float>(); var c03 = SIMD16<Float>()
    var c10 = SIMD16<Float>(); var c11 = SIMD16<Float>(); var c12 = SIMD16<Float>(); var c13 = SIMD16<Float>()
    var c20 = SIMD16<Float>(); var c21 = SIMD16<Float>(); var c22 = SIMD16<Float>(); var c23 = SIMD16<Float>()
    var c30 = SIMD16<Float>(); var c31 = SIMD16<Float>(); var c32 = SIMD16<Float>(); var c33 = SIMD16<Float>()
    var c40 = SIMD16<Float>(); var c41 = SIMD16<Float>(); var c42 = SIMD16<Float>(); var c43 = SIMD16<Float>()
    var c50 = SIMD16<Float>(); var c51 = SIMD16<Float>(); var c52 = SIMD16<Float>(); var c53 = SIMD16<Float>()
    var c60 = SIMD16<Float>(); var c61 = SIMD16<Float>(); var c62 = SIMD16<Float>(); var c63 = SIMD16<Float>()
    var c70 = SIMD16<Float>(); var c71 = SIMD16<Float>(); var c72 = SIMD16<Float>(); var c73 = SIMD16<Float>()
    let bStep = bKS &* MemoryLayout<Float>.stride
    var segA = a, segB = b
    var segmentsLeft = segments
    repeat {
        var pa = segA, pb = UnsafeRawPointer(segB)
        var left = kc
        while left > 0 {
            let b0 = pb.loadUnaligned(as: SIMD16<Float>.self)
            let b1 = nv > 1 ? pb.loadUnaligned(fromByteOffset: 64, as: SIMD16<Float>.self) : b0
            let b2 = nv > 2 ? pb.loadUnaligned(fromByteOffset: 128, as: SIMD16<Float>.self) : b0
            let b3 = nv > 3 ? pb.loadUnaligned(fromByteOffset: 192, as: SIMD16<Float>.self) : b0
            var x = SIMD16<Float>(repeating: pa[0])
            c00.addProduct(x, b0)
            if nv > 1 { c01.addProduct(x, b1) }
            if nv > 2 { c02.addProduct(x, b2) }
            if nv > 3 { c03.addProduct(x, b3) }
            if mr > 1 {
                x = SIMD16<Float>(repeating: pa[o1])
                c10.addProduct(x, b0)
                if nv > 1 { c11.addProduct(x, b1) }
                if nv > 2 { c12.addProduct(x, b2) }
                if nv > 3 { c13.addProduct(x, b3) }
            }
            if mr > 2 {
                x = SIMD16<Float>(repeating: pa[o2])
                c20.addProduct(x, b0)
                if nv > 1 { c21.addProduct(x, b1) }
                if nv > 2 { c22.addProduct(x, b2) }
                if nv > 3 { c23.addProduct(x, b3) }
            }
            if mr > 3 {
                x = SIMD16<Float>(repeating: pa[o3])
                c30.addProduct(x, b0)
                if nv > 1 { c31.addProduct(x, b1) }
                if nv > 2 { c32.addProduct(x, b2) }
                if nv > 3 { c33.addProduct(x, b3) }
            }
            if mr > 4 {
                x = SIMD16<Float>(repeating: pa[o4])
                c40.addProduct(x, b0)
                if nv > 1 { c41.addProduct(x, b1) }
                if nv > 2 { c42.addProduct(x, b2) }
                if nv > 3 { c43.addProduct(x, b3) }
            }
            if mr > 5 {
                x = SIMD16<Float>(repeating: pa[o5])
                c50.addProduct(x, b0)
                if nv > 1 { c51.addProduct(x, b1) }
                if nv > 2 { c52.addProduct(x, b2) }
                if nv > 3 { c53.addProduct(x, b3) }
            }
            if mr > 6 {
                x = SIMD16<Float>(repeating: pa[o6])
                c60.addProduct(x, b0)
                if nv > 1 { c61.addProduct(x, b1) }
                if nv > 2 { c62.addProduct(x, b2) }
                if nv > 3 { c63.addProduct(x, b3) }
            }
            if mr > 7 {
                x = SIMD16<Float>(repeating: pa[o7])
                c70.addProduct(x, b0)
                if nv > 1 { c71.addProduct(x, b1) }
                if nv > 2 { c72.addProduct(x, b2) }
                if nv > 3 { c73.addProduct(x, b3) }
            }
            pa += aKS
            pb += bStep
            left &-= 1
        }
        segA += aSeg
        segB += bSeg
        segmentsLeft &-= 1
    } while segmentsLeft > 0
    let direct = out.cols == nv &* 16
    out.put(c00, 0, 0, direct: direct)
    if nv > 1 { out.put(c01, 0, 1, direct: direct) }
    if nv > 2 { out.put(c02, 0, 2, direct: direct) }
    if nv > 3 { out.put(c03, 0, 3, direct: direct) }
    if mr > 1 { out.put(c10, 1, 0, direct: direct) }
    if mr > 1 && nv > 1 { out.put(c11, 1, 1, direct: direct) }
    if mr > 1 && nv > 2 { out.put(c12, 1, 2, direct: direct) }
    if mr > 1 && nv > 3 { out.put(c13, 1, 3, direct: direct) }
    if mr > 2 { out.put(c20, 2, 0, direct: direct) }
    if mr > 2 && nv > 1 { out.put(c21, 2, 1, direct: direct) }
    if mr > 2 && nv > 2 { out.put(c22, 2, 2, direct: direct) }
    if mr > 2 && nv > 3 { out.put(c23, 2, 3, direct: direct) }
    if mr > 3 { out.put(c30, 3, 0, direct: direct) }
    if mr > 3 && nv > 1 { out.put(c31, 3, 1, direct: direct) }
    if mr > 3 && nv > 2 { out.put(c32, 3, 2, direct: direct) }
    if mr > 3 && nv > 3 { out.put(c33, 3, 3, direct: direct) }
    if mr > 4 { out.put(c40, 4, 0, direct: direct) }
    if mr > 4 && nv > 1 { out.put(c41, 4, 1, direct: direct) }
    if mr > 4 && nv > 2 { out.put(c42, 4, 2, direct: direct) }
    if mr > 4 && nv > 3 { out.put(c43, 4, 3, direct: direct) }
    if mr > 5 { out.put(c50, 5, 0, direct: direct) }
    if mr > 5 && nv > 1 { out.put(c51, 5, 1, direct: direct) }
    if mr > 5 && nv > 2 { out.put(c52, 5, 2, direct: direct) }
    if mr > 5 && nv > 3 { out.put(c53, 5, 3, direct: direct) }
    if mr > 6 { out.put(c60, 6, 0, direct: direct) }
    if mr > 6 && nv > 1 { out.put(c61, 6, 1, direct: direct) }
    if mr > 6 && nv > 2 { out.put(c62, 6, 2, direct: direct) }
    if mr > 6 && nv > 3 { out.put(c63, 6, 3, direct: direct) }
    if mr > 7 { out.put(c70, 7, 0, direct: direct) }
    if mr > 7 && nv > 1 { out.put(c71, 7, 1, direct: direct) }
    if mr > 7 && nv > 2 { out.put(c72, 7, 2, direct: direct) }
    if mr > 7 && nv > 3 { out.put(c73, 7, 3, direct: direct) }
    if !direct { out.flushScratch() }
}

// Instantiations: one non-inlined function per tile shape, so each gets its own register allocation.
@inline(never) func tile4x1(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(4, 1, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile4x2(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(4, 2, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile4x3(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(4, 3, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile4x4(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(4, 4, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile5x1(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(5, 1, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile5x2(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(5, 2, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile5x3(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(5, 3, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile5x4(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(5, 4, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile6x1(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(6, 1, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile6x2(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(6, 2, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile6x3(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(6, 3, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile6x4(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(6, 4, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile8x1(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(8, 1, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile8x2(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(8, 2, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile8x3(_ kc: Int, _ a: UnsafePointer<Float>, _ aRS: Int, _ aKS: Int,
                            _ b: UnsafePointer<Float>, _ bKS: Int, _ seg: TileSegments, _ out: TileOutput) {
    microKernel(8, 3, kc: kc, a: a, aRS: aRS, aKS: aKS, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}

/// The K loop of a tile as `count` runs of `kc` steps: run s starts at A + s·aStep and B + s·bStep (in floats).
/// One run is a plain GEMM block; several let a convolution walk image rows without unfolding them.
struct TileSegments {
    var count: Int
    var aStep: Int
    var bStep: Int
    static let one = TileSegments(count: 1, aStep: 0, bStep: 0)
}

/// Runs the `mr` × `nv` tile: mr ∈ {4, 5, 6} with nv ≤ 4, or mr = 8 with nv ≤ 3.
@inline(__always)
func runTile(mr: Int, nv: Int, kc: Int, a: UnsafePointer<Float>, aRS: Int, aKS: Int,
             b: UnsafePointer<Float>, bKS: Int, segments: TileSegments = .one, out: TileOutput) {
    switch (mr, nv) {
    case (4, 1): tile4x1(kc, a, aRS, aKS, b, bKS, segments, out)
    case (4, 2): tile4x2(kc, a, aRS, aKS, b, bKS, segments, out)
    case (4, 3): tile4x3(kc, a, aRS, aKS, b, bKS, segments, out)
    case (4, 4): tile4x4(kc, a, aRS, aKS, b, bKS, segments, out)
    case (5, 1): tile5x1(kc, a, aRS, aKS, b, bKS, segments, out)
    case (5, 2): tile5x2(kc, a, aRS, aKS, b, bKS, segments, out)
    case (5, 3): tile5x3(kc, a, aRS, aKS, b, bKS, segments, out)
    case (5, 4): tile5x4(kc, a, aRS, aKS, b, bKS, segments, out)
    case (6, 1): tile6x1(kc, a, aRS, aKS, b, bKS, segments, out)
    case (6, 2): tile6x2(kc, a, aRS, aKS, b, bKS, segments, out)
    case (6, 3): tile6x3(kc, a, aRS, aKS, b, bKS, segments, out)
    case (6, 4): tile6x4(kc, a, aRS, aKS, b, bKS, segments, out)
    case (8, 1): tile8x1(kc, a, aRS, aKS, b, bKS, segments, out)
    case (8, 2): tile8x2(kc, a, aRS, aKS, b, bKS, segments, out)
    default: tile8x3(kc, a, aRS, aKS, b, bKS, segments, out)
    }
}
