// RoundWatch: which round a run is in and whose uploads it still waits for, for messages when the run is stopped.
import FedRuntime
import Synchronization

/// Follows a federation's events (``observe(_:)``) so that a run ended from outside (`mpirun` tearing the job down
/// after a rank died, a scheduler's SIGTERM) can say where it was: the round, and which hosts' clients had not
/// uploaded yet. `host(client)` names where a client runs (an MPI rank); clients are grouped by it.
public final class RoundWatch: Sendable {
    private struct State {
        var round = 0
        var sampled: [Int] = []
        var uploaded: Set<Int> = []
    }
    private let state = Mutex(State())
    private let rounds: Int
    private let host: @Sendable (Int) -> String

    /// A watch for a run of `rounds` rounds; `host` names where client `k` runs (e.g. `"rank 2"`).
    public init(rounds: Int, host: @escaping @Sendable (Int) -> String) {
        self.rounds = rounds
        self.host = host
    }

    /// Records one event of the run.
    public func observe(_ event: FederationEvent) {
        state.withLock { s in
            switch event {
            case .roundStarted(let round, let sampled):
                s.round = round
                s.sampled = sampled
                s.uploaded = []
            case .uploadReceived(_, let client): s.uploaded.insert(client)
            case .roundCompleted, .finished: break
            }
        }
    }

    /// `round 105/300, waiting for uploads from rank 2 (clients 5, 6, 8)`, or `before round 1/300`.
    public var summary: String {
        let (round, waiting) = state.withLock { s in (s.round, s.sampled.filter { !s.uploaded.contains($0) }) }
        guard round > 0 else { return "before round 1/\(rounds)" }
        guard !waiting.isEmpty else { return "round \(round)/\(rounds), every upload received" }
        var groups: [(host: String, clients: [Int])] = []
        for client in waiting {
            let name = host(client)
            if let i = groups.firstIndex(where: { $0.host == name }) { groups[i].clients.append(client) }
            else { groups.append((name, [client])) }
        }
        let parts = groups.map { group -> String in
            let shown = group.clients.prefix(8).map(String.init).joined(separator: ", ")
            let more = group.clients.count > 8 ? ", … \(group.clients.count) in all" : ""
            return "\(group.host) (client\(group.clients.count == 1 ? "" : "s") \(shown)\(more))"
        }
        return "round \(round)/\(rounds), waiting for uploads from " + parts.joined(separator: ", ")
    }
}
