// GEMMBenchmark: times `gemm` on one shape and reports GFLOPS (for `fednoise bench` and kernel tuning).
import Dispatch

/// Measures `gemm(transA, transB, m:n:k:)` with tight leading dimensions, alpha 1, beta 0, on `threads` threads.
///
/// After one warm-up call it times five repetitions, each of enough calls to last about `minSeconds / 5` of wall
/// clock, and returns the median rate in GFLOPS (2·m·n·k per call). Wall-clock figures on a busy machine are
/// only as good as the machine is idle.
public func measureGEMM(
    _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int, threads: Int, minSeconds: Double = 0.5
) -> Double {
    precondition(m > 0 && n > 0 && k > 0 && threads > 0, "measureGEMM: positive sizes and threads")
    var rng = Philox(seed: 0x6E6D_6D5F_6265_6E63, UInt64(m), UInt64(n), UInt64(k))
    let a = (0..<(m * k)).map { _ in rng.nextUniform() - 0.5 }
    let b = (0..<(k * n)).map { _ in rng.nextUniform() - 0.5 }
    var c = [Float](repeating: 0, count: m * n)
    let lda = transA == .none ? k : m, ldb = transB == .none ? n : k
    let flops = 2 * Double(m) * Double(n) * Double(k)
    return ComputeThreads.with(threads) {
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    func run(_ calls: Int) -> Double {
                        let start = DispatchTime.now().uptimeNanoseconds
                        for _ in 0..<calls {
                            gemm(transA, transB, m: m, n: n, k: k, a: pa.baseAddress!, lda: lda,
                                 b: pb.baseAddress!, ldb: ldb, c: pc.baseAddress!, ldc: n)
                        }
                        return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
                    }
                    let once = max(run(1), 1e-7)
                    let calls = max(1, Int((minSeconds / 5 / once).rounded(.up)))
                    var rates: [Double] = []
                    for _ in 0..<5 { rates.append(flops * Double(calls) / run(calls) * 1e-9) }
                    return rates.sorted()[2]
                }
            }
        }
    }
}
