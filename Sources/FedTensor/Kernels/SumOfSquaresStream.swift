// SumOfSquaresStream: `sumOfSquares` over a tensor that arrives in pieces, with the bits of one call on the whole.

/// Σ x[i]² of values fed in pieces (e.g. the batches of an evaluation pass), bit for bit what `sumOfSquares`
/// returns on all of them laid end to end, however they are split: the same 32-value blocks, the same flush to
/// Float64 every 4096 values, the same scalar tail. Values of a block split across pieces wait in a small carry.
public struct SumOfSquaresStream: Sendable {
    private var acc0 = SIMD16<Float>(repeating: 0), acc1 = SIMD16<Float>(repeating: 0)
    private var total = 0.0
    /// Values of the current incomplete 32-value block (the first `carried` lanes).
    private var carry = SIMD32<Float>(repeating: 0)
    private var carried = 0
    /// Full 32-value blocks done.
    private var blocks = 0
    /// Values fed so far.
    public private(set) var count = 0

    public init() {}

    /// Feeds `count` more values.
    public mutating func add(_ x: UnsafePointer<Float>, count n: Int) {
        var i = 0
        if carried > 0 {
            while carried < 32 && i < n {
                carry[carried] = x[i]
                carried &+= 1
                i &+= 1
            }
            if carried == 32 {
                withUnsafeBytes(of: carry) { raw in
                    block(raw.baseAddress!.assumingMemoryBound(to: Float.self))
                }
                carried = 0
            }
        }
        while i &+ 32 <= n {
            block(x + i)
            i &+= 32
        }
        while i < n {
            carry[carried] = x[i]
            carried &+= 1
            i &+= 1
        }
        count &+= n
    }

    /// One full 32-value block, as `sumOfSquares`'s loop body, flushing to Float64 after every 128th as it does
    /// every 4096 values.
    private mutating func block(_ p: UnsafePointer<Float>) {
        let a = load16(p), b = load16(p + 16)
        acc0.addProduct(a, a)
        acc1.addProduct(b, b)
        blocks &+= 1
        if blocks & 127 == 0 {
            total += Double((acc0 + acc1).sum())
            acc0 = .zero
            acc1 = .zero
        }
    }

    /// Σ x[i]² of everything fed: `sumOfSquares` on it (the stream can be fed further).
    public var sum: Double {
        var t = total + Double((acc0 + acc1).sum())
        for k in 0..<carried { t += Double(carry[k]) * Double(carry[k]) }
        return t
    }

    /// √(Σ x²/n), 0 when nothing was fed (as `rootMeanSquare`).
    public var rootMeanSquare: Double { count == 0 ? 0 : (sum / Double(count)).squareRoot() }
}
