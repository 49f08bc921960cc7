// InterruptWatch: SIGINT and SIGTERM during a run ask it to stop after the current round; a second one aborts.
import Dispatch
import FedRuntime
import Foundation
import Synchronization

/// While alive, SIGINT and SIGTERM no longer kill the process: the first one requests `stop` (the run finishes its
/// round, writes its results and a checkpoint, and exits with 128 + the signal), a second one exits at once with
/// that status. The signals are received by DispatchSource handlers on a private queue (the default action is set
/// to SIG_IGN so the kernel queues them for the sources); the only shared state is atomic.
final class InterruptWatch: Sendable {
    let stop = StopRequest()
    /// The first signal received, and how many came.
    private final class Tally: Sendable {
        let received = Atomic<Int32>(0)
        let count = Atomic<Int>(0)
        /// What the first signal's message says after the signal's name (set under MPI, where a SIGTERM usually
        /// means `mpirun` is ending the job because a rank died, so the message says where the run was).
        let context = Mutex<(@Sendable () -> String)?>(nil)
    }
    private let tally = Tally()
    // Created once in init and only cancelled in `end()`; Dispatch sources are thread-safe objects.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]

    /// Replaces what the first signal's message says after the signal's name (default: what the run will do).
    func describe(_ text: @escaping @Sendable () -> String) { tally.context.withLock { $0 = text } }

    init(label: String) {
        let queue = DispatchQueue(label: "fednoise.signals")
        var sources: [any DispatchSourceSignal] = []
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [stop, tally] in
                if tally.count.add(1, ordering: .sequentiallyConsistent).newValue == 1 {
                    tally.received.store(number, ordering: .sequentiallyConsistent)
                    stop.request()
                    let text = tally.context.withLock { $0 }?() ?? ": finishing the current round, then writing "
                        + "rounds.csv, summary.json and a checkpoint"
                    writeError("\n[\(label)] \(name)\(text) (\(name) again aborts at once)\n")
                } else {
                    writeError("[\(label)] \(name) again: aborting without writing\n")
                    _exit(128 + number)  // no atexit handlers: other threads are still training
                }
            }
            source.resume()
            sources.append(source)
        }
        self.sources = sources
    }

    /// The exit status for an interrupted run: 128 + the signal (130 for SIGINT, 143 for SIGTERM).
    var status: Int32 {
        let n = tally.received.load(ordering: .sequentiallyConsistent)
        return 128 + (n == 0 ? SIGINT : n)
    }

    /// Gives the signals back their default action.
    func end() {
        for s in sources { s.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}

/// A run stopped by a signal (or a `StopRequest`) after writing its results and a checkpoint.
public struct RunInterrupted: Error, CustomStringConvertible {
    /// The exit status: 128 + the signal.
    public var status: Int32
    public var description: String
}
