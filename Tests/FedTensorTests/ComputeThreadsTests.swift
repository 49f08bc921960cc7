// ComputeThreadsTests: `with` sets the task's own limit and the process-wide count, and restores what was stored.
import FedTensor
import Testing

// The process-wide count is shared with every suite running meanwhile (their `with` calls set it too), so this reads
// it only to check that it never holds this test's own odd task limit, 37.
@Suite struct ComputeThreadsTests {
    @Test func withBindsTheTaskLimitSeenByChildTasksAndRestoresTheStoredCount() async {
        let processWide = { ComputeThreads.$taskLimit.withValue(nil) { ComputeThreads.count } }
        ComputeThreads.$taskLimit.withValue(37) {
            // Given: an enclosing task limit of 37
            let inner = ComputeThreads.with(3) { () -> (Int, Int?) in
                // When: `with(3)` runs, its own task sees 3, as a task limit
                (ComputeThreads.count, ComputeThreads.taskLimit)
            }
            #expect(inner.0 == 3 && inner.1 == 3)
            // Then: the enclosing limit is back, and the process-wide count is not 37 (the old `with` saved `count`,
            // the enclosing task limit, and wrote it into the process-wide count)
            #expect(ComputeThreads.count == 37)
            #expect(processWide() != 37)
        }
        // And: a task started inside `with` sees its count even after `with` has restored the process-wide count
        let started = ComputeThreads.with(5) { () -> Task<Int, Never> in
            Task { ComputeThreads.count }
        }
        #expect(await started.value == 5)
        #expect(ComputeThreads.with(0) { ComputeThreads.count } == 1)  // at least one thread
    }
}
