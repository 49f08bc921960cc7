// OneChannelPooledConvTests: the convolution that pools in its registers writes the bits of convolution, ReLU and pool.
import FedTensor
import Testing

@Suite("One-channel convolution pooled in registers")
struct OneChannelPooledConvTests {
    /// One input channel to 32, then ReLU and a 2 × 2 max pool: the McMahan CNN's first layers (28 × 28, k 5, pad
    /// 2), a 3 × 3 one with padding 1, a non-square image 4 tiles wide, a valid convolution, `small-cnn`'s shape and
    /// a short wide image, the last two with a 2-pixel tile at the end of each row.
    static let cases: [ImplicitConvCase] = [
        ImplicitConvCase(h: 28, w: 28, c: 1, oc: 32, k: 5, p: 2, batch: 3),
        ImplicitConvCase(h: 28, w: 28, c: 1, oc: 32, k: 3, p: 1, batch: 2),
        ImplicitConvCase(h: 10, w: 16, c: 1, oc: 32, k: 3, p: 1, batch: 2),
        ImplicitConvCase(h: 12, w: 12, c: 1, oc: 32, k: 5, p: 0, batch: 2),  // valid convolution: 8 × 8 out
        ImplicitConvCase(h: 28, w: 28, c: 1, oc: 32, k: 3, p: 0, batch: 2),  // `small-cnn`: 26 = 6 · 4 + 2 wide
        ImplicitConvCase(h: 6, w: 14, c: 1, oc: 32, k: 5, p: 2, batch: 3),   // 14 = 3 · 4 + 2 wide
    ]

    /// Pooled outputs and routes equal `implicitConvForward(…, relu: true)` followed by
    /// `maxPoolForward(…, routes:, reluBefore: true)`, bit for bit, on 1 and 2 threads, and the padded input left
    /// for the weight gradient is the same. Inputs and weights are multiples of ½ and ¼, so many windows hold
    /// exact ties (the first of equal elements must win, as in the pool) and many maxima are ≤ 0 (no route); the
    /// reference must show every route value, or the check would not reach every branch.
    @Test(arguments: cases)
    func sameBitsAsConvolutionThenPool(_ t: ImplicitConvCase) throws {
        let g = ConvGeometry(height: t.h, width: t.w, channels: 1, kernel: t.k, padding: t.p)
        try #require(oneChannelPooledConvSupported(g, outputChannels: 32))
        var rng = Philox(seed: 71, UInt64(t.k), UInt64(t.h))
        let x = (0..<(t.batch * t.h * t.w)).map { _ in Float((rng.nextGaussian() * 2).rounded()) / 2 }
        let w = (0..<(32 * g.patchSize)).map { _ in Float((rng.nextGaussian() * 2).rounded()) / 4 }
        // Biases with −0 and values that push whole windows below zero.
        let bias = (0..<32).map { j -> Float in j % 7 == 0 ? -0.0 : Float((rng.nextGaussian() * 4).rounded()) / 2 }
        let (oh, ow) = (g.outputHeight, g.outputWidth)
        let pooledCount = t.batch * (oh / 2) * (ow / 2) * 32

        // Reference: the convolution with its ReLU in the store, then the pool sample by sample.
        var y = [Float](repeating: .nan, count: t.batch * g.positions * 32)
        var referencePadded = [Float](repeating: .nan, count: t.batch * paddedInputSize(g))
        var scratch = [Float](repeating: .nan, count: g.patchSize * 32)
        implicitConvForward(x, weights: w, &y, g, outputChannels: 32, batch: t.batch, padded: &referencePadded,
                            transposed: &scratch, bias: bias, relu: true)
        var expected = [Float](repeating: .nan, count: pooledCount)
        var expectedRoutes = [UInt8](repeating: 7, count: pooledCount)
        let sampleIn = g.positions * 32, sampleOut = (oh / 2) * (ow / 2) * 32
        y.withUnsafeBufferPointer { yp in
            expected.withUnsafeMutableBufferPointer { ep in
                expectedRoutes.withUnsafeMutableBufferPointer { rp in
                    for n in 0..<t.batch {
                        maxPoolForward(yp.baseAddress! + n * sampleIn, ep.baseAddress! + n * sampleOut,
                                       routes: rp.baseAddress! + n * sampleOut, reluBefore: true,
                                       height: oh, width: ow, channels: 32, k: 2)
                    }
                }
            }
        }
        for route: UInt8 in [0, 1, 2, 3, 255] {
            #expect(expectedRoutes.contains(route), "the inputs never produce route \(route)")
        }

        for threads in [1, 2] {
            var pooled = [Float](repeating: .nan, count: pooledCount)
            var routes = [UInt8](repeating: 7, count: pooledCount)
            var padded = [Float](repeating: .nan, count: t.batch * paddedInputSize(g))
            var transposed = [Float](repeating: .nan, count: g.patchSize * 32)
            ComputeThreads.$taskLimit.withValue(threads) {
                implicitConvForwardPooled(x, weights: w, bias: bias, g, batch: t.batch, padded: &padded,
                                          transposed: &transposed, pooled: &pooled, routes: &routes)
            }
            #expect(pooled.map(\.bitPattern) == expected.map(\.bitPattern), "pooled outputs, \(threads) threads")
            #expect(routes == expectedRoutes, "routes, \(threads) threads")
            #expect(padded.map(\.bitPattern) == referencePadded.map(\.bitPattern), "padded input, \(threads) threads")
        }
    }

    /// Only what the tiles cover is claimed: register tiles one vector wide, an odd output height or width, two input
    /// channels, 64 filters, a stride of 2 or k = 7 go to the general passes.
    @Test func otherShapesAreNotClaimed() {
        let mcMahan = ConvGeometry(height: 28, width: 28, channels: 1, kernel: 5, padding: 2)
        GEMMTiling.$override.withValue(GEMMTiling(mc: 72, nc: 512, residentB: 0, vectors: 4)) {
            #expect(oneChannelPooledConvSupported(mcMahan, outputChannels: 32))
        }
        // Register tiles one vector wide (AVX2, NEON): the one-channel tiles do not run there.
        GEMMTiling.$override.withValue(GEMMTiling(mc: 72, nc: 512, residentB: 0, vectors: 1)) {
            #expect(!oneChannelPooledConvSupported(mcMahan, outputChannels: 32))
        }
        #expect(!oneChannelPooledConvSupported(ConvGeometry(height: 27, width: 28, channels: 1, kernel: 5, padding: 2),
                                               outputChannels: 32))
        #expect(!oneChannelPooledConvSupported(ConvGeometry(height: 28, width: 27, channels: 1, kernel: 5, padding: 2),
                                               outputChannels: 32))
        #expect(!oneChannelPooledConvSupported(ConvGeometry(height: 28, width: 28, channels: 2, kernel: 5, padding: 2),
                                               outputChannels: 32))
        #expect(!oneChannelPooledConvSupported(ConvGeometry(height: 28, width: 28, channels: 1, kernel: 5, padding: 2),
                                               outputChannels: 64))
        #expect(!oneChannelPooledConvSupported(ConvGeometry(height: 28, width: 28, channels: 1, kernel: 5, stride: 2,
                                                            padding: 2), outputChannels: 32))
        #expect(!oneChannelPooledConvSupported(ConvGeometry(height: 28, width: 28, channels: 1, kernel: 7, padding: 3),
                                               outputChannels: 32))
    }
}
