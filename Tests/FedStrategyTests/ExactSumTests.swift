// ExactSumTests: fixed-point summation: order-free bits, the correctly rounded sum, specials, misuse rejected.
import FedStrategy
import FedTensor
import Foundation
import Testing

@Suite("Exact summation")
struct ExactSumTests {
    /// Mixed magnitudes (1e-4 … 1e3), so float summation order visibly changes results.
    func vectors(_ n: Int, length: Int, seed: UInt64 = 3) -> [[Float]] {
        var rng = Philox(seed: seed)
        return (0..<n).map { k in (0..<length).map { _ in Float(rng.nextGaussian()) * pow(10, Float(k % 8) - 4) } }
    }

    @Test func sameBitsForEveryArrivalOrderAndSkips() throws {
        let v = vectors(9, length: 256)
        let ids = Array(0..<9)
        var results: Set<[UInt32]> = []
        var rng = Philox(seed: 11)
        for _ in 0..<40 {
            var order = ids
            RandomDraws.shuffle(&order, using: &rng)
            var s = ExactSum(length: 256, expected: ids)
            for k in order where k != 4 { try s.add(v[k], from: k) }
            #expect(!s.isComplete && s.outstanding == [4])
            s.skip(4)
            #expect(s.isComplete && s.added == ids.filter { $0 != 4 })
            results.insert(s.sum.map(\.bitPattern))
        }
        #expect(results.count == 1)
    }

    @Test func isTheCorrectlyRoundedSumAndAgreesWithOrderedSummationWithinItsErrorBound() throws {
        // Oracle: the sum in Double (exact to ~2⁻⁵³ relative for 64 floats), rounded once to Float.
        let n = 64, length = 4_096
        let v = vectors(n, length: length, seed: 7)
        var exact = ExactSum(length: length, expected: Array(0..<n))
        var ordered = OrderedSum(length: length, expected: Array(0..<n))
        for k in 0..<n {
            try exact.add(v[k], from: k)
            try ordered.add(v[k], from: k)
        }
        let e = exact.sum, o = ordered.sum
        var offByMoreThanOneULP = 0, notNearest = 0, outsideBound = 0
        for i in 0..<length {
            let reference = (0..<n).reduce(0.0) { $0 + Double(v[$1][i]) }
            if Float(reference) != e[i] { notNearest += 1 }
            if abs(Double(e[i]) - reference) > Double(Float(reference).ulp) { offByMoreThanOneULP += 1 }
            // Sequential float summation: |error| ≤ (n − 1)·2⁻²⁴·Σ|x| (Higham 2002, eq. 4.4).
            let bound = Double(n - 1) * 0x1p-24 * (0..<n).reduce(0.0) { $0 + abs(Double(v[$1][i])) }
            if abs(Double(o[i]) - Double(e[i])) > bound { outsideBound += 1 }
        }
        #expect(offByMoreThanOneULP == 0)
        #expect(notNearest <= length / 1_000, "\(notNearest) of \(length) not the nearest float (double rounding)")
        #expect(outsideBound == 0)
        // Negative control: ordered float summation is not the correctly rounded sum everywhere.
        let orderedNotNearest = (0..<length).filter { i in
            Float((0..<n).reduce(0.0) { $0 + Double(v[$1][i]) }) != o[i]
        }.count
        #expect(orderedNotNearest > 10 * max(notNearest, 1))
    }

    @Test func specialsAndExtremesFollowIEEEWhateverTheOrder() throws {
        let inputs: [[Float]] = [[.infinity, .nan, 1, 1e30, -0.0], [1, 1, .infinity, 5, 0x1p-130],
                                 [-.infinity, 2, 3, 1e30, -0x1p-130]]
        var results: Set<[UInt32]> = []
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [2, 0, 1]] {
            var s = ExactSum(length: 5, expected: [0, 1, 2])
            for k in order { try s.add(inputs[k], from: k) }
            results.insert(s.sum.map(\.bitPattern))
            let r = s.sum
            #expect(r[0].isNaN && r[1].isNaN && r[2] == .infinity && r[3] == .infinity && r[4] == 0)
        }
        #expect(results.count == 1)
        // A value of magnitude ≥ 2⁴³ counts as ±∞ (documented); below it, large values (the scalar path) are exact.
        var big = ExactSum(length: 4, expected: [0, 1])
        try big.add([0x1p43, 0x1p42, -0x1p40, 3e9], from: 0)
        try big.add([1, 0x1p41, 1, -1], from: 1)
        let expected: [Float] = [.infinity, 0x1p42 + 0x1p41, -0x1p40 + 1, 3e9 - 1]
        #expect(big.sum == expected)
    }

    @Test func rejectsStrangersDuplicatesAndWrongLengths() throws {
        var s = ExactSum(length: 2, expected: [1, 2])
        #expect(throws: ExactSum.AddError.unexpected(3)) { try s.add([0, 0], from: 3) }
        try s.add([1, 2], from: 1)
        #expect(throws: ExactSum.AddError.duplicate(1)) { try s.add([1, 2], from: 1) }
        #expect(throws: ExactSum.AddError.wrongLength(2, got: 3, expected: 2)) { try s.add([1, 2, 3], from: 2) }
        s.skip(2)
        #expect(throws: ExactSum.AddError.duplicate(2)) { try s.add([1, 2], from: 2) }
        #expect(s.sum == [1, 2])
    }
}
