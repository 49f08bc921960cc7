// BiasPassTests: the bias passes (`addRowVector`, `accumulateColumnSums`) against naive loops, on any thread count.
import Testing
import FedTensor

@Suite struct BiasPassTests {
    /// Values with many distinct roundings (so a reordered sum would show).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        (0..<count).map { Float(Int64(bitPattern: splitMix64(seed &+ UInt64($0))) % 100_000) * 0.000_37 }
    }

    /// Both passes equal a naive loop bit for bit (rows added in order for the column sums, one addition per
    /// element for the row vector) at widths with and without a 16-column tail, small and large, with 1, 2 and 3
    /// compute threads (a future split over threads must keep these bits).
    @Test(arguments: [(10, 7_000), (16, 300), (32, 3_000), (40, 2_000), (64, 1_100), (512, 200)])
    func equalNaiveLoopsOnAnyThreadCount(n: Int, rows: Int) {
        let dy = Self.values(rows * n, seed: 11), start = Self.values(n, seed: 99)
        var naiveSums = start
        for r in 0..<rows { for j in 0..<n { naiveSums[j] += dy[r * n + j] } }
        var naiveRows = dy
        for r in 0..<rows { for j in 0..<n { naiveRows[r * n + j] += start[j] } }
        for threads in [1, 2, 3] {
            var sums = start, added = dy
            ComputeThreads.with(threads) {
                dy.withUnsafeBufferPointer { d in
                    sums.withUnsafeMutableBufferPointer {
                        accumulateColumnSums(d.baseAddress!, into: $0.baseAddress!, rows: rows, n: n)
                    }
                }
                start.withUnsafeBufferPointer { b in
                    added.withUnsafeMutableBufferPointer {
                        addRowVector(b.baseAddress!, to: $0.baseAddress!, rows: rows, n: n)
                    }
                }
            }
            #expect(sums.map(\.bitPattern) == naiveSums.map(\.bitPattern), "column sums n \(n), \(threads) threads")
            #expect(added.map(\.bitPattern) == naiveRows.map(\.bitPattern), "row vector n \(n), \(threads) threads")
        }
        // Negative control: the same column sums with the rows taken in reverse differ somewhere.
        var reversed = start
        for r in (0..<rows).reversed() { for j in 0..<n { reversed[j] += dy[r * n + j] } }
        #expect(reversed.map(\.bitPattern) != naiveSums.map(\.bitPattern))
    }
}
