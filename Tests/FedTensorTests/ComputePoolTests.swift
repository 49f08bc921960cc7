// ComputePoolTests: the pool runs parallelFor's partitions exactly once each, on one thread per partition, after its
// workers have slept as well as while they spin, and declines loops it cannot take.
import FedTensor
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
private func threadID() -> UInt { UInt(pthread_self()) }
#elseif canImport(Darwin)
import Darwin
private func threadID() -> UInt { UInt(bitPattern: pthread_self()) }
#endif

@Suite struct ComputePoolTests {
    /// Runs one loop of `count` indices over `workers` partitions and returns, per index, how often it ran and the
    /// thread that ran it.
    private func record(_ pool: ComputePool, workers: Int, count: Int) -> (ran: Bool, times: [Int], threads: [UInt]) {
        let times = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
        let threads = UnsafeMutableBufferPointer<UInt>.allocate(capacity: count)
        defer { times.deallocate(); threads.deallocate() }
        times.initialize(repeating: 0); threads.initialize(repeating: 0)
        nonisolated(unsafe) let t = times, th = threads
        let ran = pool.run(workers: workers, count: count) { i in
            t[i] += 1
            th[i] = threadID()
        }
        return (ran, Array(times), Array(threads))
    }

    @Test func everyIndexRunsOnceOnItsPartitionsThreadWhetherWorkersSpinOrSlept() {
        // Given: a pool of its own with three workers (more than this machine may have cores: only slower)
        let pool = ComputePool(threads: 3)
        let caller = threadID()
        for loop in 0..<120 {
            // When: loops of varying size and width run back to back, and every 20th after the workers have gone
            // to sleep (idle for longer than they spin)
            if loop % 20 == 19 { usleep(useconds_t(3 * ComputePool.spinNanoseconds / 1000)) }
            let workers = 2 + loop % 3, count = 1 + (loop * 7) % 53
            let r = record(pool, workers: workers, count: count)
            // Then: the pool took the loop, and ran every index exactly once
            #expect(r.ran, "loop \(loop)")
            #expect(r.times.allSatisfy { $0 == 1 }, "loop \(loop): runs per index \(r.times)")
            // And: partition w (count·w/workers ..< count·(w+1)/workers) ran on one thread, partition 0 on the
            // caller's, and no two partitions on the same thread
            var owners: [UInt] = []
            for w in 0..<workers {
                let part = (count * w / workers)..<(count * (w + 1) / workers)
                let ids = Set(part.map { r.threads[$0] })
                #expect(ids.count <= 1, "loop \(loop): partition \(w) ran on \(ids.count) threads")
                if let id = ids.first { owners.append(id) }
                if w == 0, let id = ids.first { #expect(id == caller, "loop \(loop): partition 0 left the caller") }
            }
            #expect(Set(owners).count == owners.count, "loop \(loop): partitions shared a thread")
        }
    }

    @Test func declinesLoopsItCannotTakeWithoutRunningThem() {
        let pool = ComputePool(threads: 2)
        // Too wide for its workers, or not parallel at all: declined, nothing ran
        for workers in [1, 4, 9] {
            let r = record(pool, workers: workers, count: 10)
            #expect(!r.ran && r.times.allSatisfy { $0 == 0 }, "\(workers) workers")
        }
        // A pool without workers (a one-core machine's) takes nothing
        #expect(!ComputePool(threads: 0).run(workers: 2, count: 4) { _ in })
        // A loop started inside one of its own partitions (a nested parallelFor) finds it busy and is declined;
        // the outer loop still completes
        let nested = UnsafeMutableBufferPointer<Int>.allocate(capacity: 3)
        defer { nested.deallocate() }
        nested.initialize(repeating: -1)
        nonisolated(unsafe) let n = nested
        let outer = pool.run(workers: 3, count: 3) { i in
            n[i] = pool.run(workers: 2, count: 4) { _ in } ? 1 : 0
        }
        #expect(outer)
        #expect(Array(nested) == [0, 0, 0], "nested loops: \(Array(nested)) (1 = taken while busy)")
    }

    @Test func concurrentParallelForCallersEachGetEveryIndexOnce() async {
        // Given: four tasks calling parallelFor at once on the shared pool (one wins it, the others fall back to
        // concurrentPerform, whichever it is from call to call), each with a task limit of 2 threads (a task-local
        // limit: the process-wide count, which `with` would set, is shared with the suites running meanwhile)
        let sums = await withTaskGroup(of: Int.self) { group in
            for caller in 0..<4 {
                group.addTask {
                    var total = 0
                    for loop in 0..<200 {
                        let count = 5 + (loop + caller) % 40
                        let cells = UnsafeMutableBufferPointer<Int>.allocate(capacity: count)
                        cells.initialize(repeating: 0)
                        nonisolated(unsafe) let c = cells
                        ComputeThreads.$taskLimit.withValue(2) { parallelFor(count) { i in c[i] += i + 1 } }
                        total += cells.reduce(0, +) == count * (count + 1) / 2 ? 1 : 0
                        cells.deallocate()
                    }
                    return total
                }
            }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        // Then: every loop of every caller summed right
        #expect(sums == [200, 200, 200, 200])
    }
}
