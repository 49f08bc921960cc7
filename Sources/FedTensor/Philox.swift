// Philox4x32-10: the counter-based generator behind every random draw (Salmon et al., SC 2011).
//
// A value is a pure function of (key, counter), so any element of a stream can be computed without the ones
// before it: bulk fills are identical whatever the chunking or thread count.

/// A 128-bit identity of one random stream: derive it from (run seed, client, round, purpose, …).
public struct StreamKey: Hashable, Sendable, Codable {
    public var key: UInt64
    public var stream: UInt64

    public init(key: UInt64, stream: UInt64) {
        self.key = key
        self.stream = stream
    }

    /// The stream for `seed` refined by a path of identifiers (client id, round, purpose code, share index…).
    /// Different paths give statistically independent streams.
    public init(seed: UInt64, _ path: UInt64...) {
        self.init(seed: seed, path: path)
    }

    public init(seed: UInt64, path: [UInt64]) {
        var a = splitMix64(seed ^ 0x6A09_E667_F3BC_C908)
        var b = splitMix64(seed &+ 0xBB67_AE85_84CA_A73B)
        for (i, p) in path.enumerated() {
            a = splitMix64(a ^ splitMix64(p &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15))
            b = splitMix64(b &+ splitMix64(p ^ (UInt64(i) &+ 1) &* 0xC2B2_AE3D_27D4_EB4F))
        }
        self.init(key: a, stream: b)
    }

    /// A child stream: `StreamKey(seed:…).child(purpose)`.
    public func child(_ ids: UInt64...) -> StreamKey {
        StreamKey(seed: key ^ stream.rotated(by: 17), path: [stream] + ids)
    }
}

extension UInt64 {
    @inlinable func rotated(by r: UInt64) -> UInt64 { (self << r) | (self >> (64 - r)) }
}

/// SplitMix64 finaliser (Steele, Lea & Flood 2014), used only to derive keys.
@inlinable
public func splitMix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// One Philox4x32-10 block: four 32-bit outputs for counter `index` in stream `key`.
@inlinable
public func philoxBlock(_ key: StreamKey, _ index: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
    var c0 = UInt32(truncatingIfNeeded: index), c1 = UInt32(truncatingIfNeeded: index >> 32)
    var c2 = UInt32(truncatingIfNeeded: key.stream), c3 = UInt32(truncatingIfNeeded: key.stream >> 32)
    var k0 = UInt32(truncatingIfNeeded: key.key), k1 = UInt32(truncatingIfNeeded: key.key >> 32)
    for _ in 0..<10 {
        let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
        let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
        let n0 = UInt32(truncatingIfNeeded: p1 >> 32) ^ c1 ^ k0
        let n2 = UInt32(truncatingIfNeeded: p0 >> 32) ^ c3 ^ k1
        c1 = UInt32(truncatingIfNeeded: p1)
        c3 = UInt32(truncatingIfNeeded: p0)
        c0 = n0
        c2 = n2
        k0 &+= 0x9E37_79B9
        k1 &+= 0xBB67_AE85
    }
    return (c0, c1, c2, c3)
}

/// A sequential generator over one Philox stream; conforms to `RandomNumberGenerator` for shuffles and draws.
/// Its `nextUniform`/`nextGaussian` consume blocks in order and are NOT the values `fillUniform`/`fillGaussian`
/// give for the same key (those follow the 64-value group layout in Gaussian.swift).
public struct Philox: RandomNumberGenerator, Sendable {
    public let streamKey: StreamKey
    /// The next block index.
    public private(set) var counter: UInt64
    private var buffered: UInt64 = 0
    private var hasBuffered = false

    public init(_ key: StreamKey, counter: UInt64 = 0) {
        self.streamKey = key
        self.counter = counter
    }

    public init(seed: UInt64, _ path: UInt64...) {
        self.init(StreamKey(seed: seed, path: path))
    }

    public mutating func next() -> UInt64 {
        if hasBuffered {
            hasBuffered = false
            return buffered
        }
        let (a, b, c, d) = philoxBlock(streamKey, counter)
        counter &+= 1
        buffered = UInt64(c) | UInt64(d) << 32
        hasBuffered = true
        return UInt64(a) | UInt64(b) << 32
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A standard normal draw (Box–Muller in Float64).
    public mutating func nextGaussian() -> Double {
        let u1 = (Double(next() >> 11) + 0.5) * (1.0 / 9_007_199_254_740_992.0)
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
    }
}

@inlinable func _log(_ x: Double) -> Double {
    #if canImport(Glibc)
    return Glibc.log(x)
    #else
    return Darwin.log(x)
    #endif
}

@inlinable func _cos(_ x: Double) -> Double {
    #if canImport(Glibc)
    return Glibc.cos(x)
    #else
    return Darwin.cos(x)
    #endif
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
