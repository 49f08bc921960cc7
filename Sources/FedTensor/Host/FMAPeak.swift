// FMAPeak: this host's fused multiply-add peak per core, measured with a register-bound loop of SIMD16 FMAs.
import Dispatch

/// A register-bound loop (`measureFMAPeak` uses it where the kernels were compiled for AVX-512, else
/// `fmaChainsNarrow`): twelve independent chains of `SIMD16<Float>` fused multiply-adds (c ← c·x + y), enough
/// to cover the FMA latency (4 cycles) times the FMA ports (2) of the project's Zen 4 and Xeon hosts, with no
/// memory traffic. Its rate is the ceiling the GEMM micro-kernels (the same `SIMD16` FMAs, compiled the same
/// way) can reach on this host, so figures divided by it compare across hosts. Each iteration is 12 × 16 FMAs =
/// 384 floating-point operations. The chains converge to 2y and stay there (no overflow, no denormals).
@inline(never)
public func fmaChains(iterations: Int, x: Float, y: Float) -> Float {
    let vx = SIMD16<Float>(repeating: x), vy = SIMD16<Float>(repeating: y)
    var c0 = SIMD16<Float>(repeating: 1), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0
    var c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0
    for _ in 0..<iterations {
        c0 = vy.addingProduct(c0, vx); c1 = vy.addingProduct(c1, vx); c2 = vy.addingProduct(c2, vx)
        c3 = vy.addingProduct(c3, vx); c4 = vy.addingProduct(c4, vx); c5 = vy.addingProduct(c5, vx)
        c6 = vy.addingProduct(c6, vx); c7 = vy.addingProduct(c7, vx); c8 = vy.addingProduct(c8, vx)
        c9 = vy.addingProduct(c9, vx); c10 = vy.addingProduct(c10, vx); c11 = vy.addingProduct(c11, vx)
    }
    let s = (c0 + c1 + c2 + c3) + (c4 + c5 + c6 + c7) + (c8 + c9 + c10 + c11)
    return s.sum()
}

/// Floating-point operations per `fmaChains` iteration.
public let fmaChainFlops = 384.0

/// `fmaChains` with six chains: for hosts where a `SIMD16` takes two 256-bit registers (AVX2, 16 ymm), so that
/// twelve chains (24 ymm) would spill to memory and measure the spills rather than the FMA units. Six SIMD16 chains
/// are twelve independent ymm chains, still more than the FMA latency times the ports of an AVX2 core (4 × 2).
/// Each iteration is 6 × 16 FMAs = 192 floating-point operations.
@inline(never)
public func fmaChainsNarrow(iterations: Int, x: Float, y: Float) -> Float {
    let vx = SIMD16<Float>(repeating: x), vy = SIMD16<Float>(repeating: y)
    var c0 = SIMD16<Float>(repeating: 1), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0
    for _ in 0..<iterations {
        c0 = vy.addingProduct(c0, vx); c1 = vy.addingProduct(c1, vx); c2 = vy.addingProduct(c2, vx)
        c3 = vy.addingProduct(c3, vx); c4 = vy.addingProduct(c4, vx); c5 = vy.addingProduct(c5, vx)
    }
    let s = (c0 + c1 + c2) + (c3 + c4 + c5)
    return s.sum()
}

/// Floating-point operations per `fmaChainsNarrow` iteration.
public let fmaChainNarrowFlops = 192.0

/// Whether the peak loop is `fmaChains` (32 registers that each hold a SIMD16: AVX-512) or `fmaChainsNarrow`.
public var fmaPeakUsesWideLoop: Bool { KernelTarget.current.compiledAVX512F }

/// GFLOPS of `threads` concurrent register-bound FMA loops, in total: the best of five timings of about
/// `minSeconds / 5` each after a warm-up (the best, not the median: other work on the machine can only slow the
/// loop down, and a peak is an upper bound). Divide by `threads` for the per-core peak; on an idle machine the
/// two-thread figure is about twice the one-thread figure (one loop per core).
public func measureFMAPeak(threads: Int = 1, minSeconds: Double = 0.3) -> Double {
    precondition(threads >= 1, "measureFMAPeak: at least one thread")
    // Opaque inputs so the loop cannot be folded: x = 0.5, y = 1 read through the clock's parity.
    let parity = Float(DispatchTime.now().uptimeNanoseconds & 1)
    let x = 0.5 + parity * 0, y = 1 + parity * 0
    let wide = fmaPeakUsesWideLoop
    let flopsPerIteration = wide ? fmaChainFlops : fmaChainNarrowFlops
    func run(_ iterations: Int) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            let r = wide ? fmaChains(iterations: iterations, x: x, y: y)
                : fmaChainsNarrow(iterations: iterations, x: x, y: y)
            if r == 0 { print("") }  // never true (the chains converge to 2); keeps the result alive
        }
        return max(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9, 1e-9)
    }
    let probe = 100_000
    let once = run(probe)
    let iterations = max(probe, Int(Double(probe) * minSeconds / 5 / once))
    var rates: [Double] = []
    for _ in 0..<5 { rates.append(flopsPerIteration * Double(iterations * threads) / run(iterations) * 1e-9) }
    return rates.max()!
}
