// OneChannelPooledConv: a one-channel convolution, its ReLU and a 2 × 2 max pool with routes, pooled in registers.
//
// The McMahan CNN's first layers (conv 1 → 32, 5 × 5, ReLU, max pool 2) at batch 64 spent a fifth of the
// convolution's time outside its multiply-adds when the pool ran band by band after the tiles: the tiles stored each
// band to scratch, the pool loaded it back and compared. Here a tile covers 2 output rows × 4 output pixels × 32
// channels (16 accumulators), exactly two 2 × 2 windows wide (a last tile of 2 pixels where the width is 2 more
// than a multiple of 4), and pools its own accumulators: nothing but the pooled outputs and their route bytes is
// stored. The bits are those of `implicitConvForward(…, relu: true)` followed by `maxPoolForward(…, routes:,
// reluBefore: true, k: 2)`:
//   - each accumulator receives the fused multiply-adds of `oneChannelKernel` in the same (ky, kx) order: input
//     row r of the tile's k + 1 rows is kernel row r of the top output row and kernel row r − 1 of the bottom one,
//     and r walks up, so each output's kernel rows still arrive in order, starting from 0;
//   - the store's arithmetic is `TileOutput.put`'s at α = 1, no C: + bias, then negatives → 0;
//   - the pool is `pool2x2ReLURoute`, the very function `maxPool2x2ReLURoutes` runs.
// OneChannelPooledConvTests checks the bits against the two passes.
// With additive Gaussian noise between the ReLU and the pool (`noise:`, M2 and `author` of the noise study), each
// pooled row's noise is drawn first into an L1 buffer by the pipelined walk of `fillGaussian`, the tiles add it and
// pool with routes masked by the clean values (`pool2x2MaskedRoute`, `maxPool2x2MaskedRoutes`'s operations); the
// McMahan CNN's first convolution, noise and pool went from 0.66–0.70 to 0.60–0.62 ms a step (batch 64, 2 Zen 5
// threads; `bench --layers --noise-preset M2`), `small-cnn`'s M2 step from +104–106% to +84–86% over none
// (`bench --noise --model small-cnn`). ReLUFusionTests checks the bits against the separated layers.

/// Whether `implicitConvForwardPooled` handles this convolution followed by a ReLU and a 2 × 2 max pool of stride 2:
/// one input channel, 32 output channels, k ∈ {3, 5}, stride 1, an even output height and width, on a CPU whose
/// register tiles are at least 2 vectors wide (the one-channel tiles' condition).
public func oneChannelPooledConvSupported(_ g: ConvGeometry, outputChannels: Int) -> Bool {
    implicitConvSupported(g, outputChannels: outputChannels) && g.channels == 1 && outputChannels == 32
        && oneChannelKernelExists(k: g.kernel) && g.outputHeight % 2 == 0 && g.outputWidth % 2 == 0
        && GEMMTiling.current.vectors >= 2
}

/// y = maxPool₂(ReLU(conv(x, W) + bias)) for `batch` NHWC samples (`oneChannelPooledConvSupported`), with the
/// pool's routes (one byte per element of y, as `maxPoolForward(…, routes:, reluBefore: true)` writes them), the
/// same bits as `implicitConvForward(…, bias:, relu: true)` followed by that pool, without the convolution's output
/// ever being stored. Leaves each sample zero-padded in `padded` for `implicitConvWeightGradient`, as
/// `implicitConvForward` does; `transposed` is scratch for Wᵀ (k·k × 32 floats). W is stored 32 × k × k.
public func implicitConvForwardPooled(
    _ x: UnsafePointer<Float>, weights w: UnsafePointer<Float>, bias: UnsafePointer<Float>, _ g: ConvGeometry,
    batch: Int, padded: UnsafeMutablePointer<Float>, transposed: UnsafeMutablePointer<Float>,
    pooled: UnsafeMutablePointer<Float>, routes: UnsafeMutablePointer<UInt8>, noise: PooledTileNoise? = nil
) {
    precondition(oneChannelPooledConvSupported(g, outputChannels: 32),
                 "implicitConvForwardPooled: unsupported geometry")
    let k = g.kernel, patch = g.patchSize, wp = g.width + 2 * g.padding
    // Wᵀ: row (ky, kx) holds the 32 filters' taps there (one 32-wide column panel: tiles ≥ 2 vectors wide).
    transposeFilters(w, into: transposed, patch: patch, outputChannels: 32, vectors: GEMMTiling.current.vectors)
    let pooledRows = g.outputHeight / 2, pooledWidth = g.outputWidth / 2
    let rowFloats = pooledWidth * 32, outSize = pooledRows * rowFloats
    let flops = 2.0 * Double(batch * g.positions) * Double(patch * 32)
    let b = UnsafePointer(transposed)
    // With noise: the noise of the convolution's output element (n, y, x, c) is the noise layer's element of
    // global index n·H·W·32 + (y·W + x)·32 + c (NHWC); a pooled row's two rows are one contiguous span of them.
    let convRow = g.outputWidth &* 32, convSample = g.outputHeight &* convRow
    parallelFor(batch, threads: flops >= GEMMBlocking.parallelConvolutionFlops ? nil : 1) { n in
      withUnsafeTemporaryAllocation(of: Float.self, capacity: noise == nil ? 0 : 2 &* convRow) { noiseRows in
        let frame = padSample(n, of: batch, x, into: padded, g)
        let sampleOut = pooled + n &* outSize, sampleRoutes = routes + n &* outSize
        for row in 0..<pooledRows {
            // The next pooled row's lines (the next sample's first row after the last), asked for writing now so
            // that its stores do not wait on memory (as `MaxPool2d.forwardRows` does); a hint only.
            let next = (n &* outSize &+ (row &+ 1) &* rowFloats)
            if next < batch &* outSize {
                prefetchForWriting(pooled + next, bytes: rowFloats &* MemoryLayout<Float>.stride)
                prefetchForWriting(routes + next, bytes: rowFloats)
            }
            let image = UnsafePointer(frame + (2 &* row) &* wp)
            if let noise {
                // The noise t = 0 + σ·z of the two convolution rows this pooled row reads, drawn in one pipelined
                // walk into an L1 buffer (the tiles, which hold 16 accumulators, only add it).
                gaussianSpan(noiseRows.baseAddress!, count: 2 &* convRow, key: noise.key, std: noise.std, mean: 0,
                             start: UInt64(n &* convSample &+ (2 &* row) &* convRow))
            }
            var x0 = 0
            while x0 < g.outputWidth {
                let o = row &* rowFloats &+ (x0 >> 1) &* 32
                let wide = x0 &+ 4 <= g.outputWidth
                if noise != nil {
                    let top = UnsafePointer(noiseRows.baseAddress! + x0 &* 32)
                    let tile = NoisyTile(top: top, bottom: top + convRow)
                    switch (k, wide) {
                    case (5, true): oneChannelPooledNoisy5(image + x0, wp, b, bias, sampleOut + o, sampleRoutes + o, tile)
                    case (5, false):
                        oneChannelPooledNoisy5Narrow(image + x0, wp, b, bias, sampleOut + o, sampleRoutes + o, tile)
                    case (_, true): oneChannelPooledNoisy3(image + x0, wp, b, bias, sampleOut + o, sampleRoutes + o, tile)
                    default: oneChannelPooledNoisy3Narrow(image + x0, wp, b, bias, sampleOut + o, sampleRoutes + o, tile)
                    }
                    x0 &+= wide ? 4 : 2
                    continue
                }
                switch (k, wide) {
                case (5, true): oneChannelPooled5(image + x0, wp, b, bias, sampleOut + o, sampleRoutes + o)
                case (5, false): oneChannelPooled5Narrow(image + x0, wp, b, bias, sampleOut + o, sampleRoutes + o)
                case (_, true): oneChannelPooled3(image + x0, wp, b, bias, sampleOut + o, sampleRoutes + o)
                default: oneChannelPooled3Narrow(image + x0, wp, b, bias, sampleOut + o, sampleRoutes + o)
                }
                x0 &+= wide ? 4 : 2
            }
        }
      }
    }
}

/// The 2-row × `pixels`-pixel × 32-channel tile of a one-channel k × k convolution (k and `pixels`, 4 or 2,
/// literals), its bias and ReLU, and the `pixels`/2 2 × 2 windows it covers pooled into `out` (32 channels a
/// window) and `routes`. `a` is the tile's
/// top-left input pixel in the padded frame (rows `pitch` floats apart); B(ky, kx) is the 32 floats at
/// `b + (ky·k + kx)·32`.
@inline(__always)
func oneChannelPooledKernel(_ k: Int, _ pixels: Int, a: UnsafePointer<Float>, pitch: Int, b: UnsafePointer<Float>,
                            bias: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
                            routes: UnsafeMutablePointer<UInt8>, noise: NoisyTile? = nil) {
    // c00 … c31 of `top` are pixels 0…3 (two vectors each) of the top output row; `bottom` the row below. Input
    // row 0 feeds only the top row, row k only the bottom one: written as three passes, no test in the loop.
    var top = OneChannelAccumulators(), bottom = OneChannelAccumulators()
    let rowTaps = k &* 32
    pooledRowPass(k, pixels, a, top: b, bottom: b, &top, &bottom, feedsTop: true, feedsBottom: false)
    var r = 1
    while r < k {
        pooledRowPass(k, pixels, a + r &* pitch, top: b + r &* rowTaps, bottom: b + (r &- 1) &* rowTaps, &top, &bottom,
                      feedsTop: true, feedsBottom: true)
        r &+= 1
    }
    pooledRowPass(k, pixels, a + k &* pitch, top: b, bottom: b + (k &- 1) &* rowTaps, &top, &bottom, feedsTop: false,
                  feedsBottom: true)
    // The store of `TileOutput.put` (α = 1, no C): + bias, then negatives → 0 (−0 and NaN kept).
    let bias0 = load16(bias), bias1 = load16(bias + 16)
    @_transparent func activated(_ acc: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        var value = acc
        value += b
        value.replace(with: SIMD16<Float>(), where: value .< SIMD16<Float>())
        return value
    }
    if let noise {
        // The ReLU's outputs, then x + (0 + σ·z) from the group of each row's pixels 0–1 (and 2–3): the group's
        // rows are (pixel 0, channels 0–15), (pixel 0, 16–31), (pixel 1, 0–15), (pixel 1, 16–31). Pooled with
        // routes masked by the clean values, as `maxPool2x2MaskedRoutes` pools the noisy tensor.
        let t0 = noise.noisy(activated(top.c00, bias0), activated(top.c01, bias1), activated(top.c10, bias0),
                             activated(top.c11, bias1), at: noise.top)
        let b0 = noise.noisy(activated(bottom.c00, bias0), activated(bottom.c01, bias1),
                             activated(bottom.c10, bias0), activated(bottom.c11, bias1), at: noise.bottom)
        let r0 = pool2x2MaskedRoute(t0.noisy.0, t0.noisy.2, b0.noisy.0, b0.noisy.2,
                                    clean: t0.clean.0, t0.clean.2, b0.clean.0, b0.clean.2, into: out)
        let r1 = pool2x2MaskedRoute(t0.noisy.1, t0.noisy.3, b0.noisy.1, b0.noisy.3,
                                    clean: t0.clean.1, t0.clean.3, b0.clean.1, b0.clean.3, into: out + 16)
        guard pixels == 4 else {
            storeRouteBytes(r0, r1, routes)
            return
        }
        let t1 = noise.noisy(activated(top.c20, bias0), activated(top.c21, bias1), activated(top.c30, bias0),
                             activated(top.c31, bias1), at: noise.top + 64)
        let b1 = noise.noisy(activated(bottom.c20, bias0), activated(bottom.c21, bias1),
                             activated(bottom.c30, bias0), activated(bottom.c31, bias1), at: noise.bottom + 64)
        let r2 = pool2x2MaskedRoute(t1.noisy.0, t1.noisy.2, b1.noisy.0, b1.noisy.2,
                                    clean: t1.clean.0, t1.clean.2, b1.clean.0, b1.clean.2, into: out + 32)
        let r3 = pool2x2MaskedRoute(t1.noisy.1, t1.noisy.3, b1.noisy.1, b1.noisy.3,
                                    clean: t1.clean.1, t1.clean.3, b1.clean.1, b1.clean.3, into: out + 48)
        storeRouteBytes(r0, r1, r2, r3, routes)
        return
    }
    // Window 0: pixels 0 and 1 of both rows; window 1: pixels 2 and 3. Per window, top-left, top-right,
    // bottom-left, bottom-right, as `maxPool2x2ReLURoutes` reads them.
    let r0 = pool2x2ReLURoute(activated(top.c00, bias0), activated(top.c10, bias0), activated(bottom.c00, bias0),
                              activated(bottom.c10, bias0), into: out)
    let r1 = pool2x2ReLURoute(activated(top.c01, bias1), activated(top.c11, bias1), activated(bottom.c01, bias1),
                              activated(bottom.c11, bias1), into: out + 16)
    guard pixels == 4 else {
        storeRouteBytes(r0, r1, routes)
        return
    }
    let r2 = pool2x2ReLURoute(activated(top.c20, bias0), activated(top.c30, bias0), activated(bottom.c20, bias0),
                              activated(bottom.c30, bias0), into: out + 32)
    let r3 = pool2x2ReLURoute(activated(top.c21, bias1), activated(top.c31, bias1), activated(bottom.c21, bias1),
                              activated(bottom.c31, bias1), into: out + 48)
    storeRouteBytes(r0, r1, r2, r3, routes)
}

/// One input row of `oneChannelPooledKernel`'s tile: for kx = 0 ..< k, pixel i < `pixels` of the top row gets
/// row[i + kx] ·
/// B(kx) from `topTaps` (`feedsTop`) and pixel i of the bottom row the same pixel times B(kx) from `bottomTaps`
/// (`feedsBottom`), each pixel broadcast once (as in `oneChannelKernel`). The flags are literals.
@inline(__always)
func pooledRowPass(_ k: Int, _ pixels: Int, _ row: UnsafePointer<Float>, top topTaps: UnsafePointer<Float>,
                   bottom bottomTaps: UnsafePointer<Float>, _ top: inout OneChannelAccumulators,
                   _ bottom: inout OneChannelAccumulators, feedsTop: Bool, feedsBottom: Bool) {
    let wide = pixels == 4
    var p0 = SIMD16<Float>(repeating: row[0]), p1 = SIMD16<Float>(repeating: row[1])
    var p2 = wide ? SIMD16<Float>(repeating: row[2]) : p0, p3 = wide ? SIMD16<Float>(repeating: row[3]) : p0
    var kx = 0
    while true {
        if feedsTop {
            let t = topTaps + kx &* 32
            top.column(pixels, p0, p1, p2, p3, p0, p0, p0, p0, load16(t), load16(t + 16))
        }
        if feedsBottom {
            let t = bottomTaps + kx &* 32
            bottom.column(pixels, p0, p1, p2, p3, p0, p0, p0, p0, load16(t), load16(t + 16))
        }
        kx &+= 1
        if kx == k { break }
        if wide {
            p0 = p1; p1 = p2; p2 = p3
            p3 = SIMD16<Float>(repeating: row[kx &+ 3])
        } else {
            p0 = p1
            p1 = SIMD16<Float>(repeating: row[kx &+ 1])
        }
    }
}

// Instantiations: one non-inlined function per (k, pixels), each with its own register allocation.
@inline(never) func oneChannelPooled5(_ a: UnsafePointer<Float>, _ pitch: Int, _ b: UnsafePointer<Float>,
                                      _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                      _ routes: UnsafeMutablePointer<UInt8>) {
    oneChannelPooledKernel(5, 4, a: a, pitch: pitch, b: b, bias: bias, out: out, routes: routes)
}
@inline(never) func oneChannelPooled3(_ a: UnsafePointer<Float>, _ pitch: Int, _ b: UnsafePointer<Float>,
                                      _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                      _ routes: UnsafeMutablePointer<UInt8>) {
    oneChannelPooledKernel(3, 4, a: a, pitch: pitch, b: b, bias: bias, out: out, routes: routes)
}
@inline(never) func oneChannelPooled5Narrow(_ a: UnsafePointer<Float>, _ pitch: Int, _ b: UnsafePointer<Float>,
                                            _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                            _ routes: UnsafeMutablePointer<UInt8>) {
    oneChannelPooledKernel(5, 2, a: a, pitch: pitch, b: b, bias: bias, out: out, routes: routes)
}
@inline(never) func oneChannelPooled3Narrow(_ a: UnsafePointer<Float>, _ pitch: Int, _ b: UnsafePointer<Float>,
                                            _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                            _ routes: UnsafeMutablePointer<UInt8>) {
    oneChannelPooledKernel(3, 2, a: a, pitch: pitch, b: b, bias: bias, out: out, routes: routes)
}

// The same four with noise between the ReLU and the pool (`NoisyTile`), each with its own register allocation.
@inline(never) func oneChannelPooledNoisy5(_ a: UnsafePointer<Float>, _ pitch: Int, _ b: UnsafePointer<Float>,
                                           _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                           _ routes: UnsafeMutablePointer<UInt8>, _ noise: NoisyTile) {
    oneChannelPooledKernel(5, 4, a: a, pitch: pitch, b: b, bias: bias, out: out, routes: routes, noise: noise)
}
@inline(never) func oneChannelPooledNoisy3(_ a: UnsafePointer<Float>, _ pitch: Int, _ b: UnsafePointer<Float>,
                                           _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                           _ routes: UnsafeMutablePointer<UInt8>, _ noise: NoisyTile) {
    oneChannelPooledKernel(3, 4, a: a, pitch: pitch, b: b, bias: bias, out: out, routes: routes, noise: noise)
}
@inline(never) func oneChannelPooledNoisy5Narrow(_ a: UnsafePointer<Float>, _ pitch: Int, _ b: UnsafePointer<Float>,
                                                 _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                                 _ routes: UnsafeMutablePointer<UInt8>, _ noise: NoisyTile) {
    oneChannelPooledKernel(5, 2, a: a, pitch: pitch, b: b, bias: bias, out: out, routes: routes, noise: noise)
}
@inline(never) func oneChannelPooledNoisy3Narrow(_ a: UnsafePointer<Float>, _ pitch: Int, _ b: UnsafePointer<Float>,
                                                 _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
                                                 _ routes: UnsafeMutablePointer<UInt8>, _ noise: NoisyTile) {
    oneChannelPooledKernel(3, 2, a: a, pitch: pitch, b: b, bias: bias, out: out, routes: routes, noise: noise)
}

/// Additive Gaussian noise on the ReLU's output between a one-channel convolution and its 2 × 2 pool
/// (`implicitConvForwardPooled(…, noise:)`): element j of the convolution's batch output gets
/// x + (0 + `std`·z_j), z_j the Gaussian of index j of stream `key`, the values `combineGaussian(…, std:, mean: 0,
/// …, .add)` gives it, so the pooled values and routes are those of the noisy tensor pooled with routes masked by
/// the clean one (`maxPool2x2MaskedRoutes`).
public struct PooledTileNoise: Sendable {
    public let key: StreamKey
    public let std: Float
    public init(key: StreamKey, std: Float) { (self.key, self.std) = (key, std) }
}

/// A tile's noise t = 0 + σ·z (`fillGaussian(…, std: σ, mean: 0)`'s values) for its top and bottom rows' first
/// pixels, 32 floats a pixel.
struct NoisyTile {
    let top: UnsafePointer<Float>, bottom: UnsafePointer<Float>

    /// Four rows of clean values (pixel p, channels 16h…16h + 15 in row 2p + h) and x + t:
    /// `GaussianCombine<AddLaw>`'s last operation.
    @_transparent
    func noisy(_ x0: SIMD16<Float>, _ x1: SIMD16<Float>, _ x2: SIMD16<Float>, _ x3: SIMD16<Float>,
               at t: UnsafePointer<Float>) -> (clean: GroupRows, noisy: GroupRows) {
        ((x0, x1, x2, x3), (x0 + load16(t), x1 + load16(t + 16), x2 + load16(t + 32), x3 + load16(t + 48)))
    }
}

/// One 2 × 2 window of 16 channels of a noisy ReLU output, as `maxPool2x2MaskedRoutes` pools it: the max of the noisy
/// top-left, top-right, bottom-left, bottom-right (in that order, moving only to a strictly greater element) into
/// `y`; the route of each lane (0…3), or `maxPoolNoRoute` where that max is NaN or the clean value at the chosen
/// element is not > 0 (the ReLU's mask).
@inline(__always)
func pool2x2MaskedRoute(_ topLeft: SIMD16<Float>, _ topRight: SIMD16<Float>, _ bottomLeft: SIMD16<Float>,
                        _ bottomRight: SIMD16<Float>, clean cleanTL: SIMD16<Float>, _ cleanTR: SIMD16<Float>,
                        _ cleanBL: SIMD16<Float>, _ cleanBR: SIMD16<Float>,
                        into y: UnsafeMutablePointer<Float>) -> SIMD16<UInt32> {
    typealias F = SIMD16<Float>
    @_transparent func code(_ b: UInt8) -> F { F(repeating: Float(bitPattern: UInt32(b))) }
    var best = topLeft, route = code(0), routed = cleanTL
    let g1 = topRight .> best
    best.replace(with: topRight, where: g1)
    route.replace(with: code(1), where: g1)
    routed.replace(with: cleanTR, where: g1)
    let g2 = bottomLeft .> best
    best.replace(with: bottomLeft, where: g2)
    route.replace(with: code(2), where: g2)
    routed.replace(with: cleanBL, where: g2)
    let g3 = bottomRight .> best
    best.replace(with: bottomRight, where: g3)
    route.replace(with: code(3), where: g3)
    routed.replace(with: cleanBR, where: g3)
    route.replace(with: code(maxPoolNoRoute), where: (best .!= best) .| (routed .<= F()))
    store16(best, y)
    return unsafeBitCast(route, to: SIMD16<UInt32>.self)
}
