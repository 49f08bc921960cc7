// ImplicitConv: stride-1 convolutions (forward, input gradient) on padded images, without im2col/col2im.
//
// Every pass is a GEMM whose K runs over kernel rows: for a fixed kernel row the (kx, channel) run is contiguous in
// an NHWC image padded to (H + 2p) × (W + 2p), so the register tiles read it in place and walk the kernel (or image)
// rows as `TileSegments`. Work is split over threads by output blocks only, each block summed in one fixed order:
// results do not depend on the thread count. The weight gradient is in ImplicitConvWeightGradient.swift.

/// Whether the implicit passes handle this convolution: stride 1, padding ≤ k − 1, output channels a multiple
/// of 16. The input gradient also needs `convInputGradientSupported`.
public func implicitConvSupported(_ g: ConvGeometry, outputChannels: Int) -> Bool {
    g.stride == 1 && g.padding <= g.kernel - 1 && outputChannels % 16 == 0 && outputChannels > 0
        && g.outputHeight > 0 && g.outputWidth > 0
}

/// Whether `convInputGradient` handles this geometry: stride 1, padding ≤ k − 1, channels a multiple of 16.
public func convInputGradientSupported(_ g: ConvGeometry) -> Bool {
    g.stride == 1 && g.padding <= g.kernel - 1 && g.channels % 16 == 0 && g.outputHeight > 0 && g.outputWidth > 0
}

/// Floats of one sample's input padded by p on every side, as `implicitConvForward` keeps it for the weight gradient.
public func paddedInputSize(_ g: ConvGeometry) -> Int {
    (g.height + 2 * g.padding) * (g.width + 2 * g.padding) * g.channels
}

/// Floats of scratch `convInputGradient` needs: the zero-padded output gradient of every sample, then the
/// flipped filters.
public func convInputGradientScratch(_ g: ConvGeometry, outputChannels: Int, batch: Int) -> Int {
    let hp = g.height + g.kernel - 1, wp = g.width + g.kernel - 1
    return batch * hp * wp * outputChannels + g.patchSize * outputChannels
}

/// An image of `channels` channels whose rows are `pitch` floats apart, convolved with k × k filters given as
/// B = (k·k·channels) × outChannels (row (ky, kx, c)) into an outHeight × outWidth × outChannels
/// output: out[y, x, :] = Σ_{ky, kx, c} image[y + ky, x + kx, c] · B[(ky, kx, c), :].
/// B is stored in column panels as the register tiles read it (`panelIndex`): panel q holds columns
/// [16·nv·q, 16·nv·q + width) of every row, rows `width` floats apart, so a tile's B streams contiguously.
struct ImplicitConvolution {
    var k: Int, channels: Int, pitch: Int
    var outHeight: Int, outWidth: Int, outChannels: Int
    /// The register-tile shapes, read on the planning thread (workers do not see its task locals).
    var tiling = GEMMTiling.current

    /// One sample. `image` starts at pixel (0, 0) of the padded frame; `out` rows are `outChannels` apart.
    /// With `bias` (outChannels floats), each output gets bias[channel] added after its sum, in the tile's store;
    /// with `relu`, negative results are then stored as 0. The output rows are computed in bands of `band` rows
    /// (every channel of a band before the next band), and `afterBand(rows, first)` runs as soon as a band is
    /// complete, `first` addressing its first row. With `reuseBandRows` every band is written to the first rows of
    /// `out` (which then needs only `band` rows), overwriting the band before it.
    func run(_ image: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
             scratch: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil, relu: Bool = false,
             band: Int = .max, reuseBandRows: Bool = false,
             afterBand: ((Range<Int>, UnsafePointer<Float>) -> Void)? = nil) {
        var y0 = 0
        while y0 < outHeight {
            let y1 = y0 &+ min(band, outHeight &- y0)
            let first = reuseBandRows ? out : out + y0 &* outWidth &* outChannels
            run(image, b, first, rows: y0..<y1, scratch: scratch, bias: bias, relu: relu)
            afterBand?(y0..<y1, UnsafePointer(first))
            y0 = y1
        }
    }

    /// Output rows `rows` of one sample (see `run`) into `out`, which addresses row `rows.lowerBound`.
    private func run(_ image: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                     rows band: Range<Int>, scratch: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?,
                     relu: Bool) {
        let vecs = outChannels >> 4
        let run = k &* channels  // K per kernel row
        var tile = TileOutput(c: out, ldc: outChannels, rows: 0, cols: 0, alpha: 1, beta: 0, readC: false,
                              scratch: scratch)
        tile.relu = relu
        var v0 = 0
        while v0 < vecs {
            let nv = min(tiling.vectors, vecs &- v0)
            let height = tiling.height(vectors: nv)
            tile.cols = nv &* 16
            tile.bias = bias.map { $0 + v0 &* 16 }
            // This panel: rows of nv·16 floats, starting after the v0·16 columns of the panels before it.
            let panel = b + v0 &* 16 &* (k &* run)
            let segments = TileSegments(count: k, aStep: pitch, bStep: run &* nv &* 16)
            // One input channel, 2 vectors: rows in near-equal pieces of 4…8 pixels, each an exact-height tile that
            // broadcasts a pixel once per kernel row (`OneChannelConvKernel`; 28 = 7 + 7 + 7 + 7). (One call for the
            // pieces of a row that share a width moved `perf`'s share of the calls' setup from 5% to 2.6% of the
            // McMahan CNN's first convolution, and the pass's time not at all: not kept.)
            if channels == 1 && nv == 2 && oneChannelKernelExists(k: k) && outWidth >= 4 {
                let pieces = (outWidth &+ 7) / 8
                for y in band {
                    for piece in 0..<pieces {
                        let x = outWidth &* piece / pieces
                        tile.rows = outWidth &* (piece &+ 1) / pieces &- x
                        tile.c = out + (((y &- band.lowerBound) &* outWidth &+ x) &* outChannels &+ v0 &* 16)
                        runOneChannelTile(k: k, a: image + (y &* pitch &+ x), b: panel, segments: segments, out: tile)
                    }
                }
                v0 &+= nv
                continue
            }
            // An image row in tiles of `height`, or in `even` near-equal tiles when that wastes fewer kernel rows
            // (14 = 5 + 5 + 4 rather than 6 + 6 + 2 run as 6 + 6 + 4).
            let greedySlots = outWidth / height &* height &+ tileHeight(outWidth % height)
            let even = (outWidth &+ height &- 1) / height
            var evenSlots = 0
            for i in 0..<even { evenSlots &+= tileHeight(outWidth &* (i &+ 1) / even &- outWidth &* i / even) }
            let useEven = evenSlots < greedySlots
            for y in band {
                var x = 0, piece = 0
                while x < outWidth {
                    let rows = useEven ? outWidth &* (piece &+ 1) / even &- x : min(height, outWidth &- x)
                    piece &+= 1
                    let mr = tileHeight(rows)
                    tile.rows = rows
                    let first: Int = ((y &- band.lowerBound) &* outWidth &+ x) &* outChannels &+ v0 &* 16
                    tile.c = out + first
                    let aOffset: Int = y &* pitch &+ x &* channels
                    if nv != 1 || !runShortKTile(mr: mr, kc: run, a: image + aOffset, aRS: channels, b: panel,
                                                 bKS: 16, segments: segments, out: tile) {
                        runTile(mr: mr, nv: nv, kc: run, a: image + aOffset, aRS: channels, aKS: 1, b: panel,
                                bKS: nv &* 16, segments: segments, out: tile)
                    }
                    x &+= rows
                }
            }
            v0 &+= nv
        }
    }
}

/// Where element (row r, column j) of a rows × cols B goes in `ImplicitConvolution`'s panel layout for register
/// tiles up to `vectors` vectors wide: panels of 16·vectors columns (the last one narrower), each row-major.
@inline(__always)
func panelIndex(row r: Int, column j: Int, rows: Int, cols: Int, vectors: Int) -> Int {
    let width = 16 &* vectors
    let q0 = j / width &* width
    return q0 &* rows &+ r &* min(width, cols &- q0) &+ (j &- q0)
}

/// The register-tile height that covers `rows` ≤ 8 rows (the kernels exist for 4, 5, 6 and 8 rows); 0 for none.
@inline(__always)
func tileHeight(_ rows: Int) -> Int {
    rows == 0 ? 0 : rows <= 4 ? 4 : rows == 7 ? 8 : rows
}

/// Forward pass of a stride-1 convolution (`implicitConvSupported`) over `batch` NHWC samples x:
/// y = conv(x, W), W stored OC × k × k × C, plus `bias` (OC floats) when given: each sum is completed, then its
/// channel's bias added in the register tile's store, the bits of `addRowVector` afterwards without a pass over y
/// (8–12% of the McMahan CNN's first convolution at batch 64). With `relu`, y = max(y, 0) in the same store, the
/// bits of `reluForward` on y afterwards (a ReLU layer fused into the convolution: `Workspace.forward`). Also leaves
/// each sample zero-padded by p in `padded`
/// (`paddedInputSize` floats per sample), which `implicitConvWeightGradient` reads; `transposed` is scratch for
/// Wᵀ (k·k·C × OC floats). `perBand(n, first, rows)`, when given, runs on the thread that computes sample n as
/// soon as its output rows `rows` are complete, `first` addressing row `rows.lowerBound` (rows before it, complete
/// too, lie before it at the row pitch), while they are still in its cache (a max pool fused after the convolution:
/// `Workspace.forward`): every `band` rows, and after the last. It must only write state owned by sample n. With
/// `outputInScratch` (which needs `perBand`) each sample's output goes to a per-thread scratch buffer instead of y,
/// which is left untouched: for passes where nothing reads the convolution's output after `perBand` has. If
/// `perBand` also reads only the rows `rows` (`bandRowsOnly`, a pool whose windows do not overlap), that buffer
/// holds one band, which every band overwrites: it stays in L1 instead of streaming a sample's whole output
/// through it (the McMahan CNN's first convolution: 7 KB a band instead of 100 KB a sample).
public func implicitConvForward(
    _ x: UnsafePointer<Float>, weights w: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
    _ g: ConvGeometry, outputChannels oc: Int, batch: Int,
    padded: UnsafeMutablePointer<Float>, transposed: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil,
    relu: Bool = false, band: Int = .max, perBand: ((Int, UnsafePointer<Float>, Range<Int>) -> Void)? = nil,
    outputInScratch: Bool = false, bandRowsOnly: Bool = false
) {
    precondition(!outputInScratch || perBand != nil, "implicitConvForward: outputInScratch needs perBand")
    precondition(band > 0, "implicitConvForward: band must be positive")
    precondition(implicitConvSupported(g, outputChannels: oc), "implicitConvForward: unsupported geometry")
    let patch = g.patchSize
    let wp = g.width + 2 * g.padding
    let conv = ImplicitConvolution(k: g.kernel, channels: g.channels, pitch: wp * g.channels,
                                   outHeight: g.outputHeight, outWidth: g.outputWidth, outChannels: oc)
    transposeFilters(w, into: transposed, patch: patch, outputChannels: oc, vectors: conv.tiling.vectors)
    let outSize = g.positions * oc
    let flops = 2.0 * Double(batch * g.positions) * Double(patch * oc)
    let reuseBandRows = outputInScratch && bandRowsOnly
    let scratchOutput = reuseBandRows ? min(band, g.outputHeight) * g.outputWidth * oc : outputInScratch ? outSize : 0
    parallelFor(batch, threads: flops >= GEMMBlocking.parallelConvolutionFlops ? nil : 1) { n in
        withGEMMWorkspace(GEMMBlocking.scratch &+ scratchOutput) { scratch in
            let frame = padSample(n, of: batch, x, into: padded, g)
            let out = outputInScratch ? scratch + GEMMBlocking.scratch : y + n &* outSize
            conv.run(frame, transposed, out, scratch: scratch, bias: bias, relu: relu, band: band,
                     reuseBandRows: reuseBandRows,
                     afterBand: perBand.map { body in { rows, first in body(n, first, rows) } })
        }
    }
}

/// Wᵀ (patch × OC) of filters W (OC × patch) in the column panels of register tiles `vectors` wide (`panelIndex`).
func transposeFilters(_ w: UnsafePointer<Float>, into transposed: UnsafeMutablePointer<Float>, patch: Int,
                      outputChannels oc: Int, vectors: Int) {
    for o in 0..<oc {
        for p in 0..<patch {
            transposed[panelIndex(row: p, column: o, rows: patch, cols: oc, vectors: vectors)] = w[o &* patch &+ p]
        }
    }
}

/// Sample n of `batch` NHWC inputs `x`, zero-padded by g.padding into its frame of `padded` (returned), as the
/// forward passes leave it for the weight gradient; the next sample's input is asked for meanwhile, so that it is
/// in cache by the time this sample's convolution is done.
func padSample(_ n: Int, of batch: Int, _ x: UnsafePointer<Float>, into padded: UnsafeMutablePointer<Float>,
               _ g: ConvGeometry) -> UnsafeMutablePointer<Float> {
    let inSize = g.height * g.width * g.channels
    let frame = padded + n &* paddedInputSize(g)
    pad(x + n &* inSize, into: frame, height: g.height, width: g.width, channels: g.channels,
        frameHeight: g.height + 2 * g.padding, frameWidth: g.width + 2 * g.padding, top: g.padding, left: g.padding)
    if n &+ 1 < batch {
        prefetchForReading(x + (n &+ 1) &* inSize, bytes: inSize &* MemoryLayout<Float>.stride)
    }
    return frame
}

/// dX (batch × H × W × C, overwritten) of a stride-1 convolution with filters W (OC × k × k × C, one output channel
/// per row) and padding p ≤ k − 1, from dY (batch × OH × OW × OC) without unfolding anything:
///
///     dX[iy, ix, :] = Σ_{ky, kx, oc} dYp[iy + ky, ix + kx, oc] · Wf[(ky, kx, oc), :]
///
/// where dYp is dY zero-padded by k − 1 − p on every side ((H + k − 1) × (W + k − 1) × OC) and
/// Wf[(ky, kx, oc), c] = W[oc, k − 1 − ky, k − 1 − kx, c]: a forward convolution of dYp with the flipped filters.
/// Samples are split over threads. `scratch` holds `convInputGradientScratch` floats.
public func convInputGradient(
    _ dy: UnsafePointer<Float>, weights w: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
    _ g: ConvGeometry, outputChannels oc: Int, batch: Int, scratch: UnsafeMutablePointer<Float>
) {
    precondition(convInputGradientSupported(g), "convInputGradient: unsupported geometry")
    let k = g.kernel, c = g.channels, h = g.height, wd = g.width
    let oh = g.outputHeight, ow = g.outputWidth
    let hp = h + k - 1, wp = wd + k - 1, q = k - 1 - g.padding
    let paddedSize = hp * wp * oc
    let flipped = scratch + batch * paddedSize
    let conv = ImplicitConvolution(k: k, channels: oc, pitch: wp * oc, outHeight: h, outWidth: wd, outChannels: c)
    // Wf: k·k·OC rows of C, read as the B operand, in the convolution's column panels.
    let rows = k * k * oc
    for ky in 0..<k {
        for kx in 0..<k {
            let src = w + ((k - 1 - ky) * k + (k - 1 - kx)) * c
            for o in 0..<oc {
                let r = (ky * k + kx) * oc + o
                for ch in 0..<c {
                    flipped[panelIndex(row: r, column: ch, rows: rows, cols: c, vectors: conv.tiling.vectors)] =
                        src[o * g.patchSize + ch]
                }
            }
        }
    }
    let flops = 2.0 * Double(batch * h * wd) * Double(k * k * oc * c)
    parallelFor(batch, threads: flops >= GEMMBlocking.parallelConvolutionFlops ? nil : 1) { n in
        withGEMMWorkspace(GEMMBlocking.scratch) { tileScratch in
            let frame = scratch + n * paddedSize
            pad(dy + n * oh * ow * oc, into: frame, height: oh, width: ow, channels: oc,
                frameHeight: hp, frameWidth: wp, top: q, left: q)
            conv.run(frame, flipped, dx + n * h * wd * c, scratch: tileScratch)
        }
    }
}

/// Copies an H × W × C image into a zeroed frameHeight × frameWidth × C frame at row `top`, column `left`
/// (parts falling outside the frame are dropped).
func pad(_ x: UnsafePointer<Float>, into frame: UnsafeMutablePointer<Float>, height: Int, width: Int,
         channels c: Int, frameHeight: Int, frameWidth: Int, top: Int, left: Int) {
    let rowSize = frameWidth &* c
    let lo = max(0, left), hi = min(frameWidth, left &+ width)
    for y in 0..<frameHeight {
        let row = frame + y &* rowSize
        let sy = y &- top
        guard sy >= 0 && sy < height && lo < hi else {
            row.update(repeating: 0, count: rowSize)
            continue
        }
        row.update(repeating: 0, count: lo &* c)
        (row + lo &* c).update(from: x + (sy &* width &+ (lo &- left)) &* c, count: (hi &- lo) &* c)
        (row + hi &* c).update(repeating: 0, count: (frameWidth &- hi) &* c)
    }
}
