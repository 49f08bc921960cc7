// GEMMDotStaged: the dot kernel for a long K against many X rows, through aligned copies that stay in cache.
//
// `gemmDot` (GEMMDot.swift) stages such a product: X copied once into an aligned, zero-padded buffer, Y piece by piece
// into one that stays in L1, for 2 × 8 tiles whose loads are all aligned. Each output's 16 lane sums add their
// products in K order and `pairSums` reduces them, as the unstaged tiles do: the same bits.

/// K floats per piece of a staged dot product (a multiple of 16).
let dotKChunk = 512

/// Whether `gemmDot` stages the product (`runStagedDot`): a long K against many X rows, where the tiles would
/// otherwise read every Y row from L2 once per X tile, mostly as loads split across cache lines (a weight matrix
/// inside a flat parameter vector starts wherever that vector does). AVX-512 tiles only.
func stagesDot(xRows: Int, k: Int, vectors: Int) -> Bool {
    vectors == 4 && xRows >= 16 && k > 2 &* dotKChunk
}

/// `runDot` for Y rows [y0, y1) where `d.x` is a staged copy of X (`gemmDot`): rows 64-byte aligned, `d.ldx` a
/// multiple of 16 floats, zero from K to the next multiple of 16. Y goes 8 rows a group, `dotKChunk` floats at a
/// time, each piece copied into an aligned buffer (zero-padded likewise) that stays in L1 while every 2-row X tile
/// runs against it; each tile's sums wait in `partial` between pieces. Every lane sum adds the products of the
/// unstaged tiles in the same order, the padding's zeros where those added `tailVector`'s, so the bits are theirs.
/// (The McMahan CNN's 3136 → 512 layer at batch 64 on one Zen 5 core: 97 GFLOPS in place, 140 with Y in L1 but
/// loads split across cache lines, 182 with every load aligned.)
func runStagedDot(_ d: DotProblem, _ y0: Int, _ y1: Int) {
    let tilesX = (d.xRows &+ 1) / 2
    withUnsafeTemporaryAllocation(of: SIMD16<Float>.self, capacity: tilesX &* 16 &+ dotKChunk / 2) { raw in
        let partial = raw.baseAddress!
        let piece = UnsafeMutableRawPointer(partial + tilesX &* 16).assumingMemoryBound(to: Float.self)
        var j = y0
        while j < y1 {
            let yRows = min(8, y1 &- j)
            var k0 = 0
            repeat {
                let k1 = min(k0 &+ dotKChunk, d.k)
                let width = k1 &- k0, padded = (width &+ 15) & ~15
                for r in 0..<yRows {
                    let to = piece + r &* dotKChunk
                    to.update(from: d.y + ((j &+ r) &* d.ldy &+ k0), count: width)
                    (to + width).update(repeating: 0, count: padded &- width)
                }
                let y = DotRows(UnsafePointer(piece), pitch: dotKChunk, rows: yRows)
                // The next piece: the same rows further along K, or the next group's first floats.
                let (nj, nk) = k1 < d.k ? (j, k1) : (j &+ 8, 0)
                let next = nj < y1 ? (rows: min(8, y1 &- nj), width: min(dotKChunk, d.k &- nk)) : (rows: 0, width: 0)
                var i = 0, tile = 0
                while i < d.xRows {
                    // A share of the next piece's rows, requested while this one is worked on (copied in one go
                    // from L3 or memory, each piece otherwise waited for its reads: 1.13 → 1.36 ms above).
                    if next.rows > 0 {
                        let r = tile &* next.rows / tilesX
                        let firstTile = (r &* tilesX &+ next.rows &- 1) / next.rows
                        let lastTile = ((r &+ 1) &* tilesX &+ next.rows &- 1) / next.rows
                        let bytes = next.width &* 4, share = tile &- firstTile, shares = lastTile &- firstTile
                        let from = bytes &* share / shares, to = bytes &* (share &+ 1) / shares
                        prefetchForReading(d.y + ((nj &+ r) &* d.ldy &+ nk) + from / 4, bytes: to &- from)
                    }
                    let xRows = min(2, d.xRows &- i)
                    let x0 = d.x + (i &* d.ldx &+ k0), x1 = d.x + ((i &+ xRows &- 1) &* d.ldx &+ k0)
                    dotTile2x8(x0, x1, y, steps: padded / 16, sums: partial + tile &* 16, first: k0 == 0,
                               last: k1 == d.k, d, i, xRows, j, yRows)
                    i &+= 2
                    tile &+= 1
                }
                k0 = k1
            } while k0 < d.k
            j &+= 8
        }
    }
}

/// Eight Y rows `pitch` floats apart from `first`; rows at or past `rows` repeat the last valid one (their
/// outputs are dropped).
struct DotRows {
    var y0, y1, y2, y3, y4, y5, y6, y7: UnsafePointer<Float>

    @inline(__always)
    init(_ first: UnsafePointer<Float>, pitch: Int, rows: Int) {
        @inline(__always) func row(_ r: Int) -> UnsafePointer<Float> { first + min(r, rows &- 1) &* pitch }
        (y0, y1, y2, y3, y4, y5, y6, y7) = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7))
    }
}

/// One 2 × 8 block of outputs over `steps` × 16 floats of X rows `x0`, `x1` and the staged Y rows `y`, all
/// aligned: per step 2 loads of X (from L2) and 8 of Y (from L1) for 16 products. The sums start from zero
/// (`first`) or from `sums`, and go back there unless `last`, when `pairSums`' tree reduces them into C rows
/// `i ..< i + xRows`, columns `j ..< j + yRows`.
@inline(never)
private func dotTile2x8(_ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ y: DotRows, steps: Int,
                        sums: UnsafeMutablePointer<SIMD16<Float>>, first: Bool, last: Bool,
                        _ d: DotProblem, _ i: Int, _ xRows: Int, _ j: Int, _ yRows: Int) {
    var acc = first ? WideDotSums() : WideDotSums(from: sums)
    var p = 0
    for _ in 0..<steps {
        acc.step(x0, x1, y, p)
        p &+= 16
    }
    if !last {
        acc.store(to: sums)
        return
    }
    // Lane 8r + s: X row i + r against Y row j + s.
    let total = acc.reduced() * d.alpha
    storeDotOutputs(d, i, xRows, j, yRows) { r, s in total[8 &* r &+ s] }
}

/// The 16 lane sums of each output of a 2 × 8 dot tile: `a_s` X row 0 against Y row s, `b_s` X row 1. A struct
/// updated in place by a plain loop (sums captured by a nested step function were partly kept in memory, loaded
/// and stored at every step).
struct WideDotSums {
    typealias V = SIMD16<Float>
    var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
    var b0 = V(), b1 = V(), b2 = V(), b3 = V(), b4 = V(), b5 = V(), b6 = V(), b7 = V()

    init() {}

    @inline(__always)
    init(from m: UnsafePointer<V>) {
        (a0, a1, a2, a3, a4, a5, a6, a7) = (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7])
        (b0, b1, b2, b3, b4, b5, b6, b7) = (m[8], m[9], m[10], m[11], m[12], m[13], m[14], m[15])
    }

    @inline(__always)
    func store(to m: UnsafeMutablePointer<V>) {
        (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]) = (a0, a1, a2, a3, a4, a5, a6, a7)
        (m[8], m[9], m[10], m[11], m[12], m[13], m[14], m[15]) = (b0, b1, b2, b3, b4, b5, b6, b7)
    }

    /// One K step: the 16 aligned floats at offset `p` of X rows x0, x1 and of every Y row.
    @inline(__always)
    mutating func step(_ x0: UnsafePointer<Float>, _ x1: UnsafePointer<Float>, _ y: DotRows, _ p: Int) {
        @inline(__always) func load(_ row: UnsafePointer<Float>) -> V { UnsafeRawPointer(row + p).load(as: V.self) }
        let u = load(x0), v = load(x1)
        var w = load(y.y0)
        a0.addProduct(u, w); b0.addProduct(v, w)
        w = load(y.y1); a1.addProduct(u, w); b1.addProduct(v, w)
        w = load(y.y2); a2.addProduct(u, w); b2.addProduct(v, w)
        w = load(y.y3); a3.addProduct(u, w); b3.addProduct(v, w)
        w = load(y.y4); a4.addProduct(u, w); b4.addProduct(v, w)
        w = load(y.y5); a5.addProduct(u, w); b5.addProduct(v, w)
        w = load(y.y6); a6.addProduct(u, w); b6.addProduct(v, w)
        w = load(y.y7); a7.addProduct(u, w); b7.addProduct(v, w)
    }

    /// Lane 8r + s: the total of X row r against Y row s, by `pairSums`' tree.
    @inline(__always)
    func reduced() -> V {
        let ra = pairSums(pairSums(pairSums(a0, a1), pairSums(a2, a3)), pairSums(pairSums(a4, a5), pairSums(a6, a7)))
        let rb = pairSums(pairSums(pairSums(b0, b1), pairSums(b2, b3)), pairSums(pairSums(b4, b5), pairSums(b6, b7)))
        return pairSums(ra, rb)
    }
}
