// GEMMDriver: plans a product (kernel, tile shape, packing, loop order, thread split) and runs the loop nest.
import Synchronization

/// The reduction block and the threading threshold. `kc` never depends on the host, the thread count or on how the
/// output is split, so every C element sees the same sequence of operations everywhere; the output tiling (MC, NC,
/// resident B), which cannot change a result, is chosen per host by `GEMMTiling`.
enum GEMMBlocking {
    static let kc = 256
    /// Products below this many floating-point operations stay on the calling thread.
    /// (Measured near 17 MFLOP when waking the second worker took ~40 µs; with `ComputePool`'s awake workers,
    /// 4 MFLOP made the MLP's small products at batch 10 slower, so this stays.)
    static let parallelFlops = 20_000_000.0
    /// The same for a convolution, whose workers share no packing of B and take whole samples or tiles of dW, so a
    /// worker that is already awake (`ComputePool`) pays off sooner: the McMahan CNN's first convolution at batch 10
    /// (12.5 MFLOP a pass) runs on both cores.
    static let parallelConvolutionFlops = 6_000_000.0
    /// Floats of per-worker scratch in front of the packing area (one 8 × 64 tile).
    static let scratch = 512
}

/// A product for the broadcast kernel: C(i, j) = alpha · Σ_p A(i, p) · B(p, j) + beta · C(i, j).
///
/// A(i, p) is at `a + i·aRS + p·aKS` and read by broadcasts, so either storage order costs the same. B(p, j) is at
/// `b + p·bKS + j·bJS` and read as vectors along j: in place when its rows are contiguous (`bJS == 1`), else
/// transposed into panels.
struct GEMMPlan {
    var m: Int, n: Int, k: Int
    var a: UnsafePointer<Float>, aRS: Int, aKS: Int
    var b: UnsafePointer<Float>, bKS: Int, bJS: Int
    var c: UnsafeMutablePointer<Float>, ldc: Int
    var alpha: Float, beta: Float
    /// Register tile: `mr` rows × `nv` vectors of 16.
    var mr: Int, nv: Int
    /// B is transposed (K runs along its rows), so it is copied into panels; otherwise it is read in place.
    var packB: Bool
    /// The output tiling, read once when the product is planned (workers do not see the caller's task locals).
    var tiling = GEMMTiling.current

    init(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float,
         a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
         beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        self.m = m; self.n = n; self.k = k
        self.alpha = alpha; self.beta = beta
        self.a = a
        (aRS, aKS) = transA == .none ? (lda, 1) : (1, lda)
        self.b = b
        (bKS, bJS) = transB == .none ? (ldb, 1) : (1, ldb)
        self.c = c; self.ldc = ldc
        // 6 × 64 tiles, or 8 × 16·nv for narrow B (6 × 16 where registers are scarce: `GEMMTiling.vectors`); a
        // few rows of A take the height that wastes fewest rows.
        nv = min(tiling.vectors, (n + 15) / 16)
        let tallest = tiling.height(vectors: nv)
        var height = tallest
        if m <= 16 {
            @inline(__always) func waste(_ h: Int) -> Int { (h &- m % h) % h }
            for h in stride(from: tallest, through: 4, by: -1) where h != 7 && waste(h) < waste(height) {
                height = h
            }
        }
        mr = height
        packB = bJS != 1
    }
}

/// Hands out chunk numbers 0, 1, 2, … to whichever worker asks next.
final class ChunkCounter: Sendable {
    private let next = Atomic<Int>(0)

    func claim() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
}

/// Runs a plan, splitting large products over `ComputeThreads.count` workers by output tiles.
///
/// The output is cut into a few chunks per worker, handed out on demand: a worker that starts late (waking one
/// takes ~40 µs) or is descheduled by another process simply takes fewer. Which thread computes a chunk never
/// changes its bits.
func runGEMM(_ p: GEMMPlan) {
    let nr = p.nv &* 16
    let tilesM = (p.m + p.mr - 1) / p.mr, vecsN = (p.n + 15) / 16
    let flops = 2 * Double(p.m) * Double(p.n) * Double(p.k)
    var workers = flops >= GEMMBlocking.parallelFlops ? ComputeThreads.count : 1
    // Splitting M makes every worker read (and pack) all of B; splitting N makes every worker read all of A.
    // N is split in whole vectors of 16 columns, so a chunk's last panel may be narrower than `nr`.
    let splitN = workers > 1 && vecsN >= 4 &* workers && (tilesM < 2 &* workers || p.m <= p.n)
    workers = min(workers, splitN ? vecsN : tilesM)
    let kc = min(GEMMBlocking.kc, p.k)
    // Up to 4 chunks per worker, but none narrower than 2 panels or shorter than an MC block (every chunk
    // re-reads the other operand).
    let chunksN = max(workers, min(vecsN / 8, 4 &* workers))
    let chunkVecs = splitN ? (vecsN + chunksN - 1) / chunksN : vecsN
    let resident = p.k &* chunkVecs &* 16 <= p.tiling.residentB
    // Over M, runRange would re-pack a transposed B for every chunk: one chunk per worker there.
    let chunksM = max(workers, min(tilesM / (p.tiling.mc / p.mr), 4 &* workers))
    let chunks = workers <= 1 ? 1 : splitN ? chunksN : !resident && p.packB ? workers : chunksM
    let wsCount = GEMMBlocking.scratch &+ (resident ? p.k &* (p.packB ? chunkVecs &* 16 : nr)
                                                    : kc &* (p.packB ? min(p.tiling.nc, chunkVecs &* 16) : nr))
    // The last argument false tells runResident that this worker's workspace already holds the packed B.
    let run: (GEMMPlan, Int, Int, Int, Int, UnsafeMutablePointer<Float>, Bool) -> Void
    if resident {
        run = runResident
    } else {
        run = { p, i0, i1, j0, j1, ws, _ in runRange(p, i0, i1, j0, j1, ws) }
    }
    if workers <= 1 {
        withGEMMWorkspace(wsCount) { run(p, 0, p.m, 0, p.n, $0, true) }
        return
    }
    let counter = ChunkCounter()
    parallelFor(workers, threads: workers) { _ in
        withGEMMWorkspace(wsCount) { ws in
            var holdsB = false
            while case let c = counter.claim(), c < chunks {
                if splitN {
                    let v0 = vecsN &* c / chunks, v1 = vecsN &* (c &+ 1) / chunks
                    run(p, 0, p.m, v0 &* 16, min(v1 &* 16, p.n), ws, true)
                } else {
                    let t0 = tilesM &* c / chunks, t1 = tilesM &* (c &+ 1) / chunks
                    run(p, t0 &* p.mr, min(t1 &* p.mr, p.m), 0, p.n, ws, !holdsB)
                    holdsB = true
                }
            }
        }
    }
}

/// The loop nest NC → KC → MC → panel → tile over C[i0 ..< i1, j0 ..< j1]; i0 is a multiple of `mr`.
func runRange(_ p: GEMMPlan, _ i0: Int, _ i1: Int, _ j0: Int, _ j1: Int, _ ws: UnsafeMutablePointer<Float>) {
    let pack = ws + GEMMBlocking.scratch
    let nr = p.nv &* 16
    var out = TileOutput(c: p.c, ldc: p.ldc, rows: 0, cols: 0,
                         alpha: p.alpha, beta: p.beta, readC: true, scratch: ws)
    var jc = j0
    while jc < j1 {
        let nc = min(p.tiling.nc, j1 &- jc)
        let panels = (nc &+ nr &- 1) / nr
        let lastWidth = nc &- (panels &- 1) &* nr
        var pc = 0
        while pc < p.k {
            let kc = min(GEMMBlocking.kc, p.k &- pc)
            // Later K blocks add to what the earlier ones stored.
            out.beta = pc == 0 ? p.beta : 1
            out.readC = pc != 0 || p.beta != 0
            let bBlock = p.b + (pc &* p.bKS &+ jc &* p.bJS)
            let packEdge = !p.packB && lastWidth & 15 != 0
            if p.packB {
                packPanels(bBlock, kStride: p.bKS, jStride: p.bJS, kc: kc, width: nc, panel: nr, dst: pack)
            } else if packEdge {
                packPanels(bBlock + (panels &- 1) &* nr, kStride: p.bKS, jStride: 1,
                           kc: kc, width: lastWidth, panel: nr, dst: pack)
            }
            var ic = i0
            while ic < i1 {
                let icEnd = min(ic &+ p.tiling.mc / p.mr &* p.mr, i1)
                for q in 0..<panels {
                    let isLast = q == panels &- 1
                    let width = isLast ? lastWidth : nr
                    let nvq = (width &+ 15) >> 4
                    let panel: UnsafePointer<Float>, bKS: Int
                    if p.packB {
                        (panel, bKS) = (UnsafePointer(pack + q &* kc &* nr), nvq &* 16)
                    } else if isLast && packEdge {
                        (panel, bKS) = (UnsafePointer(pack), nvq &* 16)
                    } else {
                        (panel, bKS) = (bBlock + q &* nr, p.bKS)
                    }
                    out.cols = width
                    let cCol = p.c + (jc &+ q &* nr)
                    var ir = ic
                    while ir < icEnd {
                        out.rows = min(p.mr, icEnd &- ir)
                        out.c = cCol + ir &* p.ldc
                        runTile(mr: p.mr, nv: nvq, kc: kc, a: p.a + (ir &* p.aRS &+ pc &* p.aKS),
                                aRS: p.aRS, aKS: p.aKS, b: panel, bKS: bKS, out: out)
                        ir &+= p.mr
                    }
                }
                ic = icEnd
            }
            pc &+= kc
        }
        jc &+= nc
    }
}

/// The same products as `runRange` (same K blocks, same C updates, so the same bits) for a B small enough to stay
/// in L2 whole (packed first if it is transposed): each row tile then runs across all of N and K before the next.
/// A streams through once in long runs and C is written row by row, both of which the prefetchers follow, where
/// KC × NR pieces of a large A or C that come from DRAM stall the kernel.
func runResident(_ p: GEMMPlan, _ i0: Int, _ i1: Int, _ j0: Int, _ j1: Int, _ ws: UnsafeMutablePointer<Float>,
                 _ packFirst: Bool) {
    let pack = ws + GEMMBlocking.scratch
    let nr = p.nv &* 16
    let width = j1 &- j0
    let panels = (width &+ nr &- 1) / nr
    let lastWidth = width &- (panels &- 1) &* nr
    // Packed: K block pc of all panels at pack + pc·pitch. In place: only a last panel that is not a whole number
    // of vectors is copied (zero-padded), K block pc at pack + pc·pitch.
    let packEdge = !p.packB && lastWidth & 15 != 0
    let pitch = p.packB ? (width &+ 15) & ~15 : (lastWidth &+ 15) & ~15
    var pc = packFirst ? 0 : p.k  // else this worker packed the same B for an earlier chunk
    while pc < p.k {
        let kc = min(GEMMBlocking.kc, p.k &- pc)
        if p.packB {
            packPanels(p.b + (pc &* p.bKS &+ j0 &* p.bJS), kStride: p.bKS, jStride: p.bJS, kc: kc, width: width,
                       panel: nr, dst: pack + pc &* pitch)
        } else if packEdge {
            packPanels(p.b + (pc &* p.bKS &+ j0 &+ (panels &- 1) &* nr), kStride: p.bKS, jStride: 1, kc: kc,
                       width: lastWidth, panel: nr, dst: pack + pc &* pitch)
        }
        pc &+= kc
    }
    var out = TileOutput(c: p.c, ldc: p.ldc, rows: 0, cols: 0, alpha: p.alpha, beta: p.beta, readC: true, scratch: ws)
    var ir = i0
    while ir < i1 {
        out.rows = min(p.mr, i1 &- ir)
        for q in 0..<panels {
            let isLast = q == panels &- 1
            out.cols = isLast ? lastWidth : nr
            out.c = p.c + (ir &* p.ldc &+ j0 &+ q &* nr)
            let nvq = (out.cols &+ 15) >> 4
            var pc = 0
            while pc < p.k {
                let kc = min(GEMMBlocking.kc, p.k &- pc)
                out.beta = pc == 0 ? p.beta : 1
                out.readC = pc != 0 || p.beta != 0
                let panel: UnsafePointer<Float>, bKS: Int
                if p.packB {
                    (panel, bKS) = (UnsafePointer(pack + (pc &* pitch &+ q &* kc &* nr)), nvq &* 16)
                } else if isLast && packEdge {
                    (panel, bKS) = (UnsafePointer(pack + pc &* pitch), pitch)
                } else {
                    (panel, bKS) = (p.b + (pc &* p.bKS &+ j0 &+ q &* nr), p.bKS)
                }
                runTile(mr: p.mr, nv: nvq, kc: kc, a: p.a + (ir &* p.aRS &+ pc &* p.aKS), aRS: p.aRS, aKS: p.aKS,
                        b: panel, bKS: bKS, out: out)
                pc &+= kc
            }
        }
        ir &+= p.mr
    }
}

/// A·Bᵀ where the broadcast kernel would have to transpose B into panels for few rows of A (m up to ~160), or
/// where B is so narrow that most vector lanes idle (n < 16): the dot kernel reads both operands in place.
/// It needs enough K to amortise its final reduction. (Measured on Zen 4: m = 64, n = 512, k = 3136 runs at
/// 87 GFLOPS here against 51 with panels; m = 1960, n = 64, k = 800 at 80 against 103.)
func useDotKernel(m: Int, n: Int, k: Int) -> Bool {
    k >= 64 && (m <= 160 || n < 16)
}

/// C = beta · C (C not read when beta == 0): the whole product when k == 0.
func scaleC(m: Int, n: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    for i in 0..<m {
        let row = c + i &* ldc
        if beta == 0 {
            row.update(repeating: 0, count: n)
        } else {
            for j in 0..<n { row[j] *= beta }
        }
    }
}

/// The fast path behind `gemm`.
func gemmBlocked(
    _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative dimension")
    precondition(lda >= max(1, transA == .none ? k : m), "gemm: lda too small")
    precondition(ldb >= max(1, transB == .none ? n : k), "gemm: ldb too small")
    precondition(ldc >= max(1, n), "gemm: ldc too small")
    if m == 0 || n == 0 { return }
    if k == 0 {
        scaleC(m: m, n: n, beta: beta, c: c, ldc: ldc)
        return
    }
    if transA == .none && transB == .transposed && useDotKernel(m: m, n: n, k: k) {
        gemmDot(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    runGEMM(GEMMPlan(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                     beta: beta, c: c, ldc: ldc))
}
