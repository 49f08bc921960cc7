// PeerSilence: when each peer rank was last heard from, and which to name once one has been silent too long.
import Foundation

/// The bookkeeping of ``RankHeartbeat`` (pure, and built without the MPI trait so that it is tested everywhere).
///
/// Peers are expected every `interval` seconds. Once any peer has been silent for `limit` seconds, every peer that
/// has missed at least one beat (silent for 2 × `interval` or more) is named, longest silent first: a dead rank
/// stops sending, but a receiving path stalled on it (a single-copy read from the dead process) also silences the
/// live ranks, and the one silent longest is then not always the dead one.
public struct PeerSilence: Sendable {
    public let interval: Double, limit: Double
    private var last: [Int: ContinuousClock.Instant]

    /// Peers count as heard from at `start`; `limit` > `interval` > 0 (seconds).
    public init(peers: [Int], interval: Double, limit: Double, start: ContinuousClock.Instant) {
        precondition(interval > 0 && limit > interval)
        self.interval = interval
        self.limit = limit
        last = Dictionary(peers.map { ($0, start) }, uniquingKeysWith: { a, _ in a })
    }

    /// Notes a beat from `rank` (ignored unless it is a peer).
    public mutating func heard(_ rank: Int, at time: ContinuousClock.Instant) {
        if let previous = last[rank], previous < time { last[rank] = time }
    }

    /// Empty while every peer was heard from within `limit` seconds; otherwise every peer silent for
    /// min(`limit`, 2 × `interval`) seconds or more, longest first, then by rank.
    public func silent(now: ContinuousClock.Instant) -> [(rank: Int, seconds: Double)] {
        let silences = last.map { (rank: $0.key, seconds: (now - $0.value) / .seconds(1)) }
        guard silences.contains(where: { $0.seconds >= limit }) else { return [] }
        let missedABeat = min(limit, 2 * interval)
        return silences.filter { $0.seconds >= missedABeat }
            .sorted { ($1.seconds, $0.rank) < ($0.seconds, $1.rank) }
    }

    /// Whether every peer is in `silent` (then this rank's own receiving may be what stalls).
    public func isEveryPeer(_ silent: [(rank: Int, seconds: Double)]) -> Bool {
        !last.isEmpty && silent.count == last.count
    }
}
