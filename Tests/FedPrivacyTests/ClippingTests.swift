// ClippingTests: L2 clipping to the bound, untouched when inside, direction kept, updates and per-example rows.
//
// Oracle: norms recomputed here with a plain Float64 loop, independent of `Clipping.l2Norm`.
import Foundation
import Testing
import FedPrivacy
import FedTensor

private func norm(_ v: [Float]) -> Double { v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }

@Suite struct ClippingTests {
    @Test("a vector of norm 5 with C = 1 ends at norm 1")
    func clipsToBound() {
        var v: [Float] = [3, 4]
        #expect(Clipping.clip(&v, maxNorm: 1) == 5)
        expectClose(norm(v), 1, absolute: 1e-6)
        #expect(norm(v) <= 1)
        var long = (0..<1001).map { Float($0 % 7) - 3 }
        let s = 5 / norm(long)
        long = long.map { $0 * Float(s) }
        let before = Clipping.clip(&long, maxNorm: 1)
        expectClose(before, 5, relative: 1e-6)
        expectClose(norm(long), 1, absolute: 1e-6)
        #expect(norm(long) <= 1)
    }

    @Test("a vector of norm 0.5 with C = 1 is unchanged bit for bit")
    func insideBallUntouched() {
        let original: [Float] = [0.3, -0.4, 0, 1e-20]
        var v = original
        expectClose(Clipping.clip(&v, maxNorm: 1), 0.5, relative: 1e-7)
        #expect(v.map(\.bitPattern) == original.map(\.bitPattern))
    }

    @Test("200 seeds: norm after ≤ C, direction preserved, pre-clip norm reported")
    func propertyLoop() {
        for seed in 0..<200 {
            var rng = Philox(seed: UInt64(seed))
            let count = Int.random(in: 1...3000, using: &rng)
            let magnitude = Float.random(in: -3...3, using: &rng)
            let original = (0..<count).map { _ in Float.random(in: -1...1, using: &rng) * powf(10, magnitude) }
            let maxNorm = Double.random(in: 0.05...20, using: &rng)
            var v = original
            let before = Clipping.clip(&v, maxNorm: maxNorm)
            expectClose(before, norm(original), relative: 1e-12, "seed \(seed)")
            let after = norm(v)
            #expect(after <= maxNorm * (1 + 1e-6), "seed \(seed)")
            #expect(after <= maxNorm, "seed \(seed): the exact bound")
            if before > maxNorm {
                expectClose(after, maxNorm, relative: 1e-6, "seed \(seed)")
                let dot = zip(v, original).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                #expect(dot / (after * before) >= 1 - 1e-9, "seed \(seed): direction")
            } else {
                #expect(v == original, "seed \(seed)")
            }
        }
    }

    @Test("clipUpdate turns w into clip(w − w_ref); clipAroundReference projects w")
    func updates() {
        let reference: [Float] = [1, 2, 3, 4]
        let w: [Float] = [1 + 0, 2 + 4 * 0.6, 3 + 4 * 0.8, 4]  // ‖w − w_ref‖ = 4
        var update = w
        expectClose(Clipping.clipUpdate(&update, reference: reference, maxNorm: 2), 4, relative: 1e-6)
        expectClose(Double(update[1]), 1.2, absolute: 1e-6)
        expectClose(Double(update[2]), 1.6, absolute: 1e-6)
        #expect(update[0] == 0 && update[3] == 0)
        var projected = w
        Clipping.clipAroundReference(&projected, reference: reference, maxNorm: 2)
        expectClose(Double(projected[1]), 3.2, absolute: 1e-6)
        expectClose(Double(projected[2]), 4.6, absolute: 1e-6)
        var inside = w
        Clipping.clipAroundReference(&inside, reference: reference, maxNorm: 5)
        #expect(inside == w)
    }

    @Test("per-example rows are clipped independently")
    func rows() {
        var rows: [Float] = [3, 4, 0.3, 0.4, 0, 10]
        let norms = rows.withUnsafeMutableBufferPointer { Clipping.clipRows($0, rowLength: 2, maxNorm: 1) }
        #expect(norms.count == 3)
        expectClose(norms[0], 5, relative: 1e-7)
        expectClose(norms[2], 10, relative: 1e-7)
        expectClose(norm(Array(rows[0..<2])), 1, absolute: 1e-6)
        #expect(rows[2] == 0.3 && rows[3] == 0.4)
        expectClose(Double(rows[5]), 1, absolute: 1e-6)
    }

    @Test("a non-finite vector is zeroed and its norm reported")
    func nonFinite() {
        var v: [Float] = [1, .nan, 2]
        #expect(Clipping.clip(&v, maxNorm: 1).isNaN)
        #expect(v == [0, 0, 0])
        var w: [Float] = [1, .infinity]
        #expect(Clipping.clip(&w, maxNorm: 1) == .infinity)
        #expect(w == [0, 0])
    }

    @Test("l2Norm agrees with a plain Float64 loop on every length 0…40")
    func normMatchesLoop() {
        var rng = Philox(seed: 7)
        for n in 0...40 {
            let v = (0..<n).map { _ in Float.random(in: -2...2, using: &rng) }
            expectClose(Clipping.l2Norm(v), norm(v), relative: 1e-14)
        }
    }
}
