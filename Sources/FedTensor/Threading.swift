// Threading: how many cores kernels may use, and a static-partition parallel loop over them.
import Dispatch
import Foundation
import Synchronization

/// The number of threads a single kernel call may use. Defaults to the core count, or `FEDNOISE_THREADS`.
///
/// Work is always partitioned so that every output value is computed by exactly one thread in a fixed order:
/// results are bit-identical whatever this is set to.
public enum ComputeThreads {
    private static let storage = Atomic<Int>(initialValue())

    private static func initialValue() -> Int {
        // An invalid value falls back to the core count here; programs report it with `fromEnvironment`.
        if let n = try? fromEnvironment(ProcessInfo.processInfo.environment) { return n }
        return max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// The largest thread count `FEDNOISE_THREADS` (and the CLI's `--threads`) accepts.
    public static let maximum = 1024

    /// `FEDNOISE_THREADS` from `environment`: nil when unset; an error naming the variable when it is not a whole
    /// number in 1…`maximum` ("abc", "0", "-3", "1.5", "").
    public static func fromEnvironment(_ environment: [String: String]) throws(InvalidThreadCount) -> Int? {
        guard let text = environment["FEDNOISE_THREADS"] else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let n = Int(trimmed), n >= 1, n <= maximum else { throw InvalidThreadCount(text: text) }
        return n
    }

    /// A limit for the current task and its children only (e.g. 1 inside each of several clients training in
    /// parallel, so they do not each spread over every core). Set with `ComputeThreads.$taskLimit.withValue(…)`.
    @TaskLocal public static var taskLimit: Int?

    /// The current limit (≥ 1): the task's own limit if set, else the process-wide one.
    public static var count: Int {
        get { taskLimit ?? storage.load(ordering: .relaxed) }
        set { storage.store(max(1, newValue), ordering: .relaxed) }
    }

    /// Runs `body` with `threads` threads: as this task's own limit (which takes precedence for the calling task
    /// and its children, even if other code sets the process-wide count meanwhile) and as the process-wide count
    /// (which threads outside the task read); the process-wide value is restored afterwards (the value stored, not
    /// `count`, which inside another task limit would write that limit into the process-wide count).
    public static func with<R>(_ threads: Int, _ body: () throws -> R) rethrows -> R {
        let n = max(1, threads)
        let saved = storage.exchange(n, ordering: .relaxed)
        defer { storage.store(saved, ordering: .relaxed) }
        return try $taskLimit.withValue(n) { try body() }
    }
}

/// `FEDNOISE_THREADS` holds something other than a whole number of threads.
public struct InvalidThreadCount: Error, CustomStringConvertible, Equatable {
    public var text: String
    public init(text: String) { self.text = text }
    public var description: String {
        "environment variable FEDNOISE_THREADS must be a whole number in 1…\(ComputeThreads.maximum), got '\(text)'"
    }
}

/// Calls `body(i)` for every `i` in `0..<count`, spread over at most `ComputeThreads.count` threads
/// (or `threads` if given). Each index runs exactly once; `body` must only write state owned by index `i`.
/// The partitions run on `ComputePool.shared` when it is free (partition 0 on the calling thread), else through
/// `DispatchQueue.concurrentPerform`; which thread runs a partition never changes its bits.
@inlinable
public func parallelFor(_ count: Int, threads: Int? = nil, _ body: (Int) -> Void) {
    let workers = min(count, threads ?? ComputeThreads.count)
    if workers <= 1 {
        for i in 0..<count { body(i) }
        return
    }
    withoutActuallyEscaping(body) { escaping in
        // Each index is touched by one worker only (the contract above), so sharing `body` is safe.
        nonisolated(unsafe) let body = escaping
        if ComputePool.shared.run(workers: workers, count: count, body) { return }
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            for i in ComputePool.partition(w, of: workers, count: count) { body(i) }
        }
    }
}
