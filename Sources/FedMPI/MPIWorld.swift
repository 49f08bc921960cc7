// MPIWorld: this process's MPI rank, and the one thread that makes every MPI call (only with the package trait MPI).
#if MPI
import CMPI
import Foundation
import Synchronization

/// MPI in this process: its rank and the size of `MPI_COMM_WORLD`, and a communication thread that owns the
/// library. That thread initialises MPI (`MPI_THREAD_FUNNELED` is enough: no other thread ever calls it), posts
/// queued frames with `MPI_Isend` in queue order, polls `MPI_Iprobe`/`MPI_Recv` for arriving ones and hands each
/// to the channel its tag names. MPI's non-overtaking rule (MPI 4.0 §3.5) keeps frames from one rank to another on
/// one tag in order, which is what a transport's FIFO-per-pair guarantee needs.
///
/// Idle, the thread yields, then sleeps between polls, backing off from 50 µs to 1 ms, so it costs little CPU
/// beside training and adds at most a millisecond to a message that arrives after a quiet spell.
public final class MPIWorld: Sendable {
    /// This process's rank in `MPI_COMM_WORLD`.
    public let rank: Int
    /// The number of ranks.
    public let size: Int

    /// Frames received for one channel: (source rank, bytes). Called on the communication thread: must be quick.
    typealias Handler = @Sendable (Int, Data) -> Void

    private struct Outgoing {
        var tag: Int32, destination: Int32
        var bytes: Data
    }

    private struct State {
        var outgoing: [Outgoing] = []
        var handlers: [Int32: Handler] = [:]
        var nextTag: Int32 = 1
        var stopRequested = false, dropped = 0
        /// Tasks waiting in ``MPIWorld/barrier()``, first one served first (one MPI barrier at a time).
        var barrierWaiters: [CheckedContinuation<Void, any Error>] = []
    }

    private let state = Mutex(State())
    private let stopped = DispatchSemaphore(value: 0)

    private static let sharedWorld = Mutex<Result<MPIWorld, MPIError>?>(nil)

    /// The process's MPI world, initialising MPI on first use (under `mpirun`/`srun` this rank; alone, a world of
    /// one). MPI is finalized by ``finalize()`` or at process exit.
    public static func shared() throws(MPIError) -> MPIWorld {
        let result = sharedWorld.withLock { world -> Result<MPIWorld, MPIError> in
            if let world { return world }
            let made = Result { () throws(MPIError) in try MPIWorld() }
            world = made
            if case .success = made { atexit { MPIWorld.finalizeAtExit() } }
            return made
        }
        return try result.get()
    }

    private static func finalizeAtExit() {
        if case .success(let world)? = sharedWorld.withLock({ $0 }) { world.finalize() }
    }

    private init() throws(MPIError) {
        let started = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<(Int, Int), MPIError>?>(nil)
        // Filled in by the thread before it signals `started`; the thread reads `self` only after that.
        let box = WorldBox()
        let thread = Thread {
            var provided: Int32 = 0, rank: Int32 = 0, size: Int32 = 1
            var failure: MPIError?
            var code = fednoise_mpi_init(&provided)
            if code != fednoise_mpi_success() {
                failure = .call("MPI_Init_thread", code: code, message: MPIWorld.errorText(code))
            } else if provided < fednoise_mpi_thread_funneled() {
                failure = .threadSupport(provided: provided)
            } else {
                code = fednoise_mpi_rank_size(&rank, &size)
                if code != fednoise_mpi_success() {
                    failure = .call("MPI_Comm_rank", code: code, message: MPIWorld.errorText(code))
                }
            }
            outcome.withLock { $0 = failure.map { .failure($0) } ?? .success((Int(rank), Int(size))) }
            started.signal()
            guard failure == nil else { return }
            box.waitForWorld().run()
        }
        thread.name = "fednoise-mpi"
        thread.start()
        started.wait()
        switch outcome.withLock({ $0 })! {
        case .failure(let error): throw error
        case .success(let (rank, size)): (self.rank, self.size) = (rank, size)
        }
        box.publish(self)
    }

    /// A new channel: frames sent on it reach `handler` at the destination rank, where a channel must have been
    /// opened in the same order (transports made in the same order on every rank get the same tags).
    func openChannel(_ handler: @escaping Handler) throws(MPIError) -> Int32 {
        try state.withLock { (s) throws(MPIError) -> Int32 in
            if s.stopRequested { throw .finalized }
            let tag = s.nextTag
            s.nextTag += 1
            s.handlers[tag] = handler
            return tag
        }
    }

    /// Queues `bytes` for `destination` on channel `tag`; frames leave in queue order.
    func post(_ bytes: Data, to destination: Int, tag: Int32) throws(MPIError) {
        guard bytes.count <= Int(Int32.max) else { throw .frameTooLarge(bytes.count) }
        try state.withLock { (s) throws(MPIError) in
            if s.stopRequested { throw .finalized }
            s.outgoing.append(Outgoing(tag: tag, destination: Int32(destination), bytes: bytes))
        }
    }

    /// Waits until every rank has called `barrier()` (as many times): e.g. after registering endpoints, before
    /// sending to them. Frames keep flowing meanwhile.
    public func barrier() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let refused = state.withLock { s -> Bool in
                if s.stopRequested { return true }
                s.barrierWaiters.append(continuation)
                return false
            }
            if refused { continuation.resume(throwing: MPIError.finalized) }
        }
    }

    /// Ends every rank with `code` (`MPI_Abort`): for a rank that cannot go on, so that the others do not wait for
    /// it forever. Does not return.
    public func abort(code: Int32) -> Never {
        _ = fednoise_mpi_abort(code)
        exit(code)
    }

    /// Frames that arrived for a channel never opened here (each is also reported on standard error).
    public var droppedFrames: Int { state.withLock { $0.dropped } }

    /// Sends what is queued, stops the communication thread and finalizes MPI (`MPI_Finalize` is collective: every
    /// rank must call it). Idempotent; later transports throw ``MPIError/finalized``.
    public func finalize() {
        let wait = state.withLock { s -> Bool in
            if s.stopRequested { return false }
            s.stopRequested = true
            return true
        }
        if wait { stopped.wait() }
    }

    /// The communication loop: post, complete, receive, until asked to stop with nothing left to send.
    private func run() {
        let requestBytes = fednoise_mpi_request_size()
        // Each frame in flight: its MPI_Request and its bytes (kept until MPI is done with them).
        var inflight: [(request: UnsafeMutableRawPointer, bytes: Data, owned: UnsafeMutableRawBufferPointer?)] = []
        var barrierRequest: UnsafeMutableRawPointer?
        var idlePolls = 0
        while true {
            var progressed = false
            let (batch, stop) = state.withLock { s -> ([Outgoing], Bool) in
                defer { s.outgoing.removeAll(keepingCapacity: true) }
                return (s.outgoing, s.stopRequested)
            }
            for frame in batch {
                // MPI reads the bytes until the send completes. A large frame is sent from its own Data, kept
                // unmodified in `inflight` until then (Data keeps anything beyond a few bytes in heap storage that
                // does not move); a small one (below 64 bytes, which Data may hold inline) is copied to a buffer.
                let request = UnsafeMutableRawPointer.allocate(byteCount: requestBytes, alignment: 16)
                var owned: UnsafeMutableRawBufferPointer?
                let code: Int32
                if frame.bytes.count < 64 {
                    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, frame.bytes.count), alignment: 16)
                    frame.bytes.withUnsafeBytes { if let base = $0.baseAddress, $0.count > 0 { copy.baseAddress!.copyMemory(from: base, byteCount: $0.count) } }
                    owned = copy
                    code = fednoise_mpi_isend(copy.baseAddress, Int32(frame.bytes.count), frame.destination, frame.tag,
                                              request)
                } else {
                    code = frame.bytes.withUnsafeBytes {
                        fednoise_mpi_isend($0.baseAddress, Int32($0.count), frame.destination, frame.tag, request)
                    }
                }
                if code != fednoise_mpi_success() {
                    report("MPI_Isend to rank \(frame.destination) failed: \(MPIWorld.errorText(code))")
                    request.deallocate()
                    owned?.deallocate()
                } else {
                    inflight.append((request, frame.bytes, owned))
                }
                progressed = true
            }
            var i = 0
            while i < inflight.count {
                var done: Int32 = 0
                let code = fednoise_mpi_test(inflight[i].request, &done)
                if code != fednoise_mpi_success() {
                    // A request MPI cannot complete would otherwise keep the thread (and finalize) waiting forever.
                    report("a send failed while in flight: \(MPIWorld.errorText(code))")
                }
                if done != 0 || code != fednoise_mpi_success() {
                    inflight[i].request.deallocate()
                    inflight[i].owned?.deallocate()
                    inflight.swapAt(i, inflight.count - 1)
                    inflight.removeLast()
                    progressed = true
                } else {
                    i += 1
                }
            }
            while receiveOne() { progressed = true }
            progressed = serveBarrier(&barrierRequest, requestBytes: requestBytes) || progressed
            if stop && inflight.isEmpty && barrierRequest == nil && state.withLock({ $0.outgoing.isEmpty }) { break }
            if progressed {
                idlePolls = 0
            } else {
                idlePolls += 1
                // Yield briefly, then back off from 50 µs to 1 ms between polls: a thread that woke 20,000 times a
                // second cost the training threads of a 2-core host ≈ 20% of a round (measured, README "MPI").
                if idlePolls < 64 { sched_yield() } else { usleep(UInt32(min(1_000, 50 << min(5, (idlePolls - 64) / 64)))) }
            }
        }
        let stranded = state.withLock { s in
            defer { s.barrierWaiters.removeAll() }
            return s.barrierWaiters
        }
        for waiter in stranded { waiter.resume(throwing: MPIError.finalized) }
        // Let every rank finish sending before any finalizes; frames that arrive meanwhile are still delivered.
        let barrier = UnsafeMutableRawPointer.allocate(byteCount: requestBytes, alignment: 16)
        defer { barrier.deallocate() }
        var done: Int32 = 0
        if fednoise_mpi_ibarrier(barrier) != fednoise_mpi_success() { done = 1 }
        while done == 0 {
            // An error ends the wait too: finalizing is all that is left to do.
            if fednoise_mpi_test(barrier, &done) != fednoise_mpi_success() { done = 1 }
            if !receiveOne() && done == 0 { usleep(50) }
        }
        while receiveOne() {}
        _ = fednoise_mpi_finalize()
        stopped.signal()
    }

    /// Starts an MPI barrier for the first waiting task, or completes the one in progress and resumes it.
    private func serveBarrier(_ request: inout UnsafeMutableRawPointer?, requestBytes: Int) -> Bool {
        if let pending = request {
            var done: Int32 = 0
            let code = fednoise_mpi_test(pending, &done)
            guard done != 0 || code != fednoise_mpi_success() else { return false }
            pending.deallocate()
            request = nil
            let waiter = state.withLock { $0.barrierWaiters.isEmpty ? nil : $0.barrierWaiters.removeFirst() }
            if code == fednoise_mpi_success() {
                waiter?.resume()
            } else {
                waiter?.resume(throwing: MPIError.call("MPI_Ibarrier", code: code, message: MPIWorld.errorText(code)))
            }
            return true
        }
        guard state.withLock({ !$0.barrierWaiters.isEmpty }) else { return false }
        let pending = UnsafeMutableRawPointer.allocate(byteCount: requestBytes, alignment: 16)
        let code = fednoise_mpi_ibarrier(pending)
        if code != fednoise_mpi_success() {
            pending.deallocate()
            let waiter = state.withLock { $0.barrierWaiters.removeFirst() }
            waiter.resume(throwing: MPIError.call("MPI_Ibarrier", code: code, message: MPIWorld.errorText(code)))
        } else {
            request = pending
        }
        return true
    }

    /// Receives one waiting frame, if any, and hands it to its channel. Returns whether one was there.
    private func receiveOne() -> Bool {
        var flag: Int32 = 0, source: Int32 = 0, tag: Int32 = 0, count: Int32 = 0
        let probe = fednoise_mpi_iprobe(&flag, &source, &tag, &count)
        guard probe == fednoise_mpi_success(), flag != 0 else { return false }
        // Into an uninitialised buffer the Data then owns (zeroing it would be one more pass over a whole model).
        let length = Int(max(0, count))
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, length), alignment: 16)
        let code = fednoise_mpi_recv(buffer, count, source, tag)
        if code != fednoise_mpi_success() {
            buffer.deallocate()
            report("MPI_Recv from rank \(source) failed: \(MPIWorld.errorText(code))")
            return true
        }
        let bytes = Data(bytesNoCopy: buffer, count: length, deallocator: .custom { pointer, _ in pointer.deallocate() })
        let handler = state.withLock { s -> Handler? in
            let h = s.handlers[tag]
            if h == nil { s.dropped += 1 }
            return h
        }
        if let handler {
            handler(Int(source), bytes)
        } else {
            report("dropped a frame of \(count) bytes from rank \(source) for channel \(tag), never opened on rank \(rank)")
        }
        return true
    }

    private func report(_ text: String) {
        FileHandle.standardError.write(Data("FedMPI rank \(rank): \(text)\n".utf8))
    }
}
#endif
