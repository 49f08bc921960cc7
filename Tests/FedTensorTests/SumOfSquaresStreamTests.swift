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
}
