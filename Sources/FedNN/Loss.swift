// Loss: softmax cross-entropy over logits, with its gradient and the count of correct predictions.

/// The mean softmax cross-entropy of `batch` rows of `classes` logits against integer labels.
/// Writes ∂(mean loss)/∂logits = (softmax − onehot)/batch into `gradient` when given (it may alias `logits`).
/// Returns the SUM of per-sample losses (Float64) and the number of rows whose arg-max equals the label.
@discardableResult
public func softmaxCrossEntropy(
    logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int, classes: Int,
    gradient: UnsafeMutablePointer<Float>?
) -> (lossSum: Double, correct: Int) {
    var lossSum = 0.0
    var correct = 0
    let scale = 1 / Double(batch)
    for r in 0..<batch {
        let row = logits + r * classes
        let label = Int(labels[r])
        precondition(label >= 0 && label < classes, "label \(label) outside 0..<\(classes)")
        var best = 0
        var maxValue = row[0]
        for j in 1..<classes where row[j] > maxValue {
            maxValue = row[j]
            best = j
        }
        if best == label { correct += 1 }
        var sum = 0.0
        for j in 0..<classes { sum += expDouble(Double(row[j] - maxValue)) }
        let logSum = logDouble(sum)
        lossSum += logSum - Double(row[label] - maxValue)
        if let g = gradient {
            let out = g + r * classes
            for j in 0..<classes {
                let p = expDouble(Double(row[j] - maxValue)) / sum
                out[j] = Float((p - (j == label ? 1 : 0)) * scale)
            }
        }
    }
    return (lossSum, correct)
}

#if canImport(Glibc)
import Glibc
@inline(__always) func expDouble(_ x: Double) -> Double { Glibc.exp(x) }
@inline(__always) func logDouble(_ x: Double) -> Double { Glibc.log(x) }
#else
import Darwin
@inline(__always) func expDouble(_ x: Double) -> Double { Darwin.exp(x) }
@inline(__always) func logDouble(_ x: Double) -> Double { Darwin.log(x) }
#endif
