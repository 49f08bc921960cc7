// SplitMix64: the small seeded generator behind FaultInjectingTransport's reorderings.

/// SplitMix64 (Steele, Lea and Flood 2014; constants as in Vigna's reference `splitmix64.c`). Enough for shuffling
/// test traffic; its sequence is fixed by this file, not by the standard library, so a seed means the same
/// permutation on every toolchain.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniformly drawn permutation of `0..<count` (Fisher–Yates; modulo bias < count / 2⁶⁴ is irrelevant).
    mutating func permutation(of count: Int) -> [Int] {
        var indices = Array(0..<count)
        var i = count - 1
        while i > 0 {
            let j = Int(next() % UInt64(i + 1))
            indices.swapAt(i, j)
            i -= 1
        }
        return indices
    }
}
