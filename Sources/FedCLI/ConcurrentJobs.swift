// ConcurrentJobs: runs independent jobs (study cells, sweep runs) N at a time, splitting the compute threads.
import FedTensor

/// `--jobs N` of `paradox` and `sweep`: at most `limit` jobs at once, each with ⌊threads / running⌋ compute
/// threads (at least 1) as its `ComputeThreads.taskLimit`, so concurrent federations share the cores instead of
/// each spreading over all of them. Every job is deterministic whatever its thread count, so the results equal a
/// sequential run's; they come back in the jobs' order.
enum ConcurrentJobs {
    /// Bounds of `--jobs`.
    static let range = 1...64

    /// Compute threads per job when `jobs` run at once on `threads` threads.
    static func threadsPerJob(threads: Int, jobs: Int) -> Int { max(1, threads / max(1, jobs)) }

    /// Runs `work(i)` for every `i` in `0..<count`, at most `limit` at once; `finished(i, result)` is called on the
    /// caller's task as each completes (in completion order, for progress and partial files). After a failure no
    /// further job starts (those running finish). Returns the results in index order, nil for jobs never started.
    static func run<T: Sendable>(
        count: Int, limit: Int, work: @escaping @Sendable (Int) async throws -> T,
        finished: (Int, Result<T, any Error>) throws -> Void = { _, _ in }
    ) async throws -> [Result<T, any Error>?] {
        let width = max(1, min(limit, count))
        let threads = threadsPerJob(threads: ComputeThreads.count, jobs: width)
        var results = [Result<T, any Error>?](repeating: nil, count: count)
        try await withThrowingTaskGroup(of: (Int, Result<T, any Error>).self) { group in
            var next = 0
            func start() {
                let i = next
                next += 1
                group.addTask {
                    do {
                        let value = try await ComputeThreads.$taskLimit.withValue(threads) { try await work(i) }
                        return (i, .success(value))
                    } catch {
                        return (i, .failure(error))
                    }
                }
            }
            while next < min(width, count) { start() }
            var failed = false
            while let (i, result) = try await group.next() {
                results[i] = result
                if case .failure = result { failed = true }
                try finished(i, result)
                if !failed && next < count { start() }
            }
        }
        return results
    }
}
