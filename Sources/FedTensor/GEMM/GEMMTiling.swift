// GEMMTiling: the output tiling of a product (MC rows, NC columns, when B stays in L2 whole), chosen from the host's caches.

/// How a product's output is cut into blocks. Unlike `GEMMBlocking.kc` these sizes never change the result: every
/// C element is still accumulated K block by K block in the same order by the same micro-kernel, whatever block of
/// rows or columns it falls in and whichever loop nest (`runRange` or `runResident`) runs it, so a seeded run gives
/// the same bits on hosts that choose different tilings (GEMMTests checks products under several tilings bit for
/// bit; RoundsDigestTests pins whole runs).
///
/// The sizes follow the analytical model of BLIS (Low, Igual, Smith & Quintana-Ortí 2016, "Analytical modeling is
/// enough for high-performance BLIS", §4): an MC × KC block of A and a B that is reused across row tiles must stay
/// in the core's L2, and a KC × NC block of B in its share of L3. The constants were tuned on a Zen 4 host (L2
/// 1 MiB per core, L3 32 MiB): MC = 144 (a 144 KiB A block), B resident up to 96 Ki floats (37.5% of L2),
/// NC = 2048 (a 2 MiB B block). Other hosts scale them by their own cache sizes, so a 2 MiB-L2 Xeon takes
/// MC = 288 and keeps B resident up to 192 Ki floats, and a small-L3 host narrows NC.
public struct GEMMTiling: Sendable, Equatable, CustomStringConvertible {
    /// Rows of A per block: a multiple of 24, so of both tile heights (6 and 8).
    public var mc: Int
    /// Columns of B per block: a multiple of the widest tile (64).
    public var nc: Int
    /// A worker's B of up to this many floats is packed once and kept in L2 whole (`runResident`).
    public var residentB: Int
    /// The widest register tile in SIMD16 vectors of 16 columns (1…4): 4 where a SIMD16 is one register and there
    /// are 32 of them (AVX-512: 6 × 4 tiles, 24 accumulators), 1 where a SIMD16 takes two or four registers (AVX2's
    /// 16 ymm, NEON: 6 × 1 tiles, whose 6 accumulators fit; a 6 × 4 tile there spills every step).
    public var vectors: Int

    public init(mc: Int, nc: Int, residentB: Int, vectors: Int = 4) {
        precondition(mc >= 24 && mc % 24 == 0 && nc >= 64 && nc % 64 == 0 && residentB >= 0,
                     "GEMMTiling: mc must be a positive multiple of 24 and nc of 64")
        precondition((1...4).contains(vectors), "GEMMTiling: vectors must be 1…4")
        self.mc = mc; self.nc = nc; self.residentB = residentB; self.vectors = vectors
    }

    /// The tallest register tile for tiles `nv` vectors wide: 6 rows at the widest (6 × 4 = 24 accumulators),
    /// 8 for narrower ones where 32 vector registers hold them, 6 where registers are scarce.
    @inline(__always)
    public func height(vectors nv: Int) -> Int { vectors == 4 && nv < 4 ? 8 : 6 }

    /// The tiling tuned on the reference host (L2 1 MiB per core, L3 32 MiB).
    public static let reference = GEMMTiling(mc: 144, nc: 2048, residentB: 96 * 1024)

    /// The tiling for a core with `l2Bytes` of L2 and `l3Bytes` of L3 (nil: unknown, the reference value is kept).
    /// L2 scales MC and the resident-B limit by L2 / 1 MiB (clamped to ¼…4); L3 can only narrow NC, by L3 / 32 MiB
    /// (clamped to ¼…1): a wider block of B would not be reused before it left a larger L3 either.
    /// `vectors`: the register tile's width (see `vectors`).
    public static func forCaches(l2Bytes: Int?, l3Bytes: Int?, vectors: Int = 4) -> GEMMTiling {
        let ref = reference
        let l2Scale = l2Bytes.map { min(4, max(0.25, Double($0) / Double(1 << 20))) } ?? 1
        let l3Scale = l3Bytes.map { min(1, max(0.25, Double($0) / Double(32 << 20))) } ?? 1
        let mc = max(24, Int(Double(ref.mc) * l2Scale) / 24 * 24)
        let nc = max(512, Int(Double(ref.nc) * l3Scale) / 64 * 64)
        return GEMMTiling(mc: mc, nc: nc, residentB: Int(Double(ref.residentB) * l2Scale), vectors: vectors)
    }

    /// This host's tiling, from `HostCPU.current`'s caches and the vector width the kernels were compiled for.
    public static let host = forCaches(l2Bytes: HostCPU.current.cacheBytes(level: 2),
                                       l3Bytes: HostCPU.current.cacheBytes(level: 3),
                                       vectors: KernelTarget.current.compiledAVX512F ? 4 : 1)

    /// Replaces the host's tiling for products started in this task (tests; autotuning experiments).
    @TaskLocal public static var override: GEMMTiling?

    /// The tiling a product started now uses.
    @inline(__always) static var current: GEMMTiling { override ?? host }

    public var description: String {
        "MC \(mc), NC \(nc), B resident up to \(residentB) floats, register tiles up to \(height(vectors: vectors)) × "
            + "\(16 * vectors)"
    }
}
