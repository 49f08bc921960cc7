// ImplicitConvTests: the implicit convolution input gradient against a naive scatter loop, and across thread counts.
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

    @Test func stridedOrOddChannelsAreNotClaimed() {
        #expect(!convInputGradientSupported(ConvGeometry(height: 8, width: 8, channels: 32, kernel: 3, stride: 2)))
        #expect(!convInputGradientSupported(ConvGeometry(height: 8, width: 8, channels: 3, kernel: 3, padding: 1)))
        #expect(!convInputGradientSupported(ConvGeometry(height: 8, width: 8, channels: 16, kernel: 3, padding: 3)))
    }
}
