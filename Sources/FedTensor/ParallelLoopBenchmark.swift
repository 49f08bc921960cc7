// ParallelLoopBenchmark: what a parallel loop costs beyond its work, through ComputePool, concurrentPerform or one thread.
import Dispatch
import Foundation

/// How `measureParallelLoop` runs a loop's partitions.
public enum ParallelLoopRunner: String, CaseIterable, Sendable {
    /// `ComputePool.shared`, as `parallelFor` does.
    case pool
    /// `DispatchQueue.concurrentPerform`, as `parallelFor` did before the pool (and does when the pool is busy).
    case concurrentPerform
    /// Every partition in turn on the calling thread: the work alone.
    case oneThread = "one thread"
}

/// A dependent chain of multiply-adds over a small buffer (in L1), about 4 cycles an element.
@inline(never)
private func chain(_ data: UnsafePointer<Float>, _ n: Int, _ out: UnsafeMutablePointer<Float>) {
    var s = out.pointee
    for i in 0..<n { s = s * 0.999 + data[i & 4095] }
    out.pointee = s
}

/// Microseconds per loop of `threads` partitions, each about `partitionMicroseconds` of arithmetic on one core,
/// run back to back for at least `minSeconds` (the mean). nil when the pool cannot take that many partitions.
public func measureParallelLoop(threads: Int, partitionMicroseconds: Double, runner: ParallelLoopRunner,
                                minSeconds: Double) -> Double? {
    let workers = max(1, threads)
    if runner == .pool && workers > ComputePool.shared.threads + 1 { return nil }
    let data = UnsafeMutablePointer<Float>.allocate(capacity: 4096)
    data.initialize(repeating: 1, count: 4096)
    // One accumulator per partition, a cache line apart.
    let out = UnsafeMutablePointer<Float>.allocate(capacity: 16 * workers)
    out.initialize(repeating: 0, count: 16 * workers)
    defer { data.deallocate(); out.deallocate() }
    // Calibrate the chain's length on this thread: the best of five 2,000-element timings.
    var best = Double.infinity
    for _ in 0..<5 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<50 { chain(data, 2_000, out) }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 50 / 2_000)
    }
    let n = max(1, Int(partitionMicroseconds * 1_000 / best))
    nonisolated(unsafe) let d = data, o = out
    let body: @Sendable (Int) -> Void = { w in chain(d, n, o + 16 * w) }
    let loop: () -> Void
    switch runner {
    case .pool: loop = { _ = ComputePool.shared.run(workers: workers, count: workers, body) }
    case .concurrentPerform: loop = { DispatchQueue.concurrentPerform(iterations: workers, execute: body) }
    case .oneThread: loop = { for w in 0..<workers { body(w) } }
    }
    for _ in 0..<20 { loop() }  // wake the workers
    var loops = 0
    let start = DispatchTime.now().uptimeNanoseconds
    var elapsed = 0.0
    repeat {
        for _ in 0..<50 { loop() }
        loops += 50
        elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    } while elapsed < minSeconds
    return elapsed / Double(loops) * 1e6
}
