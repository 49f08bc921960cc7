// GEMMDot: the dot-product path for A·Bᵀ when both operands are contiguous along K and one side is skinny.
//
// A fully-connected forward pass (batch × K)·(out × K)ᵀ with a small batch would need the big weight matrix
// transposed into panels for the broadcast kernel. Here both operands are read in place along K, 4 or 5 rows of
// X against 4 rows of Y at a time (3 or 2 against 2 where a SIMD16 takes two registers), with 16 lanes of partial sums
// per output that are reduced once at the end by the same tree whatever the tile. A long K against many X rows (the
// McMahan CNN's 3136 → 512 layer at batch 64) is staged: X copied once, Y piece by piece, into aligned buffers that
// 2 × 8 tiles read from L1 (`runStagedDot`, GEMMDotStaged.swift), each lane still summing its products in K order,
// so the same bits.

/// C(i, j) = alpha · Σ_p X(i, p) · Y(j, p) + beta · C(i, j), with X(i, p) at `x + i·ldx + p`,
/// Y(j, p) at `y + j·ldy + p` and C(i, j) at `c + i·cRS + j·cCS`.
struct DotProblem {
    var k: Int
    var x: UnsafePointer<Float>, ldx: Int, xRows: Int
    var y: UnsafePointer<Float>, ldy: Int, yRows: Int
    var c: UnsafeMutablePointer<Float>, cRS: Int, cCS: Int
    var alpha: Float, beta: Float
}

/// Runs Y rows [y0, y1) against all X rows; Y groups outside, so a group of 4 Y rows is reused from cache by
/// every X group.
func runDot(_ d: DotProblem, _ y0: Int, _ y1: Int, vectors: Int) {
    if vectors < 4 {
        // Where a SIMD16 takes two registers, 3 × 2 tiles (12 ymm of sums; 4 × 4 ones would hold 40 ymm and spill
        // every step), and 2 × 2 ones for the last 1, 2 or 4 X rows. Each step loads 5 vectors for 6 products where
        // 2 × 2 loads 4 for 4: 15–20% faster on the Zen 3 host (3136 → 512 layer at batch 10 and 64, one thread).
        var j = y0
        while j < y1 {
            let yRows = min(2, y1 &- j)
            var i = 0
            while i < d.xRows {
                let left = d.xRows &- i
                if left == 1 || left == 2 || left == 4 {
                    dotTile2(d, i, min(2, left), j, yRows)
                    i &+= 2
                } else {
                    dotTile3(d, i, j, yRows)
                    i &+= 3
                }
            }
            j &+= 2
        }
        return
    }
    // 5 X rows per tile when that wastes fewer than 4 do (a batch of 10).
    let xr = (5 &- d.xRows % 5) % 5 < (4 &- d.xRows % 4) % 4 ? 5 : 4
    var j = y0
    while j < y1 {
        let yRows = min(4, y1 &- j)
        var i = 0
        while i < d.xRows {
            let xRows = min(xr, d.xRows &- i)
            if xr == 5 { dotTile5(d, i, xRows, j, yRows) } else { dotTile4(d, i, xRows, j, yRows) }
            i &+= xr
        }
        j &+= 4
    }
}

/// C(i + r, j + s) = value(r, s), plus beta · C(i + r, j + s) unless beta is 0, for r < xRows and s < yRows: how
/// every dot tile stores its outputs.
@inline(__always)
func storeDotOutputs(_ d: DotProblem, _ i: Int, _ xRows: Int, _ j: Int, _ yRows: Int,
                             _ value: (Int, Int) -> Float) {
    for r in 0..<xRows {
        let row = d.c + ((i &+ r) &* d.cRS &+ j &* d.cCS)
        for s in 0..<yRows {
            let q = row + s &* d.cCS
            let v = value(r, s)
            q.pointee = d.beta == 0 ? v : v + q.pointee * d.beta
        }
    }
}

/// The `count` < 16 floats at `p` in the low lanes of a vector, zeros above (copied through memory: building
/// the vector lane by lane compiles to a chain of inserts that cost more than the rest of a short dot product).
@inline(__always)
private func tailVector(_ p: UnsafePointer<Float>, count: Int) -> SIMD16<Float> {
    var v = SIMD16<Float>()
    withUnsafeMutableBytes(of: &v) { $0.baseAddress!.copyMemory(from: p, byteCount: count &* 4) }
    return v
}

/// Calls `step` once per 16 floats of K with a loader of those floats of a row: full vectors read in place, the
/// tail copied (`tailVector`). The K walk of the narrow dot tiles.
@inline(__always)
private func forEachKVector(_ k: Int, _ step: ((UnsafePointer<Float>) -> SIMD16<Float>) -> Void) {
    let kFull = k & ~15
    var p = 0
    while p < kFull {
        step { UnsafeRawPointer($0 + p).loadUnaligned(as: SIMD16<Float>.self) }
        p &+= 16
    }
    if p < k {
        let t = k &- p
        step { row in tailVector(row + p, count: t) }
    }
}

/// Sums of adjacent lanes: lanes 0 ..< 8 from u, 8 ..< 16 from v. Four levels of this over 16 vectors leave the
/// total of the t-th in lane t (a fixed tree, so the same bits every time).
@inline(__always)
func pairSums(_ u: SIMD16<Float>, _ v: SIMD16<Float>) -> SIMD16<Float> {
    let (even, odd) = deinterleave(u, v)
    return even + odd
}

@inline(never) private func dotTile4(_ d: DotProblem, _ i: Int, _ xRows: Int, _ j: Int, _ yRows: Int) {
    dotTile(4, d, i, xRows, j, yRows)
}

@inline(never) private func dotTile5(_ d: DotProblem, _ i: Int, _ xRows: Int, _ j: Int, _ yRows: Int) {
    dotTile(5, d, i, xRows, j, yRows)
}

@inline(never) private func dotTile2(_ d: DotProblem, _ i: Int, _ xRows: Int, _ j: Int, _ yRows: Int) {
    narrowDotTile(2, d, i, xRows, j, yRows)
}

@inline(never) private func dotTile3(_ d: DotProblem, _ i: Int, _ j: Int, _ yRows: Int) {
    narrowDotTile(3, d, i, 3, j, yRows)
}

/// One `xr` × 2 block of outputs, xr ∈ {2, 3} a literal, for registers that hold 8 floats (fewer valid rows re-read
/// the last valid one; their results are dropped): `dotTile`'s lane sums and reduction tree per output, so the same
/// bits as the wider tiles.
@inline(__always)
private func narrowDotTile(_ xr: Int, _ d: DotProblem, _ i: Int, _ xRows: Int, _ j: Int, _ yRows: Int) {
    @inline(__always) func xRow(_ r: Int) -> UnsafePointer<Float> { d.x + (i &+ min(r, xRows &- 1)) &* d.ldx }
    let x0 = xRow(0), x1 = xRow(1), x2 = xr > 2 ? xRow(2) : x0
    let y0 = d.y + j &* d.ldy, y1 = d.y + (j &+ min(1, yRows &- 1)) &* d.ldy
    var s00 = SIMD16<Float>(), s01 = SIMD16<Float>(), s10 = SIMD16<Float>(), s11 = SIMD16<Float>()
    var s20 = SIMD16<Float>(), s21 = SIMD16<Float>()
    @inline(__always) func step(_ load: (UnsafePointer<Float>) -> SIMD16<Float>) {
        let b0 = load(y0), b1 = load(y1)
        var a = load(x0)
        s00.addProduct(a, b0); s01.addProduct(a, b1)
        a = load(x1)
        s10.addProduct(a, b0); s11.addProduct(a, b1)
        if xr > 2 {
            a = load(x2)
            s20.addProduct(a, b0); s21.addProduct(a, b1)
        }
    }
    forEachKVector(d.k, step)
    // Lane 2r + s: X row i + r against Y row j + s (the third row's sums stay zero in a 2 × 2 tile).
    let zero = SIMD16<Float>()
    let sums = pairSums(pairSums(pairSums(pairSums(s00, s01), pairSums(s10, s11)), pairSums(pairSums(s20, s21), zero)),
                        zero) * d.alpha
    storeDotOutputs(d, i, xRows, j, yRows) { r, s in sums[2 &* r &+ s] }
}

/// The 16 lane sums of each output of a 5 × 4 dot tile: `s[r][t]` is X row r against Y row t.
struct DotSums {
    var s00 = SIMD16<Float>(), s01 = SIMD16<Float>(), s02 = SIMD16<Float>(), s03 = SIMD16<Float>()
    var s10 = SIMD16<Float>(), s11 = SIMD16<Float>(), s12 = SIMD16<Float>(), s13 = SIMD16<Float>()
    var s20 = SIMD16<Float>(), s21 = SIMD16<Float>(), s22 = SIMD16<Float>(), s23 = SIMD16<Float>()
    var s30 = SIMD16<Float>(), s31 = SIMD16<Float>(), s32 = SIMD16<Float>(), s33 = SIMD16<Float>()
    var s40 = SIMD16<Float>(), s41 = SIMD16<Float>(), s42 = SIMD16<Float>(), s43 = SIMD16<Float>()

    /// One K step: the 16 floats at offset `p` of X rows x0…x4 (x4 only when `xr` is 5) and Y rows y0…y3.
    @inline(__always)
    mutating func step(_ xr: Int, _ x: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                                        UnsafePointer<Float>, UnsafePointer<Float>),
                       _ y: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>),
                       _ p: Int) {
        @inline(__always) func load(_ row: UnsafePointer<Float>) -> SIMD16<Float> {
            UnsafeRawPointer(row + p).loadUnaligned(as: SIMD16<Float>.self)
        }
        let b0 = load(y.0), b1 = load(y.1), b2 = load(y.2), b3 = load(y.3)
        var a = load(x.0)
        s00.addProduct(a, b0); s01.addProduct(a, b1); s02.addProduct(a, b2); s03.addProduct(a, b3)
        a = load(x.1)
        s10.addProduct(a, b0); s11.addProduct(a, b1); s12.addProduct(a, b2); s13.addProduct(a, b3)
        a = load(x.2)
        s20.addProduct(a, b0); s21.addProduct(a, b1); s22.addProduct(a, b2); s23.addProduct(a, b3)
        a = load(x.3)
        s30.addProduct(a, b0); s31.addProduct(a, b1); s32.addProduct(a, b2); s33.addProduct(a, b3)
        if xr > 4 {
            a = load(x.4)
            s40.addProduct(a, b0); s41.addProduct(a, b1); s42.addProduct(a, b2); s43.addProduct(a, b3)
        }
    }
}

/// One `xr` × 4 block of outputs, xr ∈ {4, 5} a literal (fewer valid rows re-read the last valid one; their
/// results are dropped). Each output keeps 16 lane sums over K, reduced by a fixed pairwise tree at the end. The
/// sums live in a struct updated in place by a plain loop: captured by a nested step function, LLVM kept a third
/// of them in memory, loaded and stored at every step.
@inline(__always)
private func dotTile(_ xr: Int, _ d: DotProblem, _ i: Int, _ xRows: Int, _ j: Int, _ yRows: Int) {
    @inline(__always) func xRow(_ r: Int) -> UnsafePointer<Float> { d.x + (i &+ min(r, xRows &- 1)) &* d.ldx }
    @inline(__always) func yRow(_ r: Int) -> UnsafePointer<Float> { d.y + (j &+ min(r, yRows &- 1)) &* d.ldy }
    let x = (xRow(0), xRow(1), xRow(2), xRow(3), xr > 4 ? xRow(4) : xRow(0))
    let y = (yRow(0), yRow(1), yRow(2), yRow(3))
    var acc = DotSums()
    let kFull = d.k & ~15
    var p = 0
    while p < kFull {
        acc.step(xr, x, y, p)
        p &+= 16
    }
    if p < d.k {
        // The tail: each row's last k − p floats in a zeroed vector (`tailVector`).
        let t = d.k &- p
        var rows = (tailVector(x.0 + p, count: t), tailVector(x.1 + p, count: t), tailVector(x.2 + p, count: t),
                    tailVector(x.3 + p, count: t), tailVector(x.4 + p, count: t), tailVector(y.0 + p, count: t),
                    tailVector(y.1 + p, count: t), tailVector(y.2 + p, count: t), tailVector(y.3 + p, count: t))
        withUnsafeBytes(of: &rows) { raw in
            let v = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            acc.step(xr, (v, v + 16, v + 32, v + 48, v + 64), (v + 80, v + 96, v + 112, v + 128), 0)
        }
    }
    // Lane 4r + s of `sums`: X row i + r against Y row j + s (r < 4); lane s of `extra`: row i + 4.
    let q0 = pairSums(pairSums(acc.s00, acc.s01), pairSums(acc.s02, acc.s03))
    let q1 = pairSums(pairSums(acc.s10, acc.s11), pairSums(acc.s12, acc.s13))
    let q2 = pairSums(pairSums(acc.s20, acc.s21), pairSums(acc.s22, acc.s23))
    let q3 = pairSums(pairSums(acc.s30, acc.s31), pairSums(acc.s32, acc.s33))
    let r0 = pairSums(q0, q1), r1 = pairSums(q2, q3)
    let sums = pairSums(r0, r1) * d.alpha
    let zero = SIMD16<Float>()
    let extra = xr > 4
        ? pairSums(pairSums(pairSums(pairSums(acc.s40, acc.s41), pairSums(acc.s42, acc.s43)), zero), zero) * d.alpha
        : zero
    storeDotOutputs(d, i, xRows, j, yRows) { r, s in r < 4 ? sums[4 &* r &+ s] : extra[s] }
}

/// A·Bᵀ through the dot kernel; for large products the longer side is cut into chunks that workers claim in turn.
/// A long K against many X rows is staged (`stagesDot`): X is copied once into an aligned, zero-padded buffer
/// for `runStagedDot`.
func gemmDot(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
             b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    // The shorter side is X (all of it stays in cache); the longer side Y streams through once.
    let d = m <= n
        ? DotProblem(k: k, x: a, ldx: lda, xRows: m, y: b, ldy: ldb, yRows: n, c: c, cRS: ldc, cCS: 1,
                     alpha: alpha, beta: beta)
        : DotProblem(k: k, x: b, ldx: ldb, xRows: n, y: a, ldy: lda, yRows: m, c: c, cRS: 1, cCS: ldc,
                     alpha: alpha, beta: beta)
    let groups = (d.yRows + 3) / 4
    let vectors = GEMMTiling.current.vectors
    let flops = 2 * Double(m) * Double(n) * Double(k)
    // This kernel runs at ~80 rather than ~110 GFLOPS, so the same time threshold is fewer FLOPs.
    let workers = min(groups, flops >= 0.7 * GEMMBlocking.parallelFlops ? ComputeThreads.count : 1)
    /// Y rows [y0, y1) of `d` by `body`, on `workers` threads in chunks of whole 4-row groups.
    func split(_ d: DotProblem, _ body: (DotProblem, Int, Int) -> Void) {
        if workers <= 1 {
            body(d, 0, d.yRows)
            return
        }
        let chunks = min(groups, 4 &* workers), counter = ChunkCounter()
        parallelFor(workers, threads: workers) { _ in
            while case let c = counter.claim(), c < chunks {
                body(d, groups &* c / chunks &* 4, min(groups &* (c &+ 1) / chunks &* 4, d.yRows))
            }
        }
    }
    guard stagesDot(xRows: d.xRows, k: k, vectors: vectors) else {
        split(d) { runDot($0, $1, $2, vectors: vectors) }
        return
    }
    let ld = (k &+ 15) & ~15
    withGEMMWorkspace(d.xRows &* ld) { staged in
        for r in 0..<d.xRows {
            (staged + r &* ld).update(from: d.x + r &* d.ldx, count: k)
            (staged + (r &* ld &+ k)).update(repeating: 0, count: ld &- k)
        }
        var e = d
        e.x = UnsafePointer(staged)
        e.ldx = ld
        split(e) { runStagedDot($0, $1, $2) }
    }
}
