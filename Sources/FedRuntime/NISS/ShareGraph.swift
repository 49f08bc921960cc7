// ShareGraph: the tracker's random neighbour lists for NISS: every client sends v_k shares and receives v_k, none to itself.
import FedTensor

/// Who sends which share to whom in one NISS round attempt (spec B.11 item 4).
///
/// The paper's "send −n_i to u_i, receive r_i from u_i" asks for a directed multigraph in which client k has
/// out-degree and in-degree v_k and no self-loops: then each client receives exactly as many shares as it sends, so
/// each upload alone carries variance 2σ_k² (τ = 0) and Theorem 2's aggregate variance is exactly Σ σ²·v_k·τ_k². The
/// tracker builds it by matching out-stubs to a shuffled list of in-stubs with its own generator, then swapping away
/// self-matches (each swap keeps both positions valid, so one pass suffices whenever every v_k ≤ Σ_{l≠k} v_l).
public enum ShareGraph {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// One client needs more partners' slots than all the others together offer.
        case infeasible(client: Int, shares: Int, others: Int)

        public var description: String {
            switch self {
            case let .infeasible(client, shares, others):
                "client \(client) needs \(shares) share partners but the other participants receive only \(others)"
            }
        }
    }

    /// Checks that a graph exists for these share counts.
    public static func checkFeasible(_ shares: [Int: Int]) throws(Failure) {
        // Saturating: share counts near Int.max (a tiny σ²) must be reported, not trap on overflow.
        let total = shares.values.reduce(0) { $0.addingReportingOverflow($1).overflow ? Int.max : $0 + $1 }
        for (client, v) in shares.sorted(by: { $0.key < $1.key }) where v > total - v || total == Int.max {
            throw .infeasible(client: client, shares: v, others: total - v)
        }
    }

    /// Each client's assignment: `targets[i]` receives its share i; `incoming` lists what it receives, ascending.
    public static func assign(shares: [Int: Int], round: Int, attempt: Int,
                              key: StreamKey) throws(Failure) -> [Int: NeighbourAssignment] {
        try checkFeasible(shares)
        let clients = shares.keys.sorted()
        var outStubs: [ShareID] = []
        var inStubs: [Int] = []
        for c in clients {
            for i in 0..<shares[c]! { outStubs.append(ShareID(from: c, index: i)) }
            inStubs.append(contentsOf: repeatElement(c, count: shares[c]!))
        }
        var rng = Philox(key)
        RandomDraws.shuffle(&inStubs, using: &rng)
        let n = inStubs.count
        for p in 0..<n where inStubs[p] == outStubs[p].from {
            let c = outStubs[p].from
            let start = RandomDraws.index(below: n, using: &rng)
            for step in 0..<n {
                let q = (start + step) % n
                if inStubs[q] != c && outStubs[q].from != c {
                    inStubs.swapAt(p, q)
                    break
                }
            }
        }
        var result: [Int: NeighbourAssignment] = [:]
        for c in clients {
            result[c] = NeighbourAssignment(round: round, attempt: attempt, client: c,
                                            targets: [Int](repeating: -1, count: shares[c]!), incoming: [])
        }
        for p in 0..<n {
            let id = outStubs[p]
            precondition(inStubs[p] != id.from, "share graph kept a self-loop")
            result[id.from]!.targets[id.index] = inStubs[p]
            result[inStubs[p]]!.incoming.append(id)
        }
        for c in clients { result[c]!.incoming.sort() }
        return result
    }
}
