// GaussianBenchmark: throughput of `fillGaussian` (Philox4x32-10, Salmon et al. SC 2011; Box & Muller 1958).
//
// Measured on the 2-core Zen 4 development machine (Swift 6.3.1, release, -target-cpu native), 4 M floats a fill,
// checked idle before each run: 1 thread 830–850 M normals/s (wall and CPU time agree); 2 threads 1,490–1,670
// M/s wall (≈ 1.95×). Side by side in the same sitting, numpy 2.4.6 `standard_normal(dtype=float32)` (ziggurat,
// 1 thread) gave 115 M/CPU-s. Under another process's load, 2-thread wall figures collapse towards 1 thread's:
// process CPU time then equals wall time, i.e. one core's worth (likely `concurrentPerform`'s caller running both
// halves before the worker thread gets scheduled; not verified further). With FEDNOISE_TARGET_CPU=generic (SSE2,
// every fused multiply-add a libm `fmaf` call) the same bits come out at about 33 M/s on one thread.
// With the round keys computed once per fill (`PhiloxSchedule`, 0.4.0), a standalone build of these kernels
// (`swiftc -O -wmo -target-cpu native`, 199,210 normals a fill, best of 7×20) went from 764–767 to 846–931 M/s
// on one core in two alternated comparisons on 2026-12-03 (+11–22%, same digest); `fednoise bench --quick` then
// printed 801 M/s for one thread (the host's speed drifts by ±10% over a day).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Million standard normals per second written by `fillGaussian` into a `count`-float buffer on `threads`
/// threads: the median over repetitions (at least 5, and at least `minSeconds` in total) after one warm-up fill.
/// Wall-clock time; on a shared machine prefer `measureGaussianCPU` for one thread.
public func measureGaussian(count: Int = 1 << 22, threads: Int, minSeconds: Double = 0.5) -> Double {
    medianRate(count: count, threads: threads, minSeconds: minSeconds, clock: CLOCK_MONOTONIC)
}

/// As `measureGaussian`, but per second of this process's CPU time (all threads): robust to other processes'
/// load. For `threads > 1` it measures efficiency (samples per CPU-second), not elapsed speed.
public func measureGaussianCPU(count: Int = 1 << 22, threads: Int, minSeconds: Double = 0.5) -> Double {
    medianRate(count: count, threads: threads, minSeconds: minSeconds, clock: CLOCK_PROCESS_CPUTIME_ID)
}

private func medianRate(count: Int, threads: Int, minSeconds: Double, clock: clockid_t) -> Double {
    precondition(count > 0 && threads > 0)
    let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
    defer { buffer.deallocate() }
    let key = StreamKey(seed: 0xF0E1_D2C3, 7)
    var start: UInt64 = 0
    func fill() {
        fillGaussian(buffer, key: key, std: 1, mean: 0, startIndex: start, threads: threads)
        start &+= UInt64(count)
    }
    fill()
    var rates: [Double] = []
    var total = 0.0
    while rates.count < 5 || total < minSeconds {
        let t0 = seconds(clock)
        fill()
        let dt = seconds(clock) - t0
        total += dt
        rates.append(Double(count) / max(dt, 1e-9) / 1e6)
        if rates.count >= 10_000 { break }
    }
    rates.sort()
    return rates[rates.count / 2]
}

private func seconds(_ clock: clockid_t) -> Double {
    var ts = timespec()
    clock_gettime(clock, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
