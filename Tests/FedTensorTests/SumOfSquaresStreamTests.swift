// SumOfSquaresStreamTests: a sum of squares fed in pieces has the bits of `sumOfSquares` on the whole.
import FedTensor
import Testing

@Suite("Sum of squares in pieces")
struct SumOfSquaresStreamTests {
    /// Lengths around the 32-value blocks and the 4096-value flush, split at random points (pieces of 0, 1, 31,
    /// 33 values and thousands): every split gives `sumOfSquares`'s bits, as does the RMS.
    @Test func anySplitGivesTheWholeSum() {
        var rng = Philox(seed: 7)
        for total in [0, 1, 31, 32, 33, 4095, 4096, 4097, 8192 + 45, 21_632 * 3 + 17] {
            let x = (0..<total).map { _ in Float(rng.nextGaussian()) * 3 }
            let whole = x.withUnsafeBufferPointer { sumOfSquares($0.baseAddress!, count: total) }
            for trial in 0..<6 {
                var stream = SumOfSquaresStream()
                var lo = 0
                while lo < total {
                    let step = [0, 1, 31, 33, 4096, 5000][(trial + lo) % 6] + Int(rng.next() % 97)
                    let hi = min(total, lo + step)
                    x.withUnsafeBufferPointer { stream.add($0.baseAddress! + lo, count: hi - lo) }
                    lo = hi
                }
                #expect(stream.count == total)
                #expect(stream.sum.bitPattern == whole.bitPattern, "total \(total), trial \(trial)")
                let rms = total == 0 ? 0 : (whole / Double(total)).squareRoot()
                #expect(stream.rootMeanSquare.bitPattern == rms.bitPattern)
            }
        }
    }

    /// Vectors long enough for the threaded sum (≥ 2¹⁷ values): on 2 and 3 threads it has the one-thread bits, on
    /// lengths that end on a 4096-value flush, inside a block, and inside a 32-value step; the stream agrees too.
    @Test func threadsGiveTheSerialBits() {
        var rng = Philox(seed: 8)
        for total in [1 << 17, (1 << 17) + 31, 4096 * 40 + 4095, 400_000 + 7] {
            let x = (0..<total).map { _ in Float(rng.nextGaussian()) * 2 + 0.5 }
            func sum(_ threads: Int) -> Double {
                ComputeThreads.with(threads) {
                    x.withUnsafeBufferPointer { sumOfSquares($0.baseAddress!, count: total) }
                }
            }
            let serial = sum(1)
            #expect(sum(2).bitPattern == serial.bitPattern, "total \(total), 2 threads")
            #expect(sum(3).bitPattern == serial.bitPattern, "total \(total), 3 threads")
            var stream = SumOfSquaresStream()
            x.withUnsafeBufferPointer { stream.add($0.baseAddress!, count: total) }
            #expect(stream.sum.bitPattern == serial.bitPattern, "total \(total), stream")
        }
    }
}
