// ExactSum: sums vectors in 128-bit fixed point as they arrive: the same bits for any arrival order, O(length) memory.

/// Accumulates one vector per expected contributor, folding each in as soon as it arrives. Every value x is split
/// exactly into x = h + l, h = trunc(x·2²⁰)·2⁻²⁰ and |l| < 2⁻²⁰, and the two parts are added as 64-bit integers in
/// units of 2⁻²⁰ and 2⁻⁶⁴ with wrapping arithmetic, which is associative and commutative: the sums, and the Float32
/// they are rounded to at the end, are the same bits whatever order contributors arrive in, so a federation's result
/// never depends on thread timing, and nothing waits in a buffer (unlike `OrderedSum`).
///
/// Exactness: l is a multiple of 2⁻⁴³ whenever |x| ≥ 2⁻²⁰, so the split loses nothing there; smaller values are
/// rounded once to the 2⁻⁶⁴ grid (an error below 2⁻⁶⁴ per value). The sums are exact while |Σ x| < 2⁴³ and fewer
/// than 2¹⁹ contributors add. Values of magnitude ≥ 2⁴³ (≈ 8.8e12) count as ±∞, and ±∞ and NaN are summed apart with
/// IEEE rules, which are order-independent for those values (any NaN, or +∞ with −∞, gives NaN).
public struct ExactSum: Sendable {
    public let expected: [Int]
    public let length: Int
    /// Σ trunc(x·2²⁰) and Σ (x − h)·2⁶⁴, per coordinate.
    private var high: [Int64]
    private var low: [Int64]
    /// Coordinates that received ±∞ or NaN (or a value too large for the grid), with their IEEE sum.
    private var special: [Int: Float] = [:]
    private let positions: [Int: Int]
    private var done: [Bool]
    private var contributed: [Bool]

    public init(length: Int, expected: [Int]) {
        precondition(Set(expected).count == expected.count, "contributors must be distinct")
        self.expected = expected
        self.length = length
        precondition(expected.count < 1 << 19, "at most 2¹⁹ − 1 contributors")
        self.high = [Int64](repeating: 0, count: length)
        self.low = [Int64](repeating: 0, count: length)
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
        var specials: [(Int, Float)] = []
        vector.withUnsafeBufferPointer { x in
            high.withUnsafeMutableBufferPointer { h in
                low.withUnsafeMutableBufferPointer { l in
                    var lo = 0
                    while lo < x.count {
                        let hi = min(lo + 4_096, x.count)
                        if Self.isSmall(x, lo..<hi) {
                            Self.addSmall(x, h, l, lo..<hi)
                        } else {
                            for i in lo..<hi {
                                if let s = Self.addLarge(x[i], at: i, h, l) { specials.append((i, s)) }
                            }
                        }
                        lo = hi
                    }
                }
            }
        }
        for (i, s) in specials { special[i] = special[i].map { $0 + s } ?? s }
    }

    /// Whether every value of `x[range]` is finite with magnitude below 2³¹ (the vectorised path's domain).
    @inline(__always)
    private static func isSmall(_ x: UnsafeBufferPointer<Float>, _ range: Range<Int>) -> Bool {
        var largest: UInt32 = 0
        let xp = x.baseAddress!
        for i in range { largest = max(largest, xp[i].bitPattern & 0x7FFF_FFFF) }
        return largest < 0x4F00_0000  // 2³¹
    }

    /// The split for |x| < 2³¹, branch-free: h·2²⁰ and l·2⁶⁴ are below 2⁵¹ in magnitude, so adding 1.5·2⁵² rounds
    /// each to an integer held in the low bits of the Double (exact for h·2²⁰; l·2⁶⁴ is an integer when |x| ≥ 2⁻⁴¹).
    @inline(__always)
    private static func addSmall(_ x: UnsafeBufferPointer<Float>, _ h: UnsafeMutableBufferPointer<Int64>,
                                 _ l: UnsafeMutableBufferPointer<Int64>, _ range: Range<Int>) {
        let (xp, hp, lp) = (x.baseAddress!, h.baseAddress!, l.baseAddress!)
        let magic = SIMD8<Double>(repeating: 0x1.8p52)
        let offset = SIMD8<Int64>(repeating: Int64(bitPattern: (0x1.8p52 as Double).bitPattern))
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let f = UnsafeRawPointer(xp + i).loadUnaligned(as: SIMD8<Float>.self)
            let d = SIMD8<Double>(f)
            let whole = (d * 0x1p20).rounded(.towardZero)
            let rest = (d - whole * 0x1p-20) * 0x1p64
            let a = unsafeBitCast(whole + magic, to: SIMD8<Int64>.self) &- offset
            let b = unsafeBitCast(rest + magic, to: SIMD8<Int64>.self) &- offset
            let hr = UnsafeMutableRawPointer(hp + i), lr = UnsafeMutableRawPointer(lp + i)
            hr.storeBytes(of: hr.loadUnaligned(as: SIMD8<Int64>.self) &+ a, as: SIMD8<Int64>.self)
            lr.storeBytes(of: lr.loadUnaligned(as: SIMD8<Int64>.self) &+ b, as: SIMD8<Int64>.self)
            i += 8
        }
        while i < range.upperBound {
            let (a, b) = split(xp[i])
            hp[i] &+= a
            lp[i] &+= b
            i += 1
        }
    }

    /// (trunc(x·2²⁰), (x − h)·2⁶⁴) as integers, for finite |x| < 2³¹.
    @inline(__always)
    static func split(_ x: Float) -> (Int64, Int64) {
        let magic = 0x1.8p52
        let offset = Int64(bitPattern: magic.bitPattern)
        let d = Double(x)
        let whole = (d * 0x1p20).rounded(.towardZero)
        let rest = (d - whole * 0x1p-20) * 0x1p64
        return (Int64(bitPattern: (whole + magic).bitPattern) &- offset,
                Int64(bitPattern: (rest + magic).bitPattern) &- offset)
    }

    /// One value outside the vectorised domain: an integer multiple of 2⁸ below 2⁴³ (all in h), or a special,
    /// returned as ±∞ or NaN for the caller to add to the IEEE sums.
    private static func addLarge(_ x: Float, at i: Int, _ h: UnsafeMutableBufferPointer<Int64>,
                                 _ l: UnsafeMutableBufferPointer<Int64>) -> Float? {
        if x.isFinite, abs(x) < 0x1p43 {
            if abs(x) < 0x1p31 {
                let (a, b) = split(x)
                h[i] &+= a
                l[i] &+= b
            } else {
                h[i] &+= Int64(Double(x) * 0x1p20)
            }
            return nil
        }
        return x.isNaN ? .nan : (x > 0 ? .infinity : -.infinity)
    }

    /// Gives up on `contributor`: it will not be added.
    public mutating func skip(_ contributor: Int) {
        guard let position = positions[contributor], !done[position] else { return }
        done[position] = true
    }

    /// The sum so far, rounded to Float32 (through Double, deterministically).
    public var sum: [Float] {
        var result = [Float](repeating: 0, count: length)
        high.withUnsafeBufferPointer { h in
            low.withUnsafeBufferPointer { l in
                result.withUnsafeMutableBufferPointer { r in
                    for i in 0..<length { r[i] = Float(Double(h[i]) * 0x1p-20 + Double(l[i]) * 0x1p-64) }
                }
            }
        }
        for (i, s) in special { result[i] = s }
        return result
    }
}
