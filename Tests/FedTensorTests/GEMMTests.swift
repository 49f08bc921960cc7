// GEMMTests: the blocked GEMM against the Float64 reference, thread-count invariance, and workspace sharing.
import Dispatch
import FedTensor
import Testing

/// One product to check. Padding of A, B and C (ld − row length) is filled with NaN or a sentinel to catch reads
/// and writes outside the matrices.
struct GEMMCase: Sendable, CustomTestStringConvertible {
    var transA: Transpose, transB: Transpose
    var m: Int, n: Int, k: Int
    var alpha: Float = 1, beta: Float = 0
    var padA = 0, padB = 0, padC = 0

    var testDescription: String {
        let t = { (x: Transpose) in x == .none ? "N" : "T" }
        return "\(t(transA))\(t(transB)) \(m)×\(n)×\(k) α=\(alpha) β=\(beta) pad=\(padA),\(padB),\(padC)"
    }
}

let transposePairs: [(Transpose, Transpose)] = [(.none, .none), (.none, .transposed),
                                                 (.transposed, .none), (.transposed, .transposed)]

/// A row-major `rows × cols` matrix with leading dimension `ld`; the padding holds `pad`.
func makeMatrix(_ rows: Int, _ cols: Int, ld: Int, pad: Float, _ rng: inout Philox) -> [Float] {
    var x = [Float](repeating: pad, count: max(1, rows * ld))
    for i in 0..<rows { for j in 0..<cols { x[i * ld + j] = 2 * rng.nextUniform() - 1 } }
    return x
}

/// Runs `gemm` and (unless told not to) `referenceGEMM` on the same inputs; returns (fast C, reference C, ldc).
func runBoth(_ t: GEMMCase, seed: UInt64, reference: Bool = true) -> (fast: [Float], reference: [Float], ldc: Int) {
    var rng = Philox(seed: seed, UInt64(t.m), UInt64(t.n), UInt64(t.k))
    let (ar, ac) = t.transA == .none ? (t.m, t.k) : (t.k, t.m)
    let (br, bc) = t.transB == .none ? (t.k, t.n) : (t.n, t.k)
    let lda = ac + t.padA, ldb = bc + t.padB, ldc = t.n + t.padC
    let a = makeMatrix(ar, ac, ld: lda, pad: .nan, &rng)
    let b = makeMatrix(br, bc, ld: ldb, pad: .nan, &rng)
    var c = makeMatrix(t.m, t.n, ld: ldc, pad: 12345, &rng)
    if t.beta == 0 {  // C must not be read: NaN would leak into the result.
        for i in 0..<t.m { for j in 0..<t.n { c[i * ldc + j] = .nan } }
    }
    var ref = c
    gemm(t.transA, t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: a, lda: lda, b: b, ldb: ldb,
         beta: t.beta, c: &c, ldc: ldc)
    if reference {
        referenceGEMM(t.transA, t.transB, m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: a, lda: lda, b: b, ldb: ldb,
                      beta: t.beta, c: &ref, ldc: ldc)
    }
    return (c, ref, ldc)
}

/// Every element within 1e-6·(1 + k)·scale of the reference (inputs are in [−1, 1)), padding untouched.
func expectClose(_ t: GEMMCase, seed: UInt64 = 1) {
    let (c, ref, ldc) = runBoth(t, seed: seed)
    let tolerance = 1e-6 * Float(1 + t.k) * (abs(t.alpha) + abs(t.beta))
    var worst: Float = 0, badPadding = 0
    for i in 0..<t.m {
        for j in 0..<ldc {
            let x = c[i * ldc + j], y = ref[i * ldc + j]
            if j >= t.n {
                if x.bitPattern != y.bitPattern { badPadding += 1 }
            } else {
                worst = max(worst, x.isNaN || y.isNaN ? .infinity : abs(x - y))
            }
        }
    }
    #expect(worst <= tolerance, "\(t.testDescription): max error \(worst) > \(tolerance)")
    #expect(badPadding == 0, "\(t.testDescription): \(badPadding) padding elements of C written")
}

@Suite struct GEMMTests {
    /// Tiny, odd and tile-edge shapes over all four transpose combinations.
    static let shapeCases: [GEMMCase] = {
        let shapes = [(1, 1, 1), (1, 3, 10), (3, 10, 17), (17, 3, 10), (10, 17, 3), (1, 64, 1), (64, 1, 5),
                      (6, 64, 256), (7, 65, 257), (13, 16, 300), (8, 32, 8), (9, 49, 2), (5, 47, 33),
                      (50, 130, 20), (100, 48, 30), (145, 70, 513), (10, 200, 100), (200, 10, 100), (33, 130, 7),
                      (170, 400, 300)]
        return transposePairs.flatMap { ta, tb in shapes.map { GEMMCase(transA: ta, transB: tb, m: $0, n: $1, k: $2) } }
    }()

    @Test(arguments: shapeCases)
    func matchesReference(_ t: GEMMCase) { expectClose(t) }

    /// Leading dimensions larger than the rows, alpha ≠ 1, beta ∈ {0, 1, other}.
    static let scaledCases: [GEMMCase] = transposePairs.flatMap { ta, tb in
        [(Float(1), Float(0)), (-0.5, 0), (1, 1), (2.5, 1), (1, -0.75), (0.3, 2)].flatMap { alpha, beta in
            [(11, 37, 29), (70, 90, 300), (6, 130, 600)].map { m, n, k in
                GEMMCase(transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, beta: beta, padA: 3, padB: 17, padC: 5)
            }
        }
    }

    @Test(arguments: scaledCases)
    func leadingDimensionsAndScaling(_ t: GEMMCase) { expectClose(t) }

    /// The CNN's shapes at a small batch, large enough to take the threaded path.
    @Test func networkShapes() {
        for (ta, tb, m, n, k) in [(Transpose.none, Transpose.transposed, 392, 64, 800),
                                  (.transposed, .none, 64, 800, 392), (.none, .none, 392, 800, 64),
                                  (.none, .transposed, 4, 512, 3136), (.transposed, .none, 512, 3136, 4),
                                  (.none, .none, 4, 3136, 512), (.none, .transposed, 64, 10, 512)] {
            expectClose(GEMMCase(transA: ta, transB: tb, m: m, n: n, k: k))
        }
    }

    /// k = 0 leaves beta · C (C unread when beta = 0); m = 0 or n = 0 touches nothing.
    @Test func emptyProducts() {
        var c: [Float] = [1, 2, 3, 4, 5, 6]
        let dummy: [Float] = [0]
        gemm(.none, .none, m: 0, n: 3, k: 4, a: dummy, lda: 4, b: dummy, ldb: 3, beta: 2, c: &c, ldc: 3)
        gemm(.transposed, .transposed, m: 2, n: 0, k: 4, a: dummy, lda: 2, b: dummy, ldb: 4, c: &c, ldc: 3)
        #expect(c == [1, 2, 3, 4, 5, 6])
        gemm(.none, .none, m: 2, n: 3, k: 0, a: dummy, lda: 1, b: dummy, ldb: 3, beta: 2, c: &c, ldc: 3)
        #expect(c == [2, 4, 6, 8, 10, 12])
        c = [Float](repeating: .nan, count: 6)
        gemm(.none, .none, m: 2, n: 3, k: 0, a: dummy, lda: 1, b: dummy, ldb: 3, beta: 0, c: &c, ldc: 3)
        #expect(c == [Float](repeating: 0, count: 6))
    }

    /// Concurrent calls each get their own packing workspace.
    @Test func concurrentCalls() {
        let cases = (0..<8).map { i in
            GEMMCase(transA: i % 2 == 0 ? .none : .transposed, transB: i % 4 < 2 ? .transposed : .none,
                     m: 40 + 13 * i, n: 70 + 9 * i, k: 300 + 31 * i, beta: 0.5)
        }
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            expectClose(cases[i % cases.count], seed: UInt64(i))
        }
    }
}

/// Serialized: these tests set the process-wide `ComputeThreads.count`.
@Suite(.serialized) struct GEMMThreadTests {
    /// One thread and two give the same bits: splits over M and over N, several K blocks, both loop orders.
    @Test(arguments: [(Transpose.none, Transpose.none, 300, 517, 600), (.none, .transposed, 300, 517, 600),
                      (.transposed, .none, 517, 300, 600), (.transposed, .transposed, 300, 517, 600),
                      (.none, .transposed, 40, 700, 1000), (.transposed, .none, 64, 800, 1960),
                      // Two workers keep their half of B resident in L2 where one thread cannot.
                      (.none, .transposed, 200, 300, 400), (.none, .none, 200, 300, 400)])
    func threadCountInvariant(_ ta: Transpose, _ tb: Transpose, _ m: Int, _ n: Int, _ k: Int) {
        let t = GEMMCase(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.7, beta: 0.4, padA: 1, padB: 2, padC: 3)
        let one = ComputeThreads.with(1) { runBoth(t, seed: 9, reference: false).fast }
        let two = ComputeThreads.with(2) { runBoth(t, seed: 9, reference: false).fast }
        let differing = zip(one, two).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(one.count == two.count && differing == 0, "\(differing) of \(one.count) values differ")
    }
}

@Suite("Parallel SGD kernel", .serialized)
struct ParallelSGDTests {
    /// Every element gets the single-thread kernel's arithmetic, whatever the split; the naive loop is the oracle.
    @Test(arguments: [(false, Float(0)), (true, Float(0.9))])
    func matchesTheSerialKernelAndANaiveLoop(momentum useVelocity: Bool, mu: Float) {
        let n = (1 << 18) + 37
        var rng = Philox(seed: 77)
        let w0 = (0..<n).map { _ in Float(rng.nextGaussian()) }
        let g = (0..<n).map { _ in Float(rng.nextGaussian()) }
        let v0 = (0..<n).map { _ in Float(rng.nextGaussian()) }
        func run(threads: Int, parallel: Bool) -> ([Float], [Float]) {
            var w = w0, v = v0
            ComputeThreads.with(threads) {
                w.withUnsafeMutableBufferPointer { wp in
                    v.withUnsafeMutableBufferPointer { vp in
                        let vel = useVelocity ? vp.baseAddress! : nil
                        if parallel {
                            sgdStepParallel(wp.baseAddress!, g, velocity: vel, count: n, learningRate: 0.1,
                                            momentum: mu, dampening: 0, weightDecay: 0.01, nesterov: false)
                        } else {
                            sgdStep(wp.baseAddress!, g, velocity: vel, count: n, learningRate: 0.1,
                                    momentum: mu, dampening: 0, weightDecay: 0.01, nesterov: false)
                        }
                    }
                }
            }
            return (w, v)
        }
        let serial = run(threads: 1, parallel: false)
        for threads in [1, 2, 3] {
            let r = run(threads: threads, parallel: true)
            #expect(r.0 == serial.0)
            #expect(r.1 == serial.1)
        }
        var worst = 0.0
        for i in 0..<n {
            let gi = Double(g[i]) + 0.01 * Double(w0[i])
            let vi = useVelocity ? Double(mu) * Double(v0[i]) + gi : gi
            worst = max(worst, abs(Double(w0[i]) - 0.1 * vi - Double(serial.0[i])))
        }
        #expect(worst < 1e-5)
    }
}
