// ClassSubsamplingTests: the imbalanced subset keeps exactly the asked share of one class, all else, seeded.
import FedData
import FedTensor
import Testing

@Suite struct ClassSubsamplingTests {
    let labels: [Int32] = (try? DatasetLoader.embeddedMNIST(normalization: .none).train.labels) ?? []

    @Test(arguments: [0.5, 0.1, 0.01])
    func keepsTheFractionOfOneClassAndEverythingElse(fraction: Double) throws {
        try #require(labels.count == 2_000)
        let kept = ClassSubsampling.indices(labels: labels, minorityClass: 3, fraction: fraction, key: StreamKey(seed: 1))
        var before = [Int](repeating: 0, count: 10), after = before
        for l in labels { before[Int(l)] += 1 }
        for i in kept { after[Int(labels[i])] += 1 }
        for c in 0..<10 where c != 3 { #expect(after[c] == before[c]) }
        #expect(after[3] == max(1, Int((fraction * Double(before[3])).rounded())))
        #expect(kept == kept.sorted() && Set(kept).count == kept.count)
        // Seeded: the same key gives the same subset, another key another one (unless the class is kept whole).
        #expect(kept == ClassSubsampling.indices(labels: labels, minorityClass: 3, fraction: fraction, key: StreamKey(seed: 1)))
        #expect(kept != ClassSubsampling.indices(labels: labels, minorityClass: 3, fraction: fraction, key: StreamKey(seed: 2)))
    }

    /// The kept minority examples are a uniform draw: over 200 seeds at 10%, each of the first 20 class-3 examples
    /// is kept about 20 times (Binomial(200, p ≈ 0.1): sd ≈ 4.2, bound ±5 sd); an order-biased pick (always the first
    /// ones) would keep them every time and is rejected by the same bound.
    @Test func theKeptExamplesAreUniform() throws {
        try #require(labels.count == 2_000)
        let members = labels.indices.filter { labels[$0] == 3 }
        let keep = Int((0.1 * Double(members.count)).rounded())
        let p = Double(keep) / Double(members.count)
        var hits = [Int](repeating: 0, count: 20)
        for s in 0..<200 {
            let kept = Set(ClassSubsampling.indices(labels: labels, minorityClass: 3, fraction: 0.1,
                                                    key: StreamKey(seed: UInt64(s))))
            for j in 0..<20 where kept.contains(members[j]) { hits[j] += 1 }
        }
        let mean = 200 * p, sd = (200 * p * (1 - p)).squareRoot()
        for h in hits { #expect(abs(Double(h) - mean) <= 5 * sd, "kept \(h) times, expected \(mean) ± \(5 * sd)") }
        // Negative control: "the first `keep` members" is far outside the bound.
        #expect(abs(200 - mean) > 5 * sd)
    }
}
