// ExactSum: sums vectors in 128-bit fixed point as they arrive: the same bits for any arrival order, O(length) memory.

/// Accumulates one vector per expected contributor, folding each in as soon as it arrives. Every value is converted
/// to a 128-bit fixed-point number with 64 fractional bits (resolution 2⁻⁶⁴ ≈ 5.4e-20, finer than Float32's spacing
/// for every |x| ≥ 2⁻⁴⁰) and added with wrapping integer arithmetic, which is associative and commutative: the sum,
/// and the Float32 it is rounded to at the end, are the same bits whatever order contributors arrive in, so a
/// federation's result never depends on thread timing, and nothing waits in a buffer (unlike `OrderedSum`).
///
/// Exactness: each value is truncated once to the 2⁻⁶⁴ grid (an error below 2⁻⁶⁴ per value, so at most n·2⁻⁶⁴ for n
/// contributors); the sum is exact while |Σ| < 2⁶³. Values of magnitude ≥ 2⁶² count as ±∞, and ±∞ and NaN are
/// summed apart with IEEE rules, which are order-independent for those values (any NaN, or +∞ with −∞, gives NaN).
public struct ExactSum: Sendable {
    public let expected: [Int]
    public let length: Int
    private var accumulator: [Int128]
    /// Coordinates that received ±∞ or NaN (or a value too large for the grid), with their IEEE sum.
    private var special: [Int: Float] = [:]
    private let positions: [Int: Int]
    private var done: [Bool]
    private var contributed: [Bool]

    public init(length: Int, expected: [Int]) {
        precondition(Set(expected).count == expected.count, "contributors must be distinct")
        self.expected = expected
        self.length = length
        self.accumulator = [Int128](repeating: 0, count: length)
        self.positions = Dictionary(uniqueKeysWithValues: expected.enumerated().map { ($1, $0) })
        self.done = [Bool](repeating: false, count: expected.count)
        self.contributed = [Bool](repeating: false, count: expected.count)
    }

    /// Whether every expected contributor has been added or skipped.
    public var isComplete: Bool { !done.contains(false) }

    /// Contributors neither added nor skipped yet, in `expected` order.
    public var outstanding: [Int] { expected.indices.filter { !done[$0] }.map { expected[$0] } }

    /// Contributors added so far, ascending.
    public var added: [Int] { expected.indices.filter { contributed[$0] }.map { expected[$0] }.sorted() }

    public enum AddError: Error, Equatable {
        case unexpected(Int)
        case duplicate(Int)
        case wrongLength(Int, got: Int, expected: Int)
    }

    /// Folds `vector` from `contributor` into the sum.
    public mutating func add(_ vector: [Float], from contributor: Int) throws(AddError) {
        guard let position = positions[contributor] else { throw .unexpected(contributor) }
        guard !done[position] else { throw .duplicate(contributor) }
        guard vector.count == length else { throw .wrongLength(contributor, got: vector.count, expected: length) }
        done[position] = true
        contributed[position] = true
        vector.withUnsafeBufferPointer { x in
            accumulator.withUnsafeMutableBufferPointer { acc in
                for i in 0..<x.count {
                    if let v = Self.fixedPoint(x[i]) {
                        acc[i] &+= v
                    } else {
                        let s: Float = x[i].isNaN ? .nan : (x[i] > 0 ? .infinity : -.infinity)
                        special[i] = special[i].map { $0 + s } ?? s
                    }
                }
            }
        }
    }

    /// Gives up on `contributor`: it will not be added.
    public mutating func skip(_ contributor: Int) {
        guard let position = positions[contributor], !done[position] else { return }
        done[position] = true
    }

    /// The sum so far, rounded to Float32.
    public var sum: [Float] {
        var result = [Float](repeating: 0, count: length)
        accumulator.withUnsafeBufferPointer { acc in
            result.withUnsafeMutableBufferPointer { r in
                for i in 0..<length { r[i] = Self.float(acc[i]) }
            }
        }
        for (i, s) in special { result[i] = s }
        return result
    }

    /// x·2⁶⁴ truncated toward zero, or nil for ±∞, NaN and |x| ≥ 2⁶². Built from the bits: x = M·2^(e−150) with
    /// the 24-bit significand M, so x·2⁶⁴ = M·2^(e−86).
    @inline(__always)
    static func fixedPoint(_ x: Float) -> Int128? {
        let bits = x.bitPattern
        let e = Int((bits >> 23) & 0xFF)
        guard e < 127 + 62 else { return nil }
        guard e > 0 else { return 0 }  // subnormal: below 2⁻¹²⁶, far under the grid
        let m = Int128((bits & 0x7F_FFFF) | 0x80_0000)
        let shift = e - 86
        let magnitude = shift >= 0 ? m << shift : (shift > -24 ? m >> -shift : 0)
        return bits >> 31 == 1 ? -magnitude : magnitude
    }

    /// The fixed-point value v·2⁻⁶⁴ as the nearest Float32 (through Double, deterministically).
    @inline(__always)
    static func float(_ v: Int128) -> Float {
        let high = Int64(truncatingIfNeeded: v >> 64)
        let low = UInt64(truncatingIfNeeded: v)
        return Float(Double(high) + Double(low) * 0x1p-64)
    }
}
