// TestSupport: shared helpers for the data tests (error-message checks, label entropy).
import FedData
import Foundation
import Testing

/// Runs `body`, expects a ``DataError`` and checks that its description contains every fragment.
func expectDataError(
    _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
    let error = #expect(throws: DataError.self, sourceLocation: sourceLocation) { try body() }
    guard let error else { return }
    for f in fragments {
        #expect(error.description.contains(f), "\"\(error.description)\" lacks \"\(f)\"", sourceLocation: sourceLocation)
    }
}

/// Shannon entropy (nats) of the label distribution of `indices`.
func labelEntropy(_ indices: [Int], labels: [Int32], classes: Int = 10) -> Double {
    var h = [Double](repeating: 0, count: classes)
    for i in indices { h[Int(labels[i])] += 1 }
    let n = Double(indices.count)
    return h.filter { $0 > 0 }.reduce(0) { $0 - ($1 / n) * log($1 / n) }
}

/// Checks that `parts` uses every index of `0..<count` exactly once.
func expectExactCover(_ parts: [[Int]], count: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    var seen = [Int](repeating: 0, count: count)
    var outOfRange = 0
    for p in parts {
        for i in p { if i >= 0 && i < count { seen[i] += 1 } else { outOfRange += 1 } }
    }
    #expect(outOfRange == 0, sourceLocation: sourceLocation)
    #expect(seen.allSatisfy { $0 == 1 }, "some index used \(seen.max() ?? 0) times or never", sourceLocation: sourceLocation)
}

/// `1234567` → `"1,234,567"`, as the data errors print counts and offsets.
func commas(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, ch) in s.enumerated() {
        if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return out
}
