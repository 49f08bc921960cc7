// CombineGaussianTests: `combineGaussian` (noise drawn and applied in one pass) against the two-pass form, bit for bit.
import Testing
import FedTensor

@Suite struct CombineGaussianTests {
    /// Deterministic offsets and lengths (SplitMix64 finaliser of a counter).
    struct Steps: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 { state &+= 1; return splitMix64(state) }
    }

    /// The two-pass reference the one-pass form must equal: t = `fillGaussian(… mean:)`, then a loop of
    /// source + t or source · t, one element at a time.
    static func twoPass(_ source: [Float], key: StreamKey, std: Float, mean: Float, start: UInt64,
                        _ combination: GaussianCombination) -> (out: [Float], t: [Float]) {
        var t = [Float](repeating: 0, count: source.count)
        t.withUnsafeMutableBufferPointer { fillGaussian($0, key: key, std: std, mean: mean, startIndex: start) }
        var out = source
        for j in out.indices {
            switch combination {
            case .add: out[j] = source[j] + t[j]
            case .multiply: out[j] = source[j] * t[j]
            }
        }
        return (out, t)
    }

    /// Whatever the start offset (ragged first group or not) and the chunking (ragged last groups inside the span),
    /// in place or into another buffer, adding and multiplying give the two-pass bits, and the factor is t. The
    /// source holds signed zeros, so an addition of −0 noise to −0 (or a sign lost in a shortcut) would show.
    @Test func equalsTwoPassInAnyChunking() {
        let key = StreamKey(seed: 91, 4)
        let n = 9_001
        let source = (0..<n).map { j -> Float in
            if j % 7 == 0 { return j % 2 == 0 ? -0.0 : 0.0 }
            return Float(j % 311) * 0.01 - 1.5
        }
        for combination in [GaussianCombination.add, .multiply] {
            let mean: Float = combination == .add ? 0 : 1
            for start: UInt64 in [0, 5, 63, 64, 1_000_003] {
                let expected = Self.twoPass(source, key: key, std: 0.3, mean: mean, start: start, combination)
                for inPlace in [false, true] {
                    var out = inPlace ? source : [Float](repeating: .nan, count: n)
                    var factor = [Float](repeating: .nan, count: n)
                    var rng = Steps(state: start &+ (inPlace ? 1 : 0))
                    var at = 0
                    while at < n {
                        let extra = Bool.random(using: &rng) ? 0 : 2000
                        let len = min(n - at, Int.random(in: 1...150, using: &rng) + extra)
                        source.withUnsafeBufferPointer { s in
                            out.withUnsafeMutableBufferPointer { o in
                                factor.withUnsafeMutableBufferPointer { f in
                                    combineGaussian(inPlace ? UnsafePointer(o.baseAddress! + at) : s.baseAddress! + at,
                                                    into: o.baseAddress! + at, count: len, key: key, std: 0.3,
                                                    mean: mean, startIndex: start + UInt64(at), combination,
                                                    factor: f.baseAddress! + at)
                                }
                            }
                        }
                        at += len
                    }
                    let label = "\(combination) start \(start) in place \(inPlace)"
                    #expect(out.map { $0.bitPattern } == expected.out.map { $0.bitPattern }, "\(label)")
                    #expect(factor.map { $0.bitPattern } == expected.t.map { $0.bitPattern }, "\(label)")
                }
            }
        }
    }

    /// Negative control: a different key, or the noise at a shifted index, must not pass the same comparison.
    @Test func comparisonRejectsOtherNoise() {
        let key = StreamKey(seed: 91, 4), n = 1_000
        let source = [Float](repeating: 0.5, count: n)
        let expected = Self.twoPass(source, key: key, std: 0.3, mean: 0, start: 0, .add).out
        for (k, start) in [(StreamKey(seed: 91, 5), UInt64(0)), (key, 1)] {
            var out = [Float](repeating: 0, count: n)
            source.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer {
                    combineGaussian(s.baseAddress!, into: $0.baseAddress!, count: n, key: k, std: 0.3, mean: 0,
                                    startIndex: start, .add)
                }
            }
            #expect(out.map { $0.bitPattern } != expected.map { $0.bitPattern })
        }
    }

    /// `combineUniform` against `fillUniform` then source + a·(2(u + 2⁻²⁴) − 1) element by element (the noise
    /// layer's former two passes), bit for bit, at several starts and chunkings, in place or not. Negative
    /// control: the noise one index further on differs.
    @Test func uniformEqualsTwoPassInAnyChunking() {
        let key = StreamKey(seed: 92, 1), n = 5_003, a: Float = 0.3 * Float(3).squareRoot()
        let source = (0..<n).map { j -> Float in
            if j % 7 == 0 { return j % 2 == 0 ? -0.0 : 0.0 }
            return Float(j % 97) * 0.03 - 1.4
        }
        func reference(_ start: UInt64) -> [Float] {
            var u = [Float](repeating: 0, count: n)
            u.withUnsafeMutableBufferPointer { fillUniform($0, key: key, startIndex: start) }
            return (0..<n).map { j -> Float in
                let centred: Float = 2 * (u[j] + 0x1p-24) - 1
                return source[j] + a * centred
            }
        }
        func differing(_ x: [Float], _ y: [Float]) -> Int { zip(x, y).filter { $0.bitPattern != $1.bitPattern }.count }
        for start: UInt64 in [0, 9, 64, 77_777] {
            let expected = reference(start)
            for inPlace in [false, true] {
                let out = combinedInChunks(source, start: start, inPlace: inPlace, seed: start &+ 7) { from, to, m, g in
                    combineUniform(from, into: to, count: m, key: key, scale: a, startIndex: g)
                }
                #expect(differing(out, expected) == 0, "start \(start), in place \(inPlace)")
            }
        }
        var shifted = [Float](repeating: 0, count: n)
        source.withUnsafeBufferPointer { s in
            shifted.withUnsafeMutableBufferPointer {
                combineUniform(s.baseAddress!, into: $0.baseAddress!, count: n, key: key, scale: a, startIndex: 1)
            }
        }
        #expect(differing(shifted, reference(0)) > n / 2)
    }
}
