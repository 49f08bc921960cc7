// TestSupport: tolerance checks and a seeded generator for the FedPrivacy tests.
import Testing

/// Expects |actual − expected| ≤ absolute + relative·|expected|.
func expectClose(_ actual: Double, _ expected: Double, relative: Double = 0, absolute: Double = 0,
                 _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    let bound = absolute + relative * abs(expected)
    #expect(abs(actual - expected) <= bound,
            "\(actual) vs expected \(expected) (bound \(bound))\(comment.map { ": \($0)" } ?? "")",
            sourceLocation: sourceLocation)
}

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny seeded generator, independent of the code under test.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
