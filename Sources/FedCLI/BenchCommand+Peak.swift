// BenchCommand+Peak: the host line and FMA peak of `fednoise bench`, and the FLOP counts that turn rates into fractions of it.
import FedNN
import FedTensor

/// This host's register-bound FMA rate per thread count, the denominator of every "of peak" figure.
struct HostPeak {
    let cpu: HostCPU
    /// GFLOPS of `t` concurrent FMA loops, for each thread count measured.
    let gflops: [Int: Double]

    /// Measures the peak at each thread count and prints the CPU and the figures.
    static func measure(threads: [Int], quick: Bool) -> HostPeak {
        let cpu = HostCPU.current
        say("CPU: \(cpu.summary)")
        say("GEMM tiling for these caches: \(GEMMTiling.host) (K blocks of 256 everywhere, so the same bits)")
        var gflops: [Int: Double] = [:]
        for t in Set(threads + [1]).sorted() {
            gflops[t] = measureFMAPeak(threads: t, minSeconds: quick ? 0.1 : 0.3)
        }
        let perCore = gflops[1]!
        say("FMA peak (register-bound loop of \(fmaPeakUsesWideLoop ? 12 : 6) SIMD16 chains): " + fixed(perCore, 1)
              + " GFLOPS per core"
              + gflops.keys.sorted().filter { $0 > 1 }.map { ", \(fixed(gflops[$0]!, 1)) on \($0) threads" }.joined())
        return HostPeak(cpu: cpu, gflops: gflops)
    }

    /// `achieved` GFLOPS on `threads` threads as a fraction of the peak measured on that many threads.
    func fraction(_ achieved: Double, threads: Int) -> Double? {
        guard let peak = gflops[threads], peak > 0 else { return nil }
        return achieved / peak
    }

    /// The rows that record the peak in `bench.json` (`writeRows` names the CPU on every row).
    var rows: [BenchCommand.Row] {
        gflops.keys.sorted().map {
            BenchCommand.Row(benchmark: "fma peak", threads: $0, value: gflops[$0]!, unit: "GFLOPS")
        }
    }
}
