// PartitionTests: IID, McMahan shard and Dirichlet partitions: exact cover, sizes, skew, determinism, errors.
import FedData
import FedTensor
import Foundation
import Testing

@Suite struct PartitionTests {
    /// 2,000 labels, 200 per class, in an interleaved order.
    static let balanced: [Int32] = (0..<2000).map { Int32(($0 * 7) % 10) }
    static let mnistLabels: [Int32] = (try? DatasetLoader.embeddedMNIST(normalization: .none).train.labels) ?? []

    @Test func iidSizesCoverAndDeterminism() throws {
        var rng = Philox(seed: 1, 0)
        let parts = try Partition.iid(count: 2000, clients: 100, rng: &rng)
        #expect(parts.count == 100 && parts.allSatisfy { $0.count == 20 })
        expectExactCover(parts, count: 2000)

        var r2 = Philox(seed: 1, 0)
        let uneven = try Partition.iid(count: 1003, clients: 10, rng: &r2)
        #expect(uneven.map(\.count) == [101, 101, 101, 100, 100, 100, 100, 100, 100, 100])
        expectExactCover(uneven, count: 1003)

        var same = Philox(seed: 1, 0), other = Philox(seed: 2, 0)
        #expect(try Partition.iid(count: 2000, clients: 100, rng: &same) == parts)
        #expect(try Partition.iid(count: 2000, clients: 100, rng: &other) != parts)
        // Shuffled: the first client does not get a contiguous run.
        #expect(parts[0] != Array(parts[0].first!..<parts[0].first! + 20))
    }

    @Test func iidErrors() {
        var rng = Philox(seed: 1)
        #expect(throws: PartitionError.self) { try Partition.iid(count: 5, clients: 6, rng: &rng) }
        #expect(throws: PartitionError.self) { try Partition.iid(count: 5, clients: 0, rng: &rng) }
        let e = #expect(throws: PartitionError.self) { try Partition.iid(count: 5, clients: 6, rng: &rng) }
        #expect(e?.description.contains("more clients than samples") == true)
    }

    @Test func shardsOnBalancedLabelsGiveAtMostTwoLabels() throws {
        var rng = Philox(seed: 3)
        let parts = try Partition.shards(labels: Self.balanced, clients: 100, shardsPerClient: 2, rng: &rng)
        #expect(parts.count == 100 && parts.allSatisfy { $0.count == 20 })
        expectExactCover(parts, count: 2000)
        let labelCounts = parts.map { Set($0.map { Self.balanced[$0] }).count }
        #expect(labelCounts.allSatisfy { $0 >= 1 && $0 <= 2 })
        #expect(labelCounts.filter { $0 == 2 }.count > 50)  // most clients see two classes

        var same = Philox(seed: 3), other = Philox(seed: 4)
        #expect(try Partition.shards(labels: Self.balanced, clients: 100, shardsPerClient: 2, rng: &same) == parts)
        #expect(try Partition.shards(labels: Self.balanced, clients: 100, shardsPerClient: 2, rng: &other) != parts)
    }

    /// On the real subset, class sizes are not multiples of the shard size (10), so a few shards straddle two
    /// labels; each client then holds at most 4 labels, and most hold at most 2.
    @Test func shardsOnEmbeddedMNIST() throws {
        let labels = Self.mnistLabels
        try #require(labels.count == 2000)
        var rng = Philox(seed: 5)
        let parts = try Partition.shards(labels: labels, clients: 100, shardsPerClient: 2, rng: &rng)
        expectExactCover(parts, count: 2000)
        let labelCounts = parts.map { Set($0.map { labels[$0] }).count }
        #expect(labelCounts.allSatisfy { $0 <= 4 })
        #expect(labelCounts.filter { $0 <= 2 }.count >= 80, "labels per client: \(labelCounts)")
    }

    @Test func shardErrors() {
        var rng = Philox(seed: 1)
        let notDividing = #expect(throws: PartitionError.self) {
            try Partition.shards(labels: Self.balanced, clients: 3, shardsPerClient: 2, rng: &rng)
        }
        #expect(notDividing?.description.contains("do not divide 2000") == true)
        #expect(throws: PartitionError.self) {
            try Partition.shards(labels: [Int32](repeating: 0, count: 10), clients: 6, shardsPerClient: 2, rng: &rng)
        }
        #expect(throws: PartitionError.self) {
            try Partition.shards(labels: [Int32](repeating: 0, count: 10), clients: 0, shardsPerClient: 2, rng: &rng)
        }
        #expect(throws: PartitionError.self) {
            try Partition.shards(labels: [0, -1] as [Int32], clients: 1, shardsPerClient: 2, rng: &rng)
        }
    }

    static func meanEntropy(alpha: Double, seed: UInt64) throws -> (Double, [[Int]]) {
        var rng = Philox(seed: seed, 7)
        let parts = try Partition.dirichlet(labels: mnistLabels, clients: 20, alpha: alpha, rng: &rng, minimumSize: 10)
        let e = parts.map { labelEntropy($0, labels: mnistLabels) }
        return (e.reduce(0, +) / Double(e.count), parts)
    }

    @Test func dirichletSkewFollowsAlpha() throws {
        try #require(Self.mnistLabels.count == 2000)
        let (skewed, p1) = try Self.meanEntropy(alpha: 0.1, seed: 11)
        let (middle, p2) = try Self.meanEntropy(alpha: 1, seed: 11)
        let (flat, p3) = try Self.meanEntropy(alpha: 100, seed: 11)
        for p in [p1, p2, p3] {
            expectExactCover(p, count: 2000)
            #expect(p.count == 20 && p.allSatisfy { $0.count >= 10 })
        }
        // ln 10 = 2.303 is the entropy of a uniform label mix. Measured (seed 11): 0.92, 1.92, 2.29.
        #expect(skewed < middle && middle < flat, "entropies \(skewed) \(middle) \(flat)")
        #expect(skewed < 1.2, "α = 0.1 mean label entropy \(skewed)")
        #expect(flat > 2.2, "α = 100 mean label entropy \(flat)")
    }

    @Test func dirichletDeterminismAndFallback() throws {
        try #require(Self.mnistLabels.count == 2000)
        let (_, a) = try Self.meanEntropy(alpha: 0.5, seed: 21)
        let (_, b) = try Self.meanEntropy(alpha: 0.5, seed: 21)
        let (_, c) = try Self.meanEntropy(alpha: 0.5, seed: 22)
        #expect(a == b && a != c)
        // One attempt with a tiny α almost surely leaves clients under 80 samples: the fallback tops them up.
        var rng = Philox(seed: 9)
        let parts = try Partition.dirichlet(
            labels: Self.mnistLabels, clients: 20, alpha: 0.01, rng: &rng, minimumSize: 80, maxAttempts: 1)
        expectExactCover(parts, count: 2000)
        #expect(parts.allSatisfy { $0.count >= 80 }, "sizes \(parts.map(\.count))")
    }

    @Test func dirichletErrors() {
        var rng = Philox(seed: 1)
        let labels = Self.balanced
        for alpha in [0.0, -1.0, .nan, .infinity] {
            #expect(throws: PartitionError.self) {
                try Partition.dirichlet(labels: labels, clients: 10, alpha: alpha, rng: &rng)
            }
        }
        #expect(throws: PartitionError.self) {
            try Partition.dirichlet(labels: labels, clients: 2001, alpha: 1, rng: &rng)
        }
        #expect(throws: PartitionError.self) {
            try Partition.dirichlet(labels: labels, clients: 100, alpha: 1, rng: &rng, minimumSize: 21)
        }
    }

    /// Gamma(a, 1) has mean a and variance a; checked on 40,000 draws for shapes below and above 1.
    @Test(arguments: [0.3, 1.0, 4.5])
    func gammaMoments(shape: Double) {
        var rng = Philox(seed: 31, UInt64(shape * 10))
        let n = 40_000
        var s = 0.0, q = 0.0
        for _ in 0..<n {
            let g = RandomDraws.gamma(shape: shape, using: &rng)
            s += g
            q += g * g
        }
        let mean = s / Double(n), variance = q / Double(n) - mean * mean
        #expect(abs(mean - shape) < 0.03 * max(1, shape), "mean \(mean)")
        #expect(abs(variance - shape) < 0.08 * max(1, shape), "variance \(variance)")
        let d = RandomDraws.dirichlet(alpha: 0.001, count: 5, using: &rng)
        #expect(abs(d.reduce(0, +) - 1) < 1e-12 && d.allSatisfy { $0 >= 0 && $0.isFinite })
    }

    @Test func indexDrawsAreInRangeAndUniform() {
        var rng = Philox(seed: 41)
        var h = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { h[RandomDraws.index(below: 7, using: &rng)] += 1 }
        #expect(h.allSatisfy { abs($0 - 10_000) < 500 }, "\(h)")
    }
}
