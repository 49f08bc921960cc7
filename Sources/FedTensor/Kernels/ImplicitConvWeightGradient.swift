// ImplicitConvWeightGradient: dW (and db) of a stride-1 convolution from dY and the padded inputs, without im2col.

/// dW (OC × k × k × C, overwritten, or added to when `accumulate`) of a stride-1 convolution from dY
/// (batch × OH × OW × OC) and the padded inputs `implicitConvForward` left. For kernel row ky the product
/// dWᵀ[(kx, c), :] = Σ_{n, oy, ox} xp[n, oy + ky, ox + kx, c] · dY[n, oy, ox, :] reads xp in place (rows of the
/// tile are consecutive floats, K walks the image rows), summed sample by sample. `transposed` is scratch for
/// dWᵀ (k·k·C × OC floats).
public func implicitConvWeightGradient(
    _ dy: UnsafePointer<Float>, padded: UnsafePointer<Float>, _ dw: UnsafeMutablePointer<Float>,
    _ g: ConvGeometry, outputChannels oc: Int, batch: Int, accumulate: Bool,
    transposed: UnsafeMutablePointer<Float>
) {
    let sampleSize = g.positions * oc
    weightGradient(padded: padded, dw, g, outputChannels: oc, batch: batch, accumulate: accumulate,
                   transposed: transposed, privateGradient: false, biasGradient: nil) { n, _ in dy + n &* sampleSize }
}

/// `implicitConvWeightGradient` where no dY tensor exists: `sampleGradient(n, buffer)` writes sample n's dY
/// (OH × OW × OC floats) into `buffer`, a per-worker buffer that stays in cache, and every worker calls it for
/// every sample in order (a max pool's backward pass fused into the weight gradient of the convolution before it:
/// the pool's input gradient never goes to memory). Each db[o] (`biasGradient`, OC floats) then gets the rows of
/// every sample's dY added in order, the bits of `accumulateColumnSums` over the whole dY.
public func implicitConvWeightGradient(
    sampleGradient: (Int, UnsafeMutablePointer<Float>) -> Void, padded: UnsafePointer<Float>,
    _ dw: UnsafeMutablePointer<Float>, biasGradient db: UnsafeMutablePointer<Float>, _ g: ConvGeometry,
    outputChannels oc: Int, batch: Int, accumulate: Bool, transposed: UnsafeMutablePointer<Float>
) {
    weightGradient(padded: padded, dw, g, outputChannels: oc, batch: batch, accumulate: accumulate,
                   transposed: transposed, privateGradient: true, biasGradient: db) { n, buffer in
        sampleGradient(n, buffer)
        return UnsafePointer(buffer)
    }
}

/// The weight-gradient loop behind both `implicitConvWeightGradient`s: `sampleGradient(n, buffer)` gives sample
/// n's dY, `buffer` being a per-worker buffer of OH·OW·OC floats when `privateGradient`; worker 0 adds each
/// sample's rows to `biasGradient` when given.
private func weightGradient(
    padded: UnsafePointer<Float>, _ dw: UnsafeMutablePointer<Float>, _ g: ConvGeometry, outputChannels oc: Int,
    batch: Int, accumulate: Bool, transposed: UnsafeMutablePointer<Float>, privateGradient: Bool,
    biasGradient: UnsafeMutablePointer<Float>?,
    sampleGradient: (Int, UnsafeMutablePointer<Float>) -> UnsafePointer<Float>
) {
    precondition(implicitConvSupported(g, outputChannels: oc), "implicitConvWeightGradient: unsupported geometry")
    let k = g.kernel, c = g.channels, oh = g.outputHeight, ow = g.outputWidth
    let hp = g.height + 2 * g.padding, wp = g.width + 2 * g.padding
    let pitch = wp * c, padSize = hp * pitch, run = k * c
    let tiling = GEMMTiling.current
    let nv = min(tiling.vectors, oc >> 4), height = tiling.height(vectors: nv)
    let panels = ((oc >> 4) + nv - 1) / nv
    let tilesPerRow = (run + height - 1) / height
    // One input channel, 32 output channels, k = 3 or 5: one tile per kernel row (`oneChannelGradientKernel`), two
    // kernel rows at a time where they pair up (`oneChannelGradientPairKernel`): items are then those pairs.
    let oneChannel = c == 1 && oc == 32 && nv == 2 && tilesPerRow == 1 && oneChannelKernelExists(k: k)
    let items = oneChannel ? (k + 1) / 2 : k * tilesPerRow * panels
    let flops = 2.0 * Double(batch * g.positions) * Double(g.patchSize * oc)
    let workers = min(items, flops >= GEMMBlocking.parallelConvolutionFlops ? ComputeThreads.count : 1)
    let sampleSize = oh * ow * oc
    // With several column panels, each tile reads part of every cache line of the sample's dY, and each panel is
    // read once per (kernel row, row tile) item. Where that is many times (the McMahan CNN's second convolution on
    // AVX2: 135 items per panel), each worker first copies the sample's dY panel by panel (rows of the panel's
    // 16·nv columns, contiguous) so that the tiles read whole lines of their own columns; where it is few (its first
    // convolution: 5) the copy costs more than it saves. Same values, same order of sums: the same bits.
    let repack = panels > 1 && items / panels >= 16
    let ownGradient = privateGradient ? sampleSize : 0
    parallelFor(workers, threads: workers) { t in
        withGEMMWorkspace(GEMMBlocking.scratch &+ ownGradient &+ (repack ? sampleSize : 0)) { scratch in
            var tile = TileOutput(c: transposed, ldc: oc, rows: 0, cols: 0, alpha: 1, beta: 0, readC: false,
                                  scratch: scratch)
            // Items are (kernel row, row tile, column panel), contiguous ranges per worker. Samples outside: one
            // sample's padded input and dY stay in cache while every item of the worker reads them (items outside
            // streamed all samples through the cache once per item); each tile still adds sample n's sum to C in
            // sample order, so the bits are those of either order.
            let mine = (items * t / workers)..<(items * (t + 1) / workers)
            let packed = scratch + (GEMMBlocking.scratch + ownGradient)
            let positions = oh &* ow
            var minePanels = [Bool](repeating: false, count: panels)
            for item in mine { minePanels[item % panels] = true }
            for n in 0..<batch {
                tile.beta = n == 0 ? 0 : 1
                tile.readC = n != 0
                let dyn = sampleGradient(n, scratch + GEMMBlocking.scratch)
                if t == 0, let biasGradient, !oneChannel {
                    accumulateColumnSums(dyn, into: biasGradient, rows: oh &* ow, n: oc)
                }
                if repack {
                    for panel in 0..<panels where minePanels[panel] {
                        let v0 = panel &* nv, width = min(nv, (oc >> 4) &- v0) &* 16
                        let dst = packed + v0 &* 16 &* positions
                        for r in 0..<positions {
                            (dst + r &* width).update(from: dyn + (r &* oc &+ v0 &* 16), count: width)
                        }
                    }
                }
                for item in mine {
                    if oneChannel {
                        // Kernel rows 2·item and (where k has it) the one after: each row's sums in the order of a
                        // tile of its own, dY's rows loaded once for both. Row 0 also sums dY's rows into the bias
                        // gradient (worker 0's first item).
                        let ky = 2 &* item
                        tile.rows = k
                        tile.cols = 32
                        tile.c = transposed + ky &* run &* oc
                        let a = padded + (n &* padSize &+ ky &* pitch)
                        let segments = TileSegments(count: oh, aStep: pitch, bStep: ow &* oc)
                        let sums = ky == 0 ? biasGradient : nil
                        if ky &+ 1 < k {
                            var next = tile
                            next.c = tile.c + run &* oc
                            runOneChannelGradientPair(k: k, kc: ow, a: a, pitch: pitch, b: dyn, bKS: oc,
                                                      segments: segments, out: tile, next: next, columnSums: sums)
                        } else {
                            runOneChannelGradientTile(k: k, kc: ow, a: a, b: dyn, bKS: oc, segments: segments,
                                                      out: tile, columnSums: sums)
                        }
                        continue
                    }
                    let panel = item % panels, rest = item / panels
                    let rowTile = rest % tilesPerRow, ky = rest / tilesPerRow
                    let r0 = rowTile * height
                    let rows = min(height, run - r0)
                    let mr = rows <= 4 ? 4 : rows == 7 ? 8 : rows
                    let v0 = panel * nv, nvq = min(nv, (oc >> 4) - v0)
                    tile.rows = rows
                    tile.cols = nvq &* 16
                    tile.c = transposed + ((ky &* run &+ r0) &* oc &+ v0 &* 16)
                    let a = padded + (n &* padSize &+ ky &* pitch &+ r0)
                    let b = repack ? UnsafePointer(packed + v0 &* 16 &* positions) : dyn + v0 &* 16
                    let bKS = repack ? nvq &* 16 : oc
                    let segments = TileSegments(count: oh, aStep: pitch, bStep: ow &* bKS)
                    runTile(mr: mr, nv: nvq, kc: ow, a: a, aRS: 1, aKS: c, b: b, bKS: bKS, segments: segments,
                            out: tile)
                }
            }
        }
    }
    let patch = g.patchSize
    for o in 0..<oc {
        let row = dw + o &* patch
        if accumulate {
            for p in 0..<patch { row[p] += transposed[p &* oc &+ o] }
        } else {
            for p in 0..<patch { row[p] = transposed[p &* oc &+ o] }
        }
    }
}
