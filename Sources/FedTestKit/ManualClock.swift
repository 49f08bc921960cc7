// ManualClock: a FederationClock that moves only when a test says so, so every deadline path runs with no real sleep.
import FedRuntime
import Synchronization

/// A clock for tests: `now` starts at 0 and changes only through `advance(by:)`, which wakes every sleeper whose
/// time has come. Give it to `Federation(…, clock:)` to drive deadlines, redos and skips deterministically.
///
/// ```swift
/// let clock = ManualClock()
/// let federation = try Federation(configuration: config, train: train, test: test, clock: clock)
/// async let summary = federation.run()
/// await clock.waitForSleepers(1)   // the round's deadline timer is armed
/// clock.advance(by: 30)            // …and fires
/// ```
public final class ManualClock: FederationClock {
    private struct Sleeper {
        var id: Int
        var wake: Double
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = 0.0
        var nextID = 0
        var sleepers: [Sleeper] = []
    }

    private let state = Mutex(State())

    public init() {}

    public var now: Double { state.withLock { $0.now } }

    /// How many tasks are sleeping on this clock.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    public func sleep(seconds: Double) async throws {
        let id = state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool = state.withLock { s in
                    if Task.isCancelled { return true }
                    s.sleepers.append(Sleeper(id: id, wake: s.now + max(seconds, 0), continuation: c))
                    return false
                }
                if resumeNow { c.resume(throwing: CancellationError()) }
            }
        } onCancel: {
            let cancelled = state.withLock { s -> Sleeper? in
                guard let i = s.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return s.sleepers.remove(at: i)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes the sleepers whose time has come, earliest first.
    public func advance(by seconds: Double) {
        let due = state.withLock { s -> [Sleeper] in
            s.now += seconds
            let now = s.now
            let due = s.sleepers.filter { $0.wake <= now }.sorted { ($0.wake, $0.id) < ($1.wake, $1.id) }
            s.sleepers.removeAll { $0.wake <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Waits (yielding, at most `maximumYields` times) until at least `count` tasks sleep on this clock; returns
    /// whether they do.
    @discardableResult
    public func waitForSleepers(_ count: Int, maximumYields: Int = 1_000_000) async -> Bool {
        for _ in 0..<maximumYields {
            if sleeperCount >= count { return true }
            await Task.yield()
        }
        return sleeperCount >= count
    }
}
