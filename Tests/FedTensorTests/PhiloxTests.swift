// PhiloxTests: Philox4x32-10 known answers (Salmon et al. SC 2011, Random123 kat_vectors), the Box–Muller
// (1958) Gaussian fills' bit-exactness across paths, chunkings and threads, and their statistics.
import Foundation
import Testing
import FedTensor

/// `StreamKey` whose Philox counter words c2, c3 and key words k0, k1 are the given ones.
private func streamKey(c2: UInt32, c3: UInt32, k0: UInt32, k1: UInt32) -> StreamKey {
    StreamKey(key: UInt64(k0) | UInt64(k1) << 32, stream: UInt64(c2) | UInt64(c3) << 32)
}

private func bits(_ xs: [Float]) -> [UInt32] { xs.map(\.bitPattern) }

private func fill(_ n: Int, _ key: StreamKey, start: UInt64 = 0, std: Float = 1, mean: Float = 0) -> [Float] {
    var out = [Float](repeating: .nan, count: n)
    out.withUnsafeMutableBufferPointer { fillGaussian($0, key: key, std: std, mean: mean, startIndex: start) }
    return out
}

private func fillU(_ n: Int, _ key: StreamKey, start: UInt64 = 0) -> [Float] {
    var out = [Float](repeating: .nan, count: n)
    out.withUnsafeMutableBufferPointer { fillUniform($0, key: key, startIndex: start) }
    return out
}

/// Deterministic offsets and lengths for the chunking tests.
private struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 { state &+= 1; return splitMix64(state) }
}

@Suite(.serialized) struct PhiloxTests {
    // (a) Random123 kat_vectors, philox4x32 10 rounds: counter (c0…c3), key (k0, k1) → outputs.
    @Test func knownAnswerVectors() {
        let cases: [([UInt32], [UInt32], [UInt32])] = [
            ([0, 0, 0, 0], [0, 0], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
            ([0xffff_ffff, 0xffff_ffff, 0xffff_ffff, 0xffff_ffff], [0xffff_ffff, 0xffff_ffff],
             [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]),
            ([0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344], [0xa409_3822, 0x299f_31d0],
             [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]),
        ]
        for (c, k, expected) in cases {
            let key = streamKey(c2: c[2], c3: c[3], k0: k[0], k1: k[1])
            let index = UInt64(c[0]) | UInt64(c[1]) << 32
            let (a, b, cc, d) = philoxBlock(key, index)
            #expect([a, b, cc, d] == expected)
            // The SIMD16 path: lane (index & 15) of the batch starting at index & ~15.
            let w = philox16(key, firstBlock: index & ~15)
            let lane = Int(index & 15)
            #expect([w.w0[lane], w.w1[lane], w.w2[lane], w.w3[lane]] == expected)
        }
    }

    @Test func simdPhiloxMatchesScalarInEveryLane() {
        let key = StreamKey(seed: 42, 1, 2)
        for first: UInt64 in [0, 16, 0xFFFF_FFF0, 0x1_0000_0000, 0xFFFF_FFFF_FFFF_FFF0] {
            let w = philox16(key, firstBlock: first)
            for i in 0..<16 {
                let (a, b, c, d) = philoxBlock(key, first &+ UInt64(i))
                #expect([w.w0[i], w.w1[i], w.w2[i], w.w3[i]] == [a, b, c, d])
            }
        }
    }

    // (b) Fills (whole and ragged SIMD16 groups) against the per-element scalar definition, bit for bit, at
    // several offsets, including a counter-word carry (global index 2³⁴ is block 2³²), the wrap of the 64-bit
    // index, and a non-trivial std/mean.
    @Test func simdFillMatchesScalarDefinition() {
        let key = StreamKey(seed: 7, 3)
        for start: UInt64 in [0, 37, 64 * 1000 + 5, (1 << 34) - 64 * 8 - 3, 0xFFFF_FFFF_FFFF_F000, .max - 100] {
            let n = 64 * 40 + 17
            let v = fill(n, key, start: start)
            let s = (0..<n).map { gaussian(key, index: start &+ UInt64($0)) }
            #expect(bits(v) == bits(s))
            let scaled = fill(n, key, start: start, std: 0.37, mean: -1.5)
            #expect(bits(scaled) == bits(s.map { (-1.5 as Float).addingProduct(0.37, $0) }))
            let u = fillU(n, key, start: start)
            #expect(bits(u) == bits((0..<n).map { uniform(key, index: start &+ UInt64($0)) }))
        }
    }

    // The documented layout: element g is row (g & 63) >> 4 of lane g & 15 of block group g >> 6.
    @Test func layoutAndBoxMullerAccuracy() {
        let key = StreamKey(seed: 99, 5)
        var maxErr = 0.0
        func check(_ x: UInt32, _ y: UInt32, _ zc: Float, _ zs: Float) {
            let u1 = Double(Float((Double(x) + 0.5) * 0x1p-32))      // the Float32 uniform the kernel uses
            let u2 = Double(y >> 7) * 0x1p-25
            let r = (-2 * log(u1)).squareRoot()
            let (c, s) = (r * cos(2 * Double.pi * u2), r * sin(2 * Double.pi * u2))
            if abs(c) < 6 { maxErr = max(maxErr, abs(Double(zc) - c)) }
            if abs(s) < 6 { maxErr = max(maxErr, abs(Double(zs) - s)) }
        }
        let n = 1 << 20
        let z = fill(n, key)
        for group in 0..<(n >> 6) {
            for lane in 0..<16 {
                let (w0, w1, w2, w3) = philoxBlock(key, UInt64(group << 4 | lane))
                let base = group << 6 | lane
                check(w0, w1, z[base], z[base + 16])
                check(w2, w3, z[base + 32], z[base + 48])
            }
        }
        // Edges: u1 at both ends and around √½, angles at and next to every quadrant boundary.
        let xs: [UInt32] = [0, 1, 0x7FFF_FFFF, 0x8000_0000, 0xB504_F333, 0xB504_F334, 0xFFFF_FFFE, 0xFFFF_FFFF,
                            0xFFFF_0000, 0x0000_FFFF, 0x1234_5678]
        var ys: [UInt32] = []
        for q: UInt32 in 0..<8 { ys += [q << 29, (q << 29) &- 0x80, (q << 29) &+ 0x80] }
        for x in xs { for y in ys { let (c, s) = boxMuller(x, y); check(x, y, c, s) } }
        #expect(maxErr < 1e-5)
        print("Box–Muller max |z − z₆₄| (|z| < 6): \(maxErr)")
        // Largest possible |z| comes from x = 0: √(−2 ln 2⁻³³).
        #expect(abs(boxMuller(0, 0).0 - Float((66 * log(2.0)).squareRoot())) < 1e-5)
        #expect(boxMuller(0xFFFF_FFFF, 0x1234_5678) == (0, 0))
    }

    // Pinned output: every step is a correctly rounded IEEE operation, so these bits must be the same on every
    // platform and build (SIMD width, FMA in hardware or in libm). A change here changes every seeded run.
    @Test func pinnedValues() {
        let z = fill(4096, StreamKey(seed: 1, 2, 3), start: 1000)
        let u = fillU(4096, StreamKey(seed: 1, 2, 3), start: 1000)
        let digest = (bits(z) + bits(u)).reduce(UInt64(0)) { splitMix64($0 ^ UInt64($1)) }
        print("pinned: z[0] = \(z[0]) u[0] = \(u[0]) digest 0x\(String(digest, radix: 16))")
        #expect(digest == 0xd3b5_da03_17de_d73b)
    }

    // (c) Chunk invariance: random offsets and lengths (head, whole groups, tail) against one fill.
    @Test func chunkInvariance() {
        let key = StreamKey(seed: 2024, 11, 3)
        let n = 100_003
        let whole = fill(n, key, start: 12_345)
        var rng = SplitMix(state: 1)
        var pieces = [Float](repeating: .nan, count: n)
        var at = 0
        while at < n {
            let len = min(n - at, Int.random(in: 0...300, using: &rng) + (Bool.random(using: &rng) ? 0 : 5000))
            pieces.withUnsafeMutableBufferPointer { p in
                fillGaussian(.init(rebasing: p[at..<at + len]), key: key, startIndex: 12_345 + UInt64(at))
            }
            at += len
        }
        #expect(bits(pieces) == bits(whole))
        var u = [Float](repeating: .nan, count: n)
        at = 0
        while at < n {
            let len = min(n - at, Int.random(in: 1...777, using: &rng))
            u.withUnsafeMutableBufferPointer { p in
                fillUniform(.init(rebasing: p[at..<at + len]), key: key, startIndex: UInt64(at))
            }
            at += len
        }
        #expect(bits(u) == bits(fillU(n, key)))
    }

    @Test func threadCountInvariance() {
        let key = StreamKey(seed: 5, 8)
        let n = 2 * parallelFillThreshold + 4321     // 2 and 3 pieces for 2 and 3 threads
        for start: UInt64 in [0, 37, .max - 1000] {
            let one = ComputeThreads.with(1) { fill(n, key, start: start, std: 2, mean: 1) }
            let two = ComputeThreads.with(2) { fill(n, key, start: start, std: 2, mean: 1) }
            let three = ComputeThreads.with(3) { fill(n, key, start: start, std: 2, mean: 1) }
            #expect(bits(one) == bits(two))
            #expect(bits(one) == bits(three))
            let u1 = ComputeThreads.with(1) { fillU(n, key, start: start) }
            let u2 = ComputeThreads.with(2) { fillU(n, key, start: start) }
            #expect(bits(u1) == bits(u2))
        }
    }

    // (d) Moments and Kolmogorov–Smirnov against Φ, on a fixed stream (deterministic, never flaky).
    @Test func gaussianMomentsAndKS() {
        let n = 1_000_000
        let z = fill(n, StreamKey(seed: 31_337, 1)).map(Double.init)
        let dn = Double(n)
        let mean = z.reduce(0, +) / dn
        let m2 = z.reduce(0) { $0 + $1 * $1 } / dn
        let m4 = z.reduce(0) { $0 + $1 * $1 * $1 * $1 } / dn
        #expect(abs(mean) <= 5 / dn.squareRoot())
        #expect(abs(m2 - mean * mean - 1) <= 5 * (2 / dn).squareRoot())   // Var(z²) = 2
        #expect(abs(m4 - 3) <= 5 * (96 / dn).squareRoot())                 // Var(z⁴) = E z⁸ − 9 = 96
        let sorted = z.sorted()
        var d = 0.0
        for (i, x) in sorted.enumerated() {
            let cdf = 0.5 * erfc(-x / 2.0.squareRoot())
            d = max(d, Double(i + 1) / dn - cdf, cdf - Double(i) / dn)
        }
        #expect(d < 1.95 / dn.squareRoot())
        print("normals: mean \(mean) var \(m2 - mean * mean) m4 \(m4) KS D·√n \(d * dn.squareRoot())")
    }

    // (e) Streams for different paths (and children) are uncorrelated, also at a lag.
    @Test func differentStreamsAreUncorrelated() {
        let n = 1 << 18
        let root = StreamKey(seed: 1)
        let keys = [StreamKey(seed: 1, 0), StreamKey(seed: 1, 1), StreamKey(seed: 2, 0), root.child(1), root.child(2)]
        let streams = keys.map { fill(n, $0).map(Double.init) }
        func corr(_ a: ArraySlice<Double>, _ b: ArraySlice<Double>) -> Double {
            let m = Double(a.count)
            let ma = a.reduce(0, +) / m, mb = b.reduce(0, +) / m
            var sab = 0.0, saa = 0.0, sbb = 0.0
            for (x, y) in zip(a, b) { sab += (x - ma) * (y - mb); saa += (x - ma) * (x - ma); sbb += (y - mb) * (y - mb) }
            return sab / (saa * sbb).squareRoot()
        }
        for i in 0..<keys.count {
            for j in (i + 1)..<keys.count {
                #expect(abs(corr(streams[i][...], streams[j][...])) <= 5 / Double(n).squareRoot())
            }
            // Lags 1 and 16 (the next row and the next block) within one stream.
            #expect(abs(corr(streams[i].dropLast(), streams[i].dropFirst())) <= 5 / Double(n - 1).squareRoot())
            #expect(abs(corr(streams[i].dropLast(16), streams[i].dropFirst(16))) <= 5 / Double(n - 16).squareRoot())
        }
    }

    // (f) Uniforms: range, 2⁻²³ grid, mean 1/2 and variance 1/12.
    @Test func uniformMoments() {
        let n = 1_000_000
        let u = fillU(n, StreamKey(seed: 77, 4))
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 && ($0 * 0x1p23).rounded() == $0 * 0x1p23 })
        let d = u.map(Double.init), dn = Double(n)
        let mean = d.reduce(0, +) / dn
        let v = d.reduce(0) { $0 + ($1 - 0.5) * ($1 - 0.5) } / dn
        #expect(abs(mean - 0.5) <= 5 * (1 / (12 * dn)).squareRoot())
        #expect(abs(v - 1.0 / 12) <= 5 * (1 / (180 * dn)).squareRoot())   // Var((u − ½)²) = 1/80 − 1/144
        #expect(u.min()! < 1e-4 && u.max()! > 1 - 1e-4)
    }

    @Test func sequentialGeneratorStillWorks() {
        var g = Philox(seed: 3, 1)
        let xs = (0..<20_000).map { _ in g.nextGaussian() }
        let us = (0..<20_000).map { _ in g.nextUniform() }
        #expect(abs(xs.reduce(0, +) / 20_000) < 5 / 20_000.0.squareRoot())
        #expect(us.allSatisfy { $0 >= 0 && $0 < 1 })
        var h = Philox(seed: 3, 1)
        #expect(h.nextGaussian() == xs[0])
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["FEDNOISE_BENCH"] != nil))
    func benchmark() {
        for threads in [1, 2] {
            let wall = measureGaussian(threads: threads)
            let cpu = measureGaussianCPU(threads: threads)
            print("fillGaussian \(threads) thread(s): \(wall) M/s wall, \(cpu) M/CPU-s")
        }
        // Small fills with ragged ends: 20 000 fills of 100 values starting at 37 mod 64.
        var small = [Float](repeating: 0, count: 100)
        let key = StreamKey(seed: 9)
        let t0 = clock()
        for i in 0..<20_000 {
            small.withUnsafeMutableBufferPointer { fillGaussian($0, key: key, startIndex: UInt64(i) * 6400 + 37) }
        }
        let ns = Double(clock() - t0) / Double(CLOCKS_PER_SEC) / 2e6 * 1e9
        print("fillGaussian of 100 values at offset 37: \(ns) ns per value")
    }
}
