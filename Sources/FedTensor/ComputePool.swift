// ComputePool: persistent worker threads that spin briefly between parallel loops, so back-to-back kernels do not
// each pay for waking a sleeping thread.
import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `parallelFor`'s static partitions on threads that stay awake for a moment after each loop.
///
/// `DispatchQueue.concurrentPerform` parks its workers between calls; on the project's virtual machines a parked
/// thread takes tens of microseconds to wake, and the caller as long to be told the loop ended. Measured on the
/// 2-core AMD EPYC Zen 3 guest, two 38 µs halves of a loop took 112–122 µs through `concurrentPerform` (slower than
/// running both on one thread) and 39–40 µs here. Workers spin (yielding the core to other runnable threads every
/// few hundred polls) for `spinNanoseconds` after a loop, then sleep on a condition until the next one.
///
/// One loop at a time: a second caller (another thread, or a loop nested inside a worker's partition) is told no
/// and runs on `concurrentPerform` as before. Which thread runs a partition never changes what it computes.
public final class ComputePool: @unchecked Sendable {
    public static let shared = ComputePool(threads: ProcessInfo.processInfo.activeProcessorCount - 1)

    /// How long an idle worker keeps polling for the next loop before it sleeps.
    public static let spinNanoseconds: UInt64 = 1_000_000

    /// Worker threads (their partitions are 1…threads; the caller runs partition 0).
    public let threads: Int
    /// (loop number << 16) | participants of the newest loop, published with release ordering after `body` and
    /// `count`; a worker reads `body` only if its index is below the participant count, and the caller does not
    /// publish another loop until every participant has finished, so `body` is never read while being written.
    private let generation = Atomic<Int>(0)
    /// Participating workers that have not finished the current loop.
    private let remaining = Atomic<Int>(0)
    /// Workers asleep on `wake` (or about to be): the caller signals only when this is non-zero.
    private let sleepers = Atomic<Int>(0)
    /// Held by the caller that owns the pool for one loop.
    private let busy = Atomic<Bool>(false)
    private let wake = NSCondition()
    private let started = Mutex<Bool>(false)
    nonisolated(unsafe) private var body: ((Int) -> Void)?
    nonisolated(unsafe) private var count = 0

    /// A pool of `threads` workers (started on its first loop; they live as long as the process).
    public init(threads: Int) {
        self.threads = max(0, min(threads, 0xfff))
    }

    private func startIfNeeded() {
        started.withLock { started in
            guard !started else { return }
            started = true
            for w in stride(from: 1, through: threads, by: 1) {
                let thread = Thread { [self] in work(as: w) }
                thread.name = "fednoise-compute-\(w)"
                thread.stackSize = 8 << 20
                thread.start()
            }
        }
    }

    /// Runs `body(i)` for `i` in `0..<count` split into `workers` contiguous partitions (partition w is
    /// `count·w/workers ..< count·(w+1)/workers`, as `parallelFor` promises), partition 0 on the calling thread.
    /// Returns false without running anything when the pool cannot take the loop (too many workers, or busy).
    public func run(workers: Int, count: Int, _ body: @escaping (Int) -> Void) -> Bool {
        guard workers >= 2, workers <= threads + 1 else { return false }
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            return false
        }
        defer { busy.store(false, ordering: .releasing) }
        startIfNeeded()
        self.body = body
        self.count = count
        remaining.store(workers - 1, ordering: .relaxed)
        let loop = generation.load(ordering: .relaxed) >> 16 &+ 1
        generation.store(loop << 16 | workers, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            wake.lock(); wake.broadcast(); wake.unlock()
        }
        for i in Self.partition(0, of: workers, count: count) { body(i) }
        var polls = 0
        while remaining.load(ordering: .acquiring) > 0 {
            polls &+= 1
            if polls & 1023 == 0 { sched_yield() }
        }
        self.body = nil
        return true
    }

    private func work(as index: Int) {
        var seen = 0
        while true {
            var g = generation.load(ordering: .acquiring)
            if g == seen {
                let start = DispatchTime.now().uptimeNanoseconds
                var polls = 0
                while g == seen {
                    polls &+= 1
                    if polls & 255 == 0 {
                        if DispatchTime.now().uptimeNanoseconds &- start > Self.spinNanoseconds { break }
                        sched_yield()
                    }
                    g = generation.load(ordering: .acquiring)
                }
                if g == seen {
                    // Counted before the last look, so a caller that publishes after that look sees a sleeper.
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    wake.lock()
                    while generation.load(ordering: .sequentiallyConsistent) == seen { wake.wait() }
                    wake.unlock()
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    g = generation.load(ordering: .acquiring)
                }
            }
            seen = g
            let workers = g & 0xffff
            guard index < workers else { continue }
            runPartition(index, of: workers)
            remaining.subtract(1, ordering: .releasing)
        }
    }

    /// Partition `index` of the current loop. A function of its own so that this worker's reference to `body` is
    /// released before it reports the partition done (`withoutActuallyEscaping` checks that none is left).
    @inline(never)
    private func runPartition(_ index: Int, of workers: Int) {
        let body = self.body!
        for i in Self.partition(index, of: workers, count: count) { body(i) }
    }

    /// Partition `index` of `0..<count` split over `workers`: `parallelFor`'s static contiguous partition, on the
    /// pool and on `concurrentPerform` alike.
    @usableFromInline
    static func partition(_ index: Int, of workers: Int, count: Int) -> Range<Int> {
        (count * index / workers)..<(count * (index + 1) / workers)
    }
}
