// LaplaceTests: `combineLaplace` against the scalar definition bit for bit, and `cephesLn` against Float64's log.
import Foundation
import Testing
import FedTensor

@Suite struct LaplaceTests {
    /// `combineLaplace` equals source + `laplace(key, index:, scale:)` element by element, bit for bit, at several
    /// starts and chunkings, in place or not. Negative control: the noise one index further on differs.
    @Test func combineEqualsTheScalarDefinitionInAnyChunking() {
        let key = StreamKey(seed: 93, 1), n = 5_003, b: Float = 0.3 / Float(2).squareRoot()
        let source = (0..<n).map { j -> Float in
            if j % 7 == 0 { return j % 2 == 0 ? -0.0 : 0.0 }
            return Float(j % 97) * 0.03 - 1.4
        }
        func reference(_ start: UInt64) -> [Float] {
            (0..<n).map { source[$0] + laplace(key, index: start + UInt64($0), scale: b) }
        }
        func differing(_ x: [Float], _ y: [Float]) -> Int { zip(x, y).filter { $0.bitPattern != $1.bitPattern }.count }
        for start: UInt64 in [0, 9, 64, 77_777] {
            let expected = reference(start)
            for inPlace in [false, true] {
                let out = combinedInChunks(source, start: start, inPlace: inPlace, seed: start &+ 11) { from, to, m, g in
                    combineLaplace(from, into: to, count: m, key: key, scale: b, startIndex: g)
                }
                #expect(differing(out, expected) == 0, "start \(start), in place \(inPlace)")
            }
        }
        var shifted = [Float](repeating: 0, count: n)
        source.withUnsafeBufferPointer { s in
            shifted.withUnsafeMutableBufferPointer {
                combineLaplace(s.baseAddress!, into: $0.baseAddress!, count: n, key: key, scale: b, startIndex: 1)
            }
        }
        #expect(differing(shifted, reference(0)) > n / 2)
    }

    /// The largest error, in units of 2⁻²⁴·max(1, |ln w|) (half an ulp of a result in [1, 2), and the absolute
    /// scale below), of `ln` over every value the Laplace draw can take: w = (2j + 1)·2⁻²³, j < 2²², against
    /// Float64's `log` (the oracle, ~2⁻⁵³ relative).
    static func worstError(_ ln: (Float) -> Float) -> Double {
        var worst = 0.0
        for j in 0..<(1 << 22) {
            let w = Float(2 * j + 1) * 0x1p-23
            let exact = Foundation.log(Double(w))
            worst = max(worst, abs(Double(ln(w)) - exact) / (0x1p-24 * max(1, abs(exact))))
        }
        return worst
    }

    /// `cephesLn` (Box–Muller's and the Laplace draw's logarithm) is within 2 such units of the true ln on all 2²²
    /// inputs (Cephes documents about 1 ulp; measured here: see the printed figure). Negative control: the same
    /// polynomial with its f³ weight off by 2⁻¹⁵ relative (a transcription slip) is rejected.
    @Test func lnIsAccurateOnEveryDrawnValue() {
        let worst = Self.worstError(cephesLn)
        print("cephesLn worst error over the 2^22 Laplace inputs: \(worst) × 2^-24 max(1, |ln|)")
        #expect(worst <= 2)
        let slipped = Self.worstError { w in
            // ln w with the f³ term's weight 1/3 mis-typed: the reference's error plus f³·(1/3)·2⁻¹⁵.
            let f = Float(bitPattern: (w.bitPattern &- 0x3F35_04F3) & 0x007F_FFFF &+ 0x3F35_04F3) - 1
            return cephesLn(w) + f * f * f * (1.0 / 3) * 0x1p-15
        }
        #expect(slipped > 2)
    }

    /// The SIMD draw against the inverse CDF evaluated in Float64 on the same uniform: |η − η₆₄| ≤ 8·2⁻²⁴·b·max(1,
    /// |ln w|) (the ln bound above, times b, plus the product's rounding), and the sign follows v = u + 2⁻²⁴ − ½.
    @Test func drawMatchesTheFloat64InverseCDF() {
        let key = StreamKey(seed: 94), n = 100_000, b: Float = 1.7
        var eta = [Float](repeating: 0, count: n)
        let zeros = [Float](repeating: 0, count: n)
        zeros.withUnsafeBufferPointer { z in
            eta.withUnsafeMutableBufferPointer {
                combineLaplace(z.baseAddress!, into: $0.baseAddress!, count: n, key: key, scale: b, startIndex: 5)
            }
        }
        var bad = 0
        for j in 0..<n {
            let u = Double(uniform(key, index: UInt64(j + 5)))
            let v = u + 0x1p-24 - 0.5
            let lnw = Foundation.log(1 - 2 * abs(v))
            let exact = -(v < 0 ? -1.0 : 1.0) * Double(b) * lnw
            if abs(Double(eta[j]) - exact) > 8 * 0x1p-24 * Double(b) * max(1, abs(lnw)) { bad += 1 }
        }
        #expect(bad == 0)
    }
}
