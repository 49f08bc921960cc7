// ImplicitConvTests: implicit convolution passes (forward, weight and input gradients) against naive loops and threads.
import FedTensor
import Testing

struct ImplicitConvCase: Sendable, CustomTestStringConvertible {
    var h: Int, w: Int, c: Int, oc: Int, k: Int, p: Int, batch: Int
    var testDescription: String { "\(batch)×\(h)×\(w)×\(c) → \(oc), k \(k), pad \(p)" }
}

@Suite("Implicit convolution input gradient", .serialized)
struct ImplicitConvTests {
    static let cases: [ImplicitConvCase] = [
        ImplicitConvCase(h: 14, w: 14, c: 32, oc: 64, k: 5, p: 2, batch: 3),  // the CNN's conv2
        ImplicitConvCase(h: 7, w: 9, c: 16, oc: 5, k: 3, p: 1, batch: 2),
        ImplicitConvCase(h: 6, w: 5, c: 48, oc: 7, k: 3, p: 0, batch: 1),    // 3 vectors, valid conv
        ImplicitConvCase(h: 5, w: 11, c: 80, oc: 3, k: 5, p: 4, batch: 2),   // 4 + 1 vectors, full padding
        ImplicitConvCase(h: 3, w: 17, c: 64, oc: 9, k: 1, p: 0, batch: 2),   // 1×1, rows of 6 + remainder
    ]

    /// dX by the definition: every output position scatters dY·W back to the pixels its window covers (Float64).
    func naive(_ t: ImplicitConvCase, _ dy: [Float], _ wt: [Float]) -> [Double] {
        let g = ConvGeometry(height: t.h, width: t.w, channels: t.c, kernel: t.k, padding: t.p)
        let (oh, ow) = (g.outputHeight, g.outputWidth)
        var dx = [Double](repeating: 0, count: t.batch * t.h * t.w * t.c)
        for n in 0..<t.batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for o in 0..<t.oc {
                        let d = Double(dy[((n * oh + oy) * ow + ox) * t.oc + o])
                        for ky in 0..<t.k {
                            for kx in 0..<t.k {
                                let iy = oy - t.p + ky, ix = ox - t.p + kx
                                guard iy >= 0, iy < t.h, ix >= 0, ix < t.w else { continue }
                                for ch in 0..<t.c {
                                    dx[((n * t.h + iy) * t.w + ix) * t.c + ch] +=
                                        d * Double(wt[o * g.patchSize + (ky * t.k + kx) * t.c + ch])
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx
    }

    func implicit(_ t: ImplicitConvCase, _ dy: [Float], _ wt: [Float], threads: Int) -> [Float] {
        let g = ConvGeometry(height: t.h, width: t.w, channels: t.c, kernel: t.k, padding: t.p)
        #expect(convInputGradientSupported(g))
        var dx = [Float](repeating: .nan, count: t.batch * t.h * t.w * t.c)
        var scratch = [Float](repeating: .nan, count: convInputGradientScratch(g, outputChannels: t.oc, batch: t.batch))
        ComputeThreads.with(threads) {
            dx.withUnsafeMutableBufferPointer { d in
                scratch.withUnsafeMutableBufferPointer { s in
                    convInputGradient(dy, weights: wt, d.baseAddress!, g, outputChannels: t.oc, batch: t.batch,
                                      scratch: s.baseAddress!)
                }
            }
        }
        return dx
    }

    @Test(arguments: cases)
    func matchesNaiveScatterAndIsThreadInvariant(_ t: ImplicitConvCase) {
        let g = ConvGeometry(height: t.h, width: t.w, channels: t.c, kernel: t.k, padding: t.p)
        var rng = Philox(seed: 31, UInt64(t.c), UInt64(t.k))
        let dy = (0..<(t.batch * g.positions * t.oc)).map { _ in Float(rng.nextGaussian()) }
        let wt = (0..<(t.oc * g.patchSize)).map { _ in Float(rng.nextGaussian()) }
        let expected = naive(t, dy, wt)
        let one = implicit(t, dy, wt, threads: 1)
        var worst = 0.0
        for i in expected.indices {
            worst = max(worst, abs(Double(one[i]) - expected[i]) / max(1, abs(expected[i])))
        }
        #expect(worst < 1e-4)
        #expect(implicit(t, dy, wt, threads: 2) == one)
    }

    /// Forward and weight gradient by the definition (Float64), from the padded inputs the forward pass leaves; the
    /// forward also bit for bit against one Float FMA per tap in (ky, kx, channel) order, padding taps included (the
    /// order every tile keeps, whatever its shape). Shapes as above with input and output channels swapped; the
    /// added ones are one input channel to 32: the McMahan CNN's first convolution, `small-cnn`'s, a 3 × 3 one
    /// whose rows of 9 run as tiles of 5 and 4, and rows of 16, 10 and 3 pixels (with 2-vector tiles, AVX-512: the
    /// one-channel tiles of `OneChannelConvKernel`, 8 + 8 and 5 + 5 pixels, or none for 3; with 1-vector tiles the
    /// ones with a literal K run of 3 or 5); and 32 → 64
    /// channels (the McMahan CNN's second convolution on a small image), whose weight gradient copies dY panel by
    /// panel on hosts with narrow tiles.
    @Test(arguments: cases + [ImplicitConvCase(h: 28, w: 28, c: 32, oc: 1, k: 5, p: 2, batch: 3),
                              ImplicitConvCase(h: 28, w: 28, c: 32, oc: 1, k: 3, p: 0, batch: 2),
                              ImplicitConvCase(h: 7, w: 9, c: 32, oc: 1, k: 3, p: 1, batch: 2),
                              ImplicitConvCase(h: 3, w: 16, c: 32, oc: 1, k: 5, p: 2, batch: 2),  // rows 8 + 8
                              ImplicitConvCase(h: 4, w: 12, c: 32, oc: 1, k: 3, p: 0, batch: 2),  // rows 5 + 5
                              ImplicitConvCase(h: 5, w: 3, c: 32, oc: 1, k: 3, p: 1, batch: 2),   // rows of 3
                              ImplicitConvCase(h: 6, w: 6, c: 64, oc: 32, k: 5, p: 2, batch: 2)])
    func forwardAndWeightGradientMatchNaiveLoops(_ t: ImplicitConvCase) throws {
        let (c, oc) = (t.oc, t.c)  // reuse the shapes with input and output channels swapped
        let g = ConvGeometry(height: t.h, width: t.w, channels: c, kernel: t.k, padding: t.p)
        try #require(implicitConvSupported(g, outputChannels: oc))
        let (oh, ow) = (g.outputHeight, g.outputWidth)
        var rng = Philox(seed: 41, UInt64(c), UInt64(t.k))
        let x = (0..<(t.batch * t.h * t.w * c)).map { _ in Float(rng.nextGaussian()) }
        let wt = (0..<(oc * g.patchSize)).map { _ in Float(rng.nextGaussian()) }
        let dy = (0..<(t.batch * g.positions * oc)).map { _ in Float(rng.nextGaussian()) }
        func run(threads: Int, accumulateOnto start: [Float]?) -> (y: [Float], dw: [Float]) {
            var y = [Float](repeating: .nan, count: t.batch * g.positions * oc)
            var dw = start ?? [Float](repeating: .nan, count: oc * g.patchSize)
            var padded = [Float](repeating: .nan, count: t.batch * paddedInputSize(g))
            var scratch = [Float](repeating: .nan, count: g.patchSize * oc)
            ComputeThreads.with(threads) {
                y.withUnsafeMutableBufferPointer { yp in
                    padded.withUnsafeMutableBufferPointer { pp in
                        scratch.withUnsafeMutableBufferPointer { sp in
                            implicitConvForward(x, weights: wt, yp.baseAddress!, g, outputChannels: oc,
                                                batch: t.batch, padded: pp.baseAddress!, transposed: sp.baseAddress!)
                            dw.withUnsafeMutableBufferPointer { dp in
                                implicitConvWeightGradient(dy, padded: pp.baseAddress!, dp.baseAddress!, g,
                                                           outputChannels: oc, batch: t.batch,
                                                           accumulate: start != nil, transposed: sp.baseAddress!)
                            }
                        }
                    }
                }
            }
            return (y, dw)
        }
        /// Input channel `ch` of sample n at (iy, ix), 0 in the padding.
        func pixel(_ n: Int, _ iy: Int, _ ix: Int, _ ch: Int) -> Float {
            iy >= 0 && iy < t.h && ix >= 0 && ix < t.w ? x[((n * t.h + iy) * t.w + ix) * c + ch] : 0
        }
        // In Float64, and y also as one Float FMA per tap in (ky, kx, channel) order, padding taps included.
        var yRef = [Double](repeating: 0, count: t.batch * g.positions * oc)
        var dwRef = [Double](repeating: 0, count: oc * g.patchSize)
        var yFMA = [Float](repeating: 0, count: t.batch * g.positions * oc)
        for n in 0..<t.batch {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for o in 0..<oc {
                        let out = ((n * oh + oy) * ow + ox) * oc + o
                        var acc: Float = 0
                        for ky in 0..<t.k {
                            for kx in 0..<t.k {
                                for ch in 0..<c {
                                    let xv = pixel(n, oy - t.p + ky, ox - t.p + kx, ch)
                                    let wi = o * g.patchSize + (ky * t.k + kx) * c + ch
                                    acc = acc.addingProduct(xv, wt[wi])
                                    yRef[out] += Double(xv) * Double(wt[wi])
                                    dwRef[wi] += Double(xv) * Double(dy[out])
                                }
                            }
                        }
                        yFMA[out] = acc
                    }
                }
            }
        }
        // dW likewise: per sample, one Float FMA per output position in (oy, ox) order from 0, then the samples'
        // sums added in sample order (whatever tiles, panels or copies of dY the kernel uses).
        var dwFMA = [Float](repeating: 0, count: oc * g.patchSize)
        for o in 0..<oc {
            for ky in 0..<t.k {
                for kx in 0..<t.k {
                    for ch in 0..<c {
                        var total: Float = 0
                        for n in 0..<t.batch {
                            var acc: Float = 0
                            for oy in 0..<oh {
                                for ox in 0..<ow {
                                    acc = acc.addingProduct(pixel(n, oy - t.p + ky, ox - t.p + kx, ch),
                                                            dy[((n * oh + oy) * ow + ox) * oc + o])
                                }
                            }
                            total = n == 0 ? acc : acc + total
                        }
                        dwFMA[o * g.patchSize + (ky * t.k + kx) * c + ch] = total
                    }
                }
            }
        }
        let one = run(threads: 1, accumulateOnto: nil)
        let differing = zip(one.y, yFMA).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(differing == 0, "\(differing) of \(yFMA.count) outputs differ from the sequential FMAs")
        let differingDW = zip(one.dw, dwFMA).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(differingDW == 0, "\(differingDW) of \(dwFMA.count) weight gradients differ from the sequential FMAs")
        func worst(_ a: [Float], _ b: [Double]) -> Double {
            zip(a, b).map { abs(Double($0) - $1) / max(1, abs($1)) }.max()!
        }
        #expect(worst(one.y, yRef) < 1e-4)
        #expect(worst(one.dw, dwRef) < 1e-4)
        let two = run(threads: 2, accumulateOnto: nil)
        #expect(two.y == one.y)
        #expect(two.dw == one.dw)
        // accumulate adds onto what is there.
        let base = (0..<(oc * g.patchSize)).map { Float($0 % 7) }
        let added = run(threads: 2, accumulateOnto: base)
        #expect(worst(added.dw, zip(dwRef, base).map { $0 + Double($1) }) < 1e-4)
    }

    /// A bias added in the tile's store gives the bits of the forward pass without it followed by `addRowVector`
    /// (the layer's former second pass), under every register-tile width and on 1 and 2 threads; and it is the
    /// bias of each output's own channel (a bias shifted by one channel must not match).
    /// (Shapes as in the test above, channels swapped: the last two are the McMahan CNN's and `small-cnn`'s first
    /// convolutions, one input channel to 32.)
    @Test(arguments: cases + [ImplicitConvCase(h: 28, w: 28, c: 32, oc: 1, k: 5, p: 2, batch: 3),
                              ImplicitConvCase(h: 28, w: 28, c: 32, oc: 1, k: 3, p: 0, batch: 2)])
    func biasInTheStoreEqualsASecondPass(_ t: ImplicitConvCase) throws {
        let (c, oc) = (t.oc, t.c)
        let g = ConvGeometry(height: t.h, width: t.w, channels: c, kernel: t.k, padding: t.p)
        try #require(implicitConvSupported(g, outputChannels: oc))
        var rng = Philox(seed: 43, UInt64(c), UInt64(t.k))
        let x = (0..<(t.batch * t.h * t.w * c)).map { _ in Float(rng.nextGaussian()) }
        let wt = (0..<(oc * g.patchSize)).map { _ in Float(rng.nextGaussian()) }
        // Signed zeros among the biases: −0 + −0 must stay −0 in both forms.
        let bias = (0..<(oc + 1)).map { j -> Float in j % 5 == 0 ? -0.0 : Float(rng.nextGaussian()) }
        func forward(_ b: UnsafePointer<Float>?, threads: Int, tiling: GEMMTiling) -> [Float] {
            var y = [Float](repeating: .nan, count: t.batch * g.positions * oc)
            var padded = [Float](repeating: .nan, count: t.batch * paddedInputSize(g))
            var scratch = [Float](repeating: .nan, count: g.patchSize * oc)
            GEMMTiling.$override.withValue(tiling) {
                ComputeThreads.$taskLimit.withValue(threads) {  // this task only: other suites run meanwhile
                    y.withUnsafeMutableBufferPointer { yp in
                        implicitConvForward(x, weights: wt, yp.baseAddress!, g, outputChannels: oc, batch: t.batch,
                                            padded: &padded, transposed: &scratch, bias: b)
                    }
                }
            }
            return y
        }
        bias.withUnsafeBufferPointer { bp in
            var expected = forward(nil, threads: 1, tiling: .host)
            addRowVector(bp.baseAddress!, to: &expected, rows: t.batch * g.positions, n: oc)
            for tiling in [GEMMTiling.host, .reference, GEMMTiling(mc: 72, nc: 512, residentB: 0, vectors: 1)] {
                for threads in [1, 2] {
                    let y = forward(bp.baseAddress!, threads: threads, tiling: tiling)
                    #expect(y.map(\.bitPattern) == expected.map(\.bitPattern), "\(tiling), \(threads) threads")
                }
            }
            let shifted = forward(bp.baseAddress! + 1, threads: 1, tiling: .host)
            #expect(shifted.map(\.bitPattern) != expected.map(\.bitPattern))
            // A fused ReLU: the bits of `reluForward` in place afterwards (−0 kept, negatives to +0).
            var relu = expected
            reluForward(expected, &relu, count: relu.count)
            #expect(relu.contains { $0 < 0 } == false && expected.contains { $0 < 0 }, "the ReLU must act")
            for threads in [1, 2] {
                var y = [Float](repeating: .nan, count: expected.count)
                var padded = [Float](repeating: .nan, count: t.batch * paddedInputSize(g))
                var scratch = [Float](repeating: .nan, count: g.patchSize * oc)
                ComputeThreads.$taskLimit.withValue(threads) {
                    implicitConvForward(x, weights: wt, &y, g, outputChannels: oc, batch: t.batch, padded: &padded,
                                        transposed: &scratch, bias: bp.baseAddress!, relu: true)
                }
                #expect(y.map(\.bitPattern) == relu.map(\.bitPattern), "fused ReLU, \(threads) threads")
            }
        }
    }

    /// The register tile's width (`GEMMTiling.vectors`: 4 on AVX-512, 1 on AVX2 and NEON) changes which tile
    /// computes an output, never the sequence of operations behind it: forward, weight and input gradients have the
    /// same bits under every width and on 1 and 2 threads. The two added cases run one input channel to 32 (with
    /// 2-vector tiles the one-channel tiles of `OneChannelConvKernel`, with 1-vector tiles the general ones).
    @Test(arguments: cases + [ImplicitConvCase(h: 28, w: 28, c: 32, oc: 1, k: 5, p: 2, batch: 2),
                              ImplicitConvCase(h: 9, w: 13, c: 32, oc: 1, k: 3, p: 1, batch: 2)])
    func registerTileWidthNeverChangesBits(_ t: ImplicitConvCase) {
        let g = ConvGeometry(height: t.h, width: t.w, channels: t.c, kernel: t.k, padding: t.p)
        let gf = ConvGeometry(height: t.h, width: t.w, channels: t.oc, kernel: t.k, padding: t.p)
        var rng = Philox(seed: 43, UInt64(t.c), UInt64(t.k))
        let dy = (0..<(t.batch * g.positions * t.oc)).map { _ in Float(rng.nextGaussian()) }
        let wt = (0..<(t.oc * g.patchSize)).map { _ in Float(rng.nextGaussian()) }
        // Forward and dW with the channels swapped (as `forwardAndWeightGradientMatchNaiveLoops`), where supported.
        let x = (0..<(t.batch * t.h * t.w * t.oc)).map { _ in Float(rng.nextGaussian()) }
        let wf = (0..<(t.c * gf.patchSize)).map { _ in Float(rng.nextGaussian()) }
        let dyf = (0..<(t.batch * gf.positions * t.c)).map { _ in Float(rng.nextGaussian()) }
        func passes(_ vectors: Int, threads: Int) -> [UInt32] {
            GEMMTiling.$override.withValue(GEMMTiling(mc: 72, nc: 2048, residentB: 49152, vectors: vectors)) {
                var bits = implicit(t, dy, wt, threads: threads).map(\.bitPattern)
                guard implicitConvSupported(gf, outputChannels: t.c) else { return bits }
                var y = [Float](repeating: .nan, count: t.batch * gf.positions * t.c)
                var dw = [Float](repeating: .nan, count: t.c * gf.patchSize)
                var padded = [Float](repeating: .nan, count: t.batch * paddedInputSize(gf))
                var scratch = [Float](repeating: .nan, count: gf.patchSize * t.c)
                ComputeThreads.with(threads) {
                    padded.withUnsafeMutableBufferPointer { pp in
                        scratch.withUnsafeMutableBufferPointer { sp in
                            y.withUnsafeMutableBufferPointer {
                                implicitConvForward(x, weights: wf, $0.baseAddress!, gf, outputChannels: t.c,
                                                    batch: t.batch, padded: pp.baseAddress!,
                                                    transposed: sp.baseAddress!)
                            }
                            dw.withUnsafeMutableBufferPointer {
                                implicitConvWeightGradient(dyf, padded: pp.baseAddress!, $0.baseAddress!, gf,
                                                           outputChannels: t.c, batch: t.batch, accumulate: false,
                                                           transposed: sp.baseAddress!)
                            }
                        }
                    }
                }
                bits += y.map(\.bitPattern) + dw.map(\.bitPattern)
                return bits
            }
        }
        let reference = passes(4, threads: 1)
        #expect(!reference.contains { Float(bitPattern: $0).isNaN })
        for vectors in [1, 2, 3] {
            for threads in [1, 2] {
                let got = passes(vectors, threads: threads)
                let differing = zip(reference, got).filter { $0 != $1 }.count
                #expect(got.count == reference.count && differing == 0,
                        "\(vectors) vectors, \(threads) threads: \(differing) of \(got.count) values differ")
            }
        }
    }

    @Test func stridedOrOddChannelsAreNotClaimed() {
        #expect(!convInputGradientSupported(ConvGeometry(height: 8, width: 8, channels: 32, kernel: 3, stride: 2)))
        #expect(!convInputGradientSupported(ConvGeometry(height: 8, width: 8, channels: 3, kernel: 3, padding: 1)))
        #expect(!convInputGradientSupported(ConvGeometry(height: 8, width: 8, channels: 16, kernel: 3, padding: 3)))
    }
}
