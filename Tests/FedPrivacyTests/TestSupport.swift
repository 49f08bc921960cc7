// TestSupport: tolerance checks for the FedPrivacy tests.
import Testing

/// Expects |actual − expected| ≤ absolute + relative·|expected|.
func expectClose(_ actual: Double, _ expected: Double, relative: Double = 0, absolute: Double = 0,
                 _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
    let bound = absolute + relative * abs(expected)
    #expect(abs(actual - expected) <= bound,
            "\(actual) vs expected \(expected) (bound \(bound))\(comment.map { ": \($0)" } ?? "")",
            sourceLocation: sourceLocation)
}
