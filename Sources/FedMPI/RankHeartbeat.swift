// RankHeartbeat: ranks tell each other they are alive each second; a rank that falls silent is named.
#if MPI
import Foundation
import Synchronization

/// Liveness of the ranks of an MPI job, for launchers that do not end a job when one of its processes dies (Slurm's
/// `srun` without `--kill-on-bad-exit`, `mpirun --mca orte_enable_recovery 1`): without it rank 0 would wait for
/// the dead rank's clients for ever, or a client rank for a dead rank 0.
///
/// A rank sends a one-byte frame to each of its `peers` every `interval`, from a thread of its own (training never
/// delays it; MPI's communication thread sends it), notes when it last heard from each, and, on that thread, calls
/// `silent(peers, everyPeer)` once when a peer has not been heard from for `limit` seconds, with the peers
/// ``PeerSilence`` names (longest silent first) and whether that is every peer. Peers must be symmetric
/// (rank 0 lists the ranks that host clients, each of those lists rank 0; a rank with nothing to do lists none).
/// Every rank must create it at the same point (it opens an MPI channel, like a transport).
public final class RankHeartbeat: Sendable {
    private let stopped = Flag()

    /// Starts the heartbeat (`limit` > `interval`, both in seconds).
    public init(world: MPIWorld, peers: [Int], interval: Double = 1, limit: Double,
                silent: @escaping @Sendable (_ peers: [(rank: Int, seconds: Double)], _ everyPeer: Bool) -> Void)
        throws(MPIError) {
        precondition(interval > 0 && limit > interval)
        let heard = HeardFrom(PeerSilence(peers: peers, interval: interval, limit: limit, start: .now))
        let tag = try world.openChannel { source, _ in heard.note(source) }
        let stopped = self.stopped
        let thread = Thread {
            while !stopped.isSet {
                for peer in peers {
                    do { try world.post(Data([1]), to: peer, tag: tag) } catch { return }  // finalized
                }
                Thread.sleep(forTimeInterval: interval)
                if stopped.isSet { return }
                let (named, everyPeer) = heard.silent(now: .now)
                if !named.isEmpty {
                    silent(named, everyPeer)
                    return
                }
            }
        }
        thread.name = "mpi-heartbeat"
        thread.start()
    }

    /// Stops sending and watching: call it when this rank's part of the federation is over, before
    /// ``MPIWorld/finalize()`` (the others may then stop hearing from it).
    public func stop() { stopped.set() }

    deinit { stop() }
}

/// A flag set once, read from any thread.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}

/// ``PeerSilence`` behind a lock (beats are noted on the communication thread, read on the heartbeat's).
private final class HeardFrom: Sendable {
    private let silence: Mutex<PeerSilence>

    init(_ silence: PeerSilence) { self.silence = Mutex(silence) }

    func note(_ rank: Int) {
        let now = ContinuousClock.now
        silence.withLock { $0.heard(rank, at: now) }
    }

    func silent(now: ContinuousClock.Instant) -> ([(rank: Int, seconds: Double)], Bool) {
        silence.withLock { s in
            let named = s.silent(now: now)
            return (named, s.isEveryPeer(named))
        }
    }
}
#endif
