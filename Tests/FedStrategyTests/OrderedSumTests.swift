// OrderedSumTests: any arrival order gives the same bits; skips release the queue; misuse is rejected.
import FedStrategy
import FedTensor
import Testing

@Suite("Ordered summation")
struct OrderedSumTests {
    func vectors(_ n: Int, length: Int) -> [[Float]] {
        var rng = Philox(seed: 3)
        // Mixed magnitudes, so that summation order visibly changes float results.
        return (0..<n).map { k in (0..<length).map { _ in Float(rng.nextGaussian()) * pow(10, Float(k % 5) - 2) } }
    }

    @Test func bitIdenticalForEveryArrivalOrder() throws {
        let v = vectors(7, length: 64)
        let ids = [3, 9, 1, 4, 7, 2, 8]
        var reference = OrderedSum(length: 64, expected: ids)
        for (k, id) in ids.enumerated() { try reference.add(v[k], from: id) }
        var naive = [Float](repeating: 0, count: 64)
        var rng = Philox(seed: 11)
        var sawDifferentNaive = false
        for _ in 0..<50 {
            var order = Array(ids.indices)
            RandomDraws.shuffle(&order, using: &rng)
            var s = OrderedSum(length: 64, expected: ids)
            naive = [Float](repeating: 0, count: 64)
            for k in order {
                try s.add(v[k], from: ids[k])
                for i in 0..<64 { naive[i] += v[k][i] }
            }
            #expect(s.isComplete)
            #expect(s.sum == reference.sum)
            if naive != reference.sum { sawDifferentNaive = true }
        }
        // The test data is such that plain arrival-order sums do differ: otherwise this test proves nothing.
        #expect(sawDifferentNaive)
    }

    @Test func skippingReleasesWaitingContributors() throws {
        var s = OrderedSum(length: 2, expected: [1, 2, 3])
        try s.add([1, 1], from: 3)
        try s.add([10, 10], from: 2)
        #expect(s.outstanding == [1])
        #expect(!s.isComplete)
        s.skip(1)
        #expect(s.isComplete)
        #expect(s.sum == [11, 11])
        #expect(s.added == [2, 3])
    }

    @Test func rejectsStrangersDuplicatesAndWrongLengths() throws {
        var s = OrderedSum(length: 2, expected: [1, 2])
        #expect(throws: OrderedSum.AddError.unexpected(5)) { try s.add([0, 0], from: 5) }
        try s.add([1, 2], from: 2)
        #expect(throws: OrderedSum.AddError.duplicate(2)) { try s.add([1, 2], from: 2) }
        #expect(throws: OrderedSum.AddError.wrongLength(1, got: 3, expected: 2)) { try s.add([1, 2, 3], from: 1) }
    }
}

import Foundation
