// AddGaussianTests: `addGaussian` (noise added in place) against `fillGaussian` with a mean, bit for bit.
import Testing
import FedTensor

@Suite struct AddGaussianTests {
    /// Deterministic offsets and lengths (SplitMix64 finaliser of a counter).
    struct Steps: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 { state &+= 1; return splitMix64(state) }
    }

    /// On a constant buffer m, `addGaussian` is `fillGaussian(… mean: m)` bit for bit (the same fused multiply-add
    /// per element), whatever the chunking, start offset and thread count; on varying values it adds std·z_g at
    /// the element's own global index (checked against the scalar `gaussian`, Float64 oracle, to one rounding).
    @Test func equalsFillWithMeanInAnyChunking() {
        let key = StreamKey(seed: 77, 3)
        let n = 20_011
        for start: UInt64 in [0, 5, 64, 1_000_003] {
            var expected = [Float](repeating: 0, count: n)
            expected.withUnsafeMutableBufferPointer {
                fillGaussian($0, key: key, std: -0.37, mean: 1.25, startIndex: start)
            }
            var got = [Float](repeating: 1.25, count: n)
            var rng = Steps(state: start)
            var at = 0
            while at < n {
                let len = min(n - at, Int.random(in: 1...200, using: &rng) + (Bool.random(using: &rng) ? 0 : 3000))
                got.withUnsafeMutableBufferPointer { p in
                    addGaussian(.init(rebasing: p[at..<at + len]), key: key, std: -0.37,
                                startIndex: start + UInt64(at))
                }
                at += len
            }
            #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "start \(start)")
        }
        // Varying values, a span long enough for two threads: w + std·z at each index, and thread-invariant.
        let m = 2 * parallelFillThreshold + 99
        let base = (0..<m).map { Float($0 % 1000) * 0.001 - 0.5 }
        func added(_ threads: Int) -> [Float] {
            var w = base
            ComputeThreads.with(threads) { w.withUnsafeMutableBufferPointer { addGaussian($0, key: key, std: 2, startIndex: 17) } }
            return w
        }
        let one = added(1)
        #expect(one.map(\.bitPattern) == added(2).map(\.bitPattern))
        for j in stride(from: 0, to: m, by: 997) {
            let exact = Double(base[j]) + 2 * Double(gaussian(key, index: 17 + UInt64(j)))
            #expect(abs(Double(one[j]) - exact) <= Double(Float(exact).ulp), "index \(j)")
        }
    }
}
