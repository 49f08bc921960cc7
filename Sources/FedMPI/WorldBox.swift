// WorldBox: hands a finished MPIWorld to its communication thread, which starts before the world's init returns.
#if MPI
import Dispatch
import Synchronization

/// Hands the finished `MPIWorld` to its communication thread, which starts before the world's initialiser ends.
final class WorldBox: Sendable {
    private let world = Mutex<MPIWorld?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func publish(_ w: MPIWorld) {
        world.withLock { $0 = w }
        ready.signal()
    }

    func waitForWorld() -> MPIWorld {
        ready.wait()
        return world.withLock { $0! }
    }
}
#endif
