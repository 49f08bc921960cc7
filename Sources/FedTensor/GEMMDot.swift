// GEMMDot: the dot-product path for A·Bᵀ when both operands are contiguous along K and one side is skinny.
//
// A fully-connected forward pass (batch × K)·(out × K)ᵀ with a small batch would need the big weight matrix
// transposed into panels for the broadcast kernel. Here both operands are read in place along K, 4 rows of each
// at a time, with 16 lanes of partial sums per output that are reduced once at the end.

/// C(i, j) = alpha · Σ_p X(i, p) · Y(j, p) + beta · C(i, j), X(i, p) at `x + i·ldx + p`, Y(j, p) at `y + j·ldy + p`,
/// C(i, j) at `c + i·cRS + j·cCS`.
struct DotProblem {
    var k: Int
    var x: UnsafePointer<Float>, ldx: Int, xRows: Int
    var y: UnsafePointer<Float>, ldy: Int, yRows: Int
    var c: UnsafeMutablePointer<Float>, cRS: Int, cCS: Int
    var alpha: Float, beta: Float
}

/// Runs Y rows [y0, y1) against all X rows; Y groups outside, so a group of 4 Y rows is reused from cache by
/// every X group.
func runDot(_ d: DotProblem, _ y0: Int, _ y1: Int) {
    var j = y0
    while j < y1 {
        let yRows = min(4, y1 &- j)
        var i = 0
        while i < d.xRows {
            let xRows = min(4, d.xRows &- i)
            dotTile(d, i, xRows, j, yRows)
            i &+= 4
        }
        j &+= 4
    }
}

@inline(__always)
private func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

/// The first `count` (< 16) floats at `p`, zero-filled.
@inline(__always)
private func loadPartial(_ p: UnsafePointer<Float>, _ count: Int) -> SIMD16<Float> {
    var v = SIMD16<Float>()
    for t in 0..<count { v[t] = p[t] }
    return v
}

/// Lane t of the result is the sum of the lanes of v_t, by a fixed pairwise tree.
@inline(__always)
private func pairSums(_ u: SIMD16<Float>, _ v: SIMD16<Float>) -> SIMD16<Float> {
    let z = SIMD32(lowHalf: u, highHalf: v)
    return z.evenHalf + z.oddHalf
}

/// One 4 × 4 block of outputs (fewer valid rows re-read the last valid one; their results are dropped).
@inline(never)
private func dotTile(_ d: DotProblem, _ i: Int, _ xRows: Int, _ j: Int, _ yRows: Int) {
    let x0 = d.x + i &* d.ldx, y0 = d.y + j &* d.ldy
    let x1 = x0 + min(1, xRows &- 1) &* d.ldx, x2 = x0 + min(2, xRows &- 1) &* d.ldx
    let x3 = x0 + min(3, xRows &- 1) &* d.ldx
    let y1 = y0 + min(1, yRows &- 1) &* d.ldy, y2 = y0 + min(2, yRows &- 1) &* d.ldy
    let y3 = y0 + min(3, yRows &- 1) &* d.ldy
    var s00 = SIMD16<Float>(), s01 = SIMD16<Float>(), s02 = SIMD16<Float>(), s03 = SIMD16<Float>()
    var s10 = SIMD16<Float>(), s11 = SIMD16<Float>(), s12 = SIMD16<Float>(), s13 = SIMD16<Float>()
    var s20 = SIMD16<Float>(), s21 = SIMD16<Float>(), s22 = SIMD16<Float>(), s23 = SIMD16<Float>()
    var s30 = SIMD16<Float>(), s31 = SIMD16<Float>(), s32 = SIMD16<Float>(), s33 = SIMD16<Float>()
    @inline(__always) func step(_ a0: SIMD16<Float>, _ a1: SIMD16<Float>, _ a2: SIMD16<Float>, _ a3: SIMD16<Float>,
                                _ b0: SIMD16<Float>, _ b1: SIMD16<Float>, _ b2: SIMD16<Float>, _ b3: SIMD16<Float>) {
        s00.addProduct(a0, b0); s01.addProduct(a0, b1); s02.addProduct(a0, b2); s03.addProduct(a0, b3)
        s10.addProduct(a1, b0); s11.addProduct(a1, b1); s12.addProduct(a1, b2); s13.addProduct(a1, b3)
        s20.addProduct(a2, b0); s21.addProduct(a2, b1); s22.addProduct(a2, b2); s23.addProduct(a2, b3)
        s30.addProduct(a3, b0); s31.addProduct(a3, b1); s32.addProduct(a3, b2); s33.addProduct(a3, b3)
    }
    let kFull = d.k & ~15
    var p = 0
    while p < kFull {
        step(load(x0 + p), load(x1 + p), load(x2 + p), load(x3 + p),
             load(y0 + p), load(y1 + p), load(y2 + p), load(y3 + p))
        p &+= 16
    }
    if p < d.k {
        let t = d.k &- p
        step(loadPartial(x0 + p, t), loadPartial(x1 + p, t), loadPartial(x2 + p, t), loadPartial(x3 + p, t),
             loadPartial(y0 + p, t), loadPartial(y1 + p, t), loadPartial(y2 + p, t), loadPartial(y3 + p, t))
    }
    let r0 = pairSums(pairSums(pairSums(s00, s01), pairSums(s02, s03)), pairSums(pairSums(s10, s11), pairSums(s12, s13)))
    let r1 = pairSums(pairSums(pairSums(s20, s21), pairSums(s22, s23)), pairSums(pairSums(s30, s31), pairSums(s32, s33)))
    let sums = pairSums(r0, r1) * d.alpha  // lane 4r + s: X row i + r against Y row j + s
    for r in 0..<xRows {
        let row = d.c + ((i &+ r) &* d.cRS &+ j &* d.cCS)
        for s in 0..<yRows {
            let q = row + s &* d.cCS
            q.pointee = d.beta == 0 ? sums[4 &* r &+ s] : sums[4 &* r &+ s] + q.pointee * d.beta
        }
    }
}

/// A·Bᵀ through the dot kernel, the longer side split over threads for large products.
func gemmDot(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
             b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    // The shorter side is X (all of it stays in cache); the longer side Y streams through once.
    let d = m <= n
        ? DotProblem(k: k, x: a, ldx: lda, xRows: m, y: b, ldy: ldb, yRows: n, c: c, cRS: ldc, cCS: 1,
                     alpha: alpha, beta: beta)
        : DotProblem(k: k, x: b, ldx: ldb, xRows: n, y: a, ldy: lda, yRows: m, c: c, cRS: 1, cCS: ldc,
                     alpha: alpha, beta: beta)
    let groups = (d.yRows + 3) / 4
    let flops = 2 * Double(m) * Double(n) * Double(k)
    let workers = min(groups, flops >= GEMMBlocking.parallelFlops ? ComputeThreads.count : 1)
    if workers <= 1 {
        runDot(d, 0, d.yRows)
        return
    }
    parallelFor(workers, threads: workers) { w in
        runDot(d, groups &* w / workers &* 4, min(groups &* (w &+ 1) / workers &* 4, d.yRows))
    }
}
