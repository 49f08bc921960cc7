// SparseConvGradientTests: the scattered convolution input gradient against a naive Float64 loop, sparse and dense.
import FedTensor
import Testing

struct SparseConvCase: Sendable, CustomTestStringConvertible {
    var h: Int, w: Int, c: Int, oc: Int, k: Int, s: Int, p: Int, batch: Int
    var testDescription: String { "\(batch)×\(h)×\(w)×\(c) → \(oc), k \(k), stride \(s), pad \(p)" }
}

@Suite struct SparseConvGradientTests {
    static let cases: [SparseConvCase] = [
        SparseConvCase(h: 14, w: 14, c: 32, oc: 64, k: 5, s: 1, p: 2, batch: 3),  // the CNN's conv2
        SparseConvCase(h: 28, w: 28, c: 1, oc: 32, k: 5, s: 1, p: 2, batch: 2),   // its conv1
        SparseConvCase(h: 9, w: 7, c: 3, oc: 5, k: 3, s: 2, p: 1, batch: 2),      // strided, odd sizes
        SparseConvCase(h: 6, w: 5, c: 16, oc: 4, k: 3, s: 1, p: 0, batch: 1),     // valid convolution
        SparseConvCase(h: 5, w: 6, c: 2, oc: 3, k: 5, s: 1, p: 4, batch: 2),     // full padding
    ]

    /// dX by the definition, in Float64: each output position's window gathers dY·W.
    func naive(_ t: SparseConvCase, _ dy: [Float], _ wt: [Float]) -> [Double] {
        let g = ConvGeometry(height: t.h, width: t.w, channels: t.c, kernel: t.k, stride: t.s, padding: t.p)
        var dx = [Double](repeating: 0, count: t.batch * t.h * t.w * t.c)
        for n in 0..<t.batch {
            for oy in 0..<g.outputHeight {
                for ox in 0..<g.outputWidth {
                    for o in 0..<t.oc {
                        let d = Double(dy[((n * g.outputHeight + oy) * g.outputWidth + ox) * t.oc + o])
                        for ky in 0..<t.k {
                            for kx in 0..<t.k {
                                let iy = oy * t.s - t.p + ky, ix = ox * t.s - t.p + kx
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

    func sparse(_ t: SparseConvCase, _ dy: [Float], _ wt: [Float], threads: Int) -> [Float] {
        let g = ConvGeometry(height: t.h, width: t.w, channels: t.c, kernel: t.k, stride: t.s, padding: t.p)
        var dx = [Float](repeating: .nan, count: t.batch * t.h * t.w * t.c)
        ComputeThreads.with(threads) {
            dx.withUnsafeMutableBufferPointer {
                sparseConvInputGradient(dy, weights: wt, $0.baseAddress!, g, outputChannels: t.oc, batch: t.batch)
            }
        }
        return dx
    }

    /// At a quarter of dY nonzero (as behind a 2×2 max-pool) and fully dense; bit-identical on 1 and 2 threads.
    @Test(arguments: cases, [0.25, 1.0])
    func matchesTheDefinition(_ t: SparseConvCase, density: Double) {
        let g = ConvGeometry(height: t.h, width: t.w, channels: t.c, kernel: t.k, stride: t.s, padding: t.p)
        var rng = Philox(seed: 57, UInt64(t.c), UInt64(t.k))
        let dy = (0..<(t.batch * g.positions * t.oc)).map { _ -> Float in
            let v = Float(rng.nextGaussian())
            return Double(rng.nextUniform()) < density ? v : 0
        }
        let wt = (0..<(t.oc * g.patchSize)).map { _ in Float(rng.nextGaussian()) }
        let expected = naive(t, dy, wt)
        let one = sparse(t, dy, wt, threads: 1)
        var worst = 0.0
        for i in expected.indices { worst = max(worst, abs(Double(one[i]) - expected[i]) / max(1, abs(expected[i]))) }
        #expect(worst < 1e-4)  // float32 sums of up to k²·OC = 1,600 products, as the dense pass's test allows
        #expect(sparse(t, dy, wt, threads: 2) == one)
        // Control: the same scatter with the filters flipped (a convolution instead of a cross-correlation) is
        // rejected by the same check, unless the kernel is 1×1.
        var flipped = wt
        for o in 0..<t.oc {
            for ky in 0..<t.k {
                for kx in 0..<t.k {
                    for ch in 0..<t.c {
                        flipped[o * g.patchSize + (ky * t.k + kx) * t.c + ch] =
                            wt[o * g.patchSize + ((t.k - 1 - ky) * t.k + (t.k - 1 - kx)) * t.c + ch]
                    }
                }
            }
        }
        let wrong = sparse(t, dy, flipped, threads: 1)
        let off = expected.indices.map { abs(Double(wrong[$0]) - expected[$0]) / max(1, abs(expected[$0])) }.max() ?? 0
        #expect(off > 1e-2)
    }

    @Test func countsNonzerosAndPicksThePath() {
        let x: [Float] = [0, 1, -0.0, 2, 0, .leastNonzeroMagnitude, 0, 0]
        #expect(nonzeroCount(x, count: x.count) == 3)
        #expect(sparseConvInputGradientPays(nonzeros: 25, outputCount: 100))
        #expect(!sparseConvInputGradientPays(nonzeros: 26, outputCount: 100))
    }
}
