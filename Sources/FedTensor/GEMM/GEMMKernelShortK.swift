// GEMMKernelShortK: one-vector register tiles whose K run is a literal 3 or 5 (a convolution over one input channel).

// For a k × k convolution over a single input channel the implicit convolution's K run per kernel row is k (3 or 5
// in the shipped models): with a run that short the generic tile spends a loop test and a back edge on every step.
// These instantiations pass the run as a literal, so the compiler unrolls it; the FMAs and their order are those of
// `microKernel` (the same bits).

@inline(never) func tile4x1k3(_ a: UnsafePointer<Float>, _ aRS: Int, _ b: UnsafePointer<Float>, _ bKS: Int,
                              _ seg: TileSegments, _ out: TileOutput) {
    microKernel(4, 1, kc: 3, a: a, aRS: aRS, aKS: 1, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile5x1k3(_ a: UnsafePointer<Float>, _ aRS: Int, _ b: UnsafePointer<Float>, _ bKS: Int,
                              _ seg: TileSegments, _ out: TileOutput) {
    microKernel(5, 1, kc: 3, a: a, aRS: aRS, aKS: 1, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile6x1k3(_ a: UnsafePointer<Float>, _ aRS: Int, _ b: UnsafePointer<Float>, _ bKS: Int,
                              _ seg: TileSegments, _ out: TileOutput) {
    microKernel(6, 1, kc: 3, a: a, aRS: aRS, aKS: 1, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile4x1k5(_ a: UnsafePointer<Float>, _ aRS: Int, _ b: UnsafePointer<Float>, _ bKS: Int,
                              _ seg: TileSegments, _ out: TileOutput) {
    microKernel(4, 1, kc: 5, a: a, aRS: aRS, aKS: 1, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile5x1k5(_ a: UnsafePointer<Float>, _ aRS: Int, _ b: UnsafePointer<Float>, _ bKS: Int,
                              _ seg: TileSegments, _ out: TileOutput) {
    microKernel(5, 1, kc: 5, a: a, aRS: aRS, aKS: 1, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}
@inline(never) func tile6x1k5(_ a: UnsafePointer<Float>, _ aRS: Int, _ b: UnsafePointer<Float>, _ bKS: Int,
                              _ seg: TileSegments, _ out: TileOutput) {
    microKernel(6, 1, kc: 5, a: a, aRS: aRS, aKS: 1, b: b, bKS: bKS, segments: seg.count, aSeg: seg.aStep,
                bSeg: seg.bStep, out: out)
}

/// Runs the `mr` × 1 tile with A's K stride 1 and a K run of `kc` through an unrolled instantiation when there is
/// one (mr ∈ {4, 5, 6}, kc ∈ {3, 5}); false when there is none (the caller then uses `runTile`).
@inline(__always)
func runShortKTile(mr: Int, kc: Int, a: UnsafePointer<Float>, aRS: Int, b: UnsafePointer<Float>, bKS: Int,
                   segments: TileSegments, out: TileOutput) -> Bool {
    switch (mr, kc) {
    case (4, 3): tile4x1k3(a, aRS, b, bKS, segments, out)
    case (5, 3): tile5x1k3(a, aRS, b, bKS, segments, out)
    case (6, 3): tile6x1k3(a, aRS, b, bKS, segments, out)
    case (4, 5): tile4x1k5(a, aRS, b, bKS, segments, out)
    case (5, 5): tile5x1k5(a, aRS, b, bKS, segments, out)
    case (6, 5): tile6x1k5(a, aRS, b, bKS, segments, out)
    default: return false
    }
    return true
}
