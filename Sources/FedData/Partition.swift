// Partition: seeded IID, McMahan-shard and Dirichlet splits of a dataset's indices across clients.
import FedTensor

/// An impossible partition request (more clients than samples, shards that do not divide, α ≤ 0, …).
public struct PartitionError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Pure, seeded partitioners. Each returns one index list per client such that every index in `0..<count`
/// appears in exactly one list, and each list is sorted ascending (order within a client carries no meaning:
/// ``BatchOrder`` shuffles per epoch). The same generator state gives the same partition on every platform, since
/// all draws go through ``RandomDraws``.
public enum Partition {
    /// IID: shuffle `0..<count` and deal consecutive runs of `count / clients` indices; the `count % clients`
    /// leftover indices go one each to the first clients, so sizes differ by at most one.
    /// - Throws: ``PartitionError`` if `clients < 1` or `clients > count`.
    public static func iid(
        count: Int, clients: Int, rng: inout some RandomNumberGenerator
    ) throws -> [[Int]] {
        guard clients >= 1 else { throw PartitionError("iid: need at least 1 client, got \(clients)") }
        guard count >= clients else {
            throw PartitionError("iid: \(clients) clients but only \(count) samples (more clients than samples)")
        }
        var order = Array(0..<count)
        RandomDraws.shuffle(&order, using: &rng)
        let base = count / clients, extra = count % clients
        var out: [[Int]] = []
        out.reserveCapacity(clients)
        var start = 0
        for k in 0..<clients {
            let size = base + (k < extra ? 1 : 0)
            out.append(order[start..<start + size].sorted())
            start += size
        }
        return out
    }

    /// McMahan et al.'s pathological non-IID split: sort the indices by label (ties by index, so the sort is
    /// stable), cut them into `clients · shardsPerClient` equal contiguous shards, and deal the shards to clients
    /// in a random order, `shardsPerClient` each.
    ///
    /// With equal-sized classes whose size is a multiple of the shard size, every shard holds one label and so a
    /// client holds at most `shardsPerClient` labels; with real class counts a few shards straddle two labels.
    /// - Throws: ``PartitionError`` if a count is not positive, a label is negative, or the shard count does not
    ///   divide the number of samples.
    public static func shards(
        labels: [some BinaryInteger], clients: Int, shardsPerClient: Int, rng: inout some RandomNumberGenerator
    ) throws -> [[Int]] {
        guard clients >= 1, shardsPerClient >= 1 else {
            throw PartitionError("shards: clients (\(clients)) and shardsPerClient (\(shardsPerClient)) must be ≥ 1")
        }
        let n = labels.count
        let (shardCount, overflow) = clients.multipliedReportingOverflow(by: shardsPerClient)
        guard !overflow, shardCount <= n else {
            throw PartitionError(
                "shards: \(clients) clients × \(shardsPerClient) shards needs at least that many samples, have \(n)")
        }
        guard n % shardCount == 0 else {
            throw PartitionError(
                "shards: \(shardCount) shards (\(clients) clients × \(shardsPerClient)) do not divide \(n) samples "
                    + "(remainder \(n % shardCount))")
        }
        let keys = try labels.map { l -> Int in
            guard l >= 0, let v = Int(exactly: l) else { throw PartitionError("shards: negative label \(l)") }
            return v
        }
        let sorted = (0..<n).sorted { keys[$0] != keys[$1] ? keys[$0] < keys[$1] : $0 < $1 }
        let shardSize = n / shardCount
        var shardOrder = Array(0..<shardCount)
        RandomDraws.shuffle(&shardOrder, using: &rng)
        return (0..<clients).map { k in
            var mine: [Int] = []
            mine.reserveCapacity(shardsPerClient * shardSize)
            for s in shardOrder[k * shardsPerClient..<(k + 1) * shardsPerClient] {
                mine += sorted[s * shardSize..<(s + 1) * shardSize]
            }
            return mine.sorted()
        }
    }

    /// Label-skewed split from a Dirichlet prior (Hsu et al. 2019): for each class, draw client proportions
    /// p ~ Dirichlet(α, …, α) (Gamma draws by Marsaglia–Tsang, with the α < 1 boost), shuffle the class's
    /// indices and cut them at the cumulative proportions. Small α gives few classes per client; large α
    /// approaches IID.
    ///
    /// The whole split is redrawn until every client has at least `minimumSize` samples, up to `maxAttempts`
    /// times. **Fallback:** if no attempt succeeds, the last attempt is repaired by moving randomly chosen
    /// samples from the currently largest client to each client below `minimumSize`, which always succeeds
    /// because `clients · minimumSize ≤ count` is required.
    /// - Throws: ``PartitionError`` if `alpha ≤ 0` (or not finite), `clients < 1`, `maxAttempts < 1`, a label is
    ///   negative, or `clients · minimumSize` exceeds the number of samples.
    public static func dirichlet(
        labels: [some BinaryInteger], clients: Int, alpha: Double, rng: inout some RandomNumberGenerator,
        minimumSize: Int = 1, maxAttempts: Int = 1000
    ) throws -> [[Int]] {
        guard alpha > 0, alpha.isFinite else { throw PartitionError("dirichlet: alpha must be > 0, got \(alpha)") }
        guard clients >= 1 else { throw PartitionError("dirichlet: need at least 1 client, got \(clients)") }
        guard maxAttempts >= 1 else { throw PartitionError("dirichlet: maxAttempts must be ≥ 1") }
        let n = labels.count
        let minimum = max(0, minimumSize)
        guard clients <= n, clients * minimum <= n else {
            throw PartitionError(
                "dirichlet: \(clients) clients with at least \(minimum) samples each need \(clients * max(1, minimum)) "
                    + "samples, have \(n)")
        }
        var byClass: [[Int]] = []
        for (i, l) in labels.enumerated() {
            guard l >= 0, let c = Int(exactly: l) else { throw PartitionError("dirichlet: negative label \(l)") }
            if c >= byClass.count { byClass += Array(repeating: [], count: c + 1 - byClass.count) }
            byClass[c].append(i)
        }
        var parts: [[Int]] = []
        for _ in 0..<maxAttempts {
            parts = Array(repeating: [], count: clients)
            for var members in byClass where !members.isEmpty {
                RandomDraws.shuffle(&members, using: &rng)
                let p = RandomDraws.dirichlet(alpha: alpha, count: clients, using: &rng)
                var cumulative = 0.0, start = 0
                for k in 0..<clients {
                    cumulative += p[k]
                    let end = k == clients - 1 ? members.count : min(members.count, Int(cumulative * Double(members.count)))
                    if end > start { parts[k] += members[start..<end] }
                    start = max(start, end)
                }
            }
            if parts.allSatisfy({ $0.count >= minimum }) { return parts.map { $0.sorted() } }
        }
        // Fallback: top up small clients from the largest one.
        for k in 0..<clients {
            while parts[k].count < minimum {
                let donor = parts.indices.max { parts[$0].count < parts[$1].count }!
                let j = RandomDraws.index(below: parts[donor].count, using: &rng)
                parts[donor].swapAt(j, parts[donor].count - 1)
                parts[k].append(parts[donor].removeLast())
            }
        }
        return parts.map { $0.sorted() }
    }
}
