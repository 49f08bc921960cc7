// GEMMTilingTests: the host-chosen output and register tiling follows the caches and never changes a product's bits.
import FedTensor
import Testing

/// Serialized: these tests set the process-wide `ComputeThreads.count`.
@Suite(.serialized) struct GEMMTilingTests {
    /// The reference host keeps the tuned sizes; other caches scale them (MC by L2 in multiples of 24, NC narrowed
    /// only by a smaller L3, in multiples of 64); unknown caches keep the reference.
    @Test func followsTheCaches() {
        #expect(GEMMTiling.forCaches(l2Bytes: 1 << 20, l3Bytes: 32 << 20) == .reference)
        #expect(GEMMTiling.forCaches(l2Bytes: nil, l3Bytes: nil) == .reference)
        // The Intel Xeon of issue 12: 2 MiB of L2 per core, a large shared L3.
        #expect(GEMMTiling.forCaches(l2Bytes: 2 << 20, l3Bytes: 105 << 20)
                == GEMMTiling(mc: 288, nc: 2048, residentB: 192 * 1024))
        #expect(GEMMTiling.forCaches(l2Bytes: 512 << 10, l3Bytes: 8 << 20)
                == GEMMTiling(mc: 72, nc: 512, residentB: 48 * 1024))
        // Clamped: a 64 KiB L2 scales by ¼, not by 1/16.
        #expect(GEMMTiling.forCaches(l2Bytes: 64 << 10, l3Bytes: 1 << 20).mc == 24)
        #expect(GEMMTiling.host == GEMMTiling.forCaches(l2Bytes: HostCPU.current.cacheBytes(level: 2),
                                                         l3Bytes: HostCPU.current.cacheBytes(level: 3),
                                                         vectors: KernelTarget.current.compiledAVX512F ? 4 : 1))
        // The register tile: 6 × 64 (8 × 16·nv when narrower) with 32 SIMD16 registers, 6 × 16 without.
        #expect(GEMMTiling.reference.vectors == 4 && GEMMTiling.reference.height(vectors: 4) == 6
                && GEMMTiling.reference.height(vectors: 2) == 8)
        let narrow = GEMMTiling(mc: 72, nc: 512, residentB: 0, vectors: 1)
        #expect(narrow.height(vectors: 1) == 6 && narrow.description.hasSuffix("register tiles up to 6 × 16"))
    }

    /// Tilings from the smallest legal blocks (B never resident) to B always resident, and register tiles 1 to 4
    /// vectors wide, give the reference tiling's bits on 1 and 2 threads: M and N splits, several K blocks, packed
    /// and in-place B, ragged edges, the dot kernel's tiles.
    @Test(arguments: [(Transpose.none, Transpose.none, 300, 517, 600), (.none, .transposed, 300, 517, 600),
                      (.transposed, .none, 517, 300, 600), (.transposed, .transposed, 300, 517, 600),
                      (.none, .none, 200, 300, 400), (.none, .transposed, 200, 300, 400),
                      (.transposed, .none, 1960, 64, 800),
                      // The dot kernel (A·Bᵀ with few rows of A, or B narrower than a vector), odd sizes and K tails.
                      (.none, .transposed, 64, 200, 200), (.none, .transposed, 11, 517, 301),
                      (.none, .transposed, 301, 9, 600),
                      // The CNN's 3136 → 512 layer's shape at batch 64, narrowed; and the staged dot path
                      // (`runStagedDot`: K > 1024, ≥ 16 X rows) with an odd row count, a ragged last piece of K and
                      // X taken from B (more rows of A than of B).
                      (.none, .transposed, 64, 100, 3136), (.none, .transposed, 17, 40, 1100),
                      (.none, .transposed, 100, 50, 1500)])
    func tilingNeverChangesBits(_ ta: Transpose, _ tb: Transpose, _ m: Int, _ n: Int, _ k: Int) {
        let t = GEMMCase(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.7, beta: 0.4, padA: 1, padB: 2, padC: 3)
        let baseline = GEMMTiling.$override.withValue(.reference) {
            ComputeThreads.with(1) { runBoth(t, seed: 11, reference: false).fast }
        }
        // Register tiles 16 to 64 columns wide too (`vectors`: 1 where SIMD16 registers are scarce).
        let tilings = [GEMMTiling(mc: 24, nc: 64, residentB: 0), GEMMTiling(mc: 48, nc: 128, residentB: 4096),
                       GEMMTiling(mc: 288, nc: 4096, residentB: 1 << 24), .host,
                       GEMMTiling(mc: 72, nc: 512, residentB: 48 * 1024, vectors: 1),
                       GEMMTiling(mc: 24, nc: 64, residentB: 0, vectors: 1),
                       GEMMTiling(mc: 144, nc: 2048, residentB: 96 * 1024, vectors: 2),
                       GEMMTiling(mc: 144, nc: 2048, residentB: 0, vectors: 3)]
        for tiling in tilings {
            for threads in [1, 2] {
                let c = GEMMTiling.$override.withValue(tiling) {
                    ComputeThreads.with(threads) { runBoth(t, seed: 11, reference: false).fast }
                }
                let differing = zip(baseline, c).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(c.count == baseline.count && differing == 0,
                        "\(tiling), \(threads) threads: \(differing) of \(c.count) values differ")
            }
        }
    }

    /// The products are right under the smallest tiling too (not merely equal to each other).
    @Test func smallestTilingMatchesTheFloat64Reference() {
        GEMMTiling.$override.withValue(GEMMTiling(mc: 24, nc: 64, residentB: 0)) {
            for (ta, tb) in transposePairs {
                expectClose(GEMMCase(transA: ta, transB: tb, m: 203, n: 197, k: 530, alpha: 0.5, beta: 0.25,
                                     padA: 1, padB: 2, padC: 3))
            }
        }
    }
}
