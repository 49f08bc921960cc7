// RobustEvaluation: clean and adversarial loss and accuracy of a model over a sample set, per example and in all.
import FedNN
import FedTensor

/// Clean and adversarial results over the same examples. `adversarial.accuracy` is the robust accuracy over ALL
/// examples: an example is robust when it is classified right clean AND at the attack's point of every restart
/// (pitfalls-dpsgd-attacks §7: clean-misclassified points count as non-robust);
/// `adversarial.loss` is the mean per-example cross-entropy at the attack's point (the maximum over restarts).
public struct RobustEvaluation: Sendable, Codable, Equatable {
    public var attack: String
    public var clean: Evaluation
    public var adversarial: Evaluation
}

/// One example's outcome, for per-group breakdowns.
public struct RobustOutcome: Sendable, Equatable {
    public var index: Int
    public var label: Int32
    public var cleanLoss: Double
    public var cleanCorrect: Bool
    public var adversarialLoss: Double
    /// Correct clean and under every restart.
    public var robust: Bool
}

extension AdversarialAttacker {
    /// Attacks `indices` of `data` (all if nil) in batches of the workspace's capacity. Example i's random starts
    /// come from `key.child(i, restart)`, so the result does not depend on the capacity or the thread count.
    /// `outcome` is called once per example, in order.
    public func evaluate(parameters: [Float], on data: some SampleSource, indices: [Int]? = nil,
                         attack: AdversarialAttack, key: StreamKey,
                         outcome: ((RobustOutcome) -> Void)? = nil) -> RobustEvaluation {
        let all = indices ?? Array(0..<data.sampleCount)
        let name = attack.description
        guard !all.isEmpty else {
            let empty = Evaluation(loss: .nan, accuracy: .nan, count: 0)
            return RobustEvaluation(attack: name, clean: empty, adversarial: empty)
        }
        let capacity = workspace.capacity, d = network.inputSize
        var labels = [Int32](repeating: 0, count: capacity)
        var cleanLoss = [Double](repeating: 0, count: capacity), advLoss = cleanLoss, loss = cleanLoss
        var cleanCorrect = [Bool](repeating: false, count: capacity), robust = cleanCorrect, correct = cleanCorrect
        var inputs = [Float](repeating: 0, count: capacity * d)
        var sums = (clean: 0.0, cleanRight: 0, adv: 0.0, robust: 0)
        parameters.withUnsafeBufferPointer { pp in
            let p = pp.baseAddress!
            all.withUnsafeBufferPointer { idx in
                var lo = 0
                while lo < all.count {
                    let hi = min(lo + capacity, all.count), b = hi - lo
                    labels.withUnsafeMutableBufferPointer { l in
                        data.gather(UnsafeBufferPointer(rebasing: idx[lo..<hi]), inputs: workspace.input,
                                    labels: l.baseAddress!)
                    }
                    inputs.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: workspace.input, count: b * d) }
                    lossAndInputGradient(parameters: p, labels: labels, batch: b, gradient: false,
                                         losses: &cleanLoss, correct: &cleanCorrect)
                    for r in 0..<b {
                        advLoss[r] = -.infinity
                        robust[r] = cleanCorrect[r]
                    }
                    for restart in 0..<attack.restarts {
                        inputs.withUnsafeBufferPointer { workspace.input.update(from: $0.baseAddress!, count: b * d) }
                        perturb(parameters: p, labels: labels, batch: b, attack: attack,
                                ids: idx.baseAddress! + lo, restart: restart, key: key)
                        lossAndInputGradient(parameters: p, labels: labels, batch: b, gradient: false,
                                             losses: &loss, correct: &correct)
                        for r in 0..<b {
                            advLoss[r] = max(advLoss[r], loss[r])
                            robust[r] = robust[r] && correct[r]
                        }
                    }
                    for r in 0..<b {
                        sums.clean += cleanLoss[r]
                        sums.cleanRight += cleanCorrect[r] ? 1 : 0
                        sums.adv += advLoss[r]
                        sums.robust += robust[r] ? 1 : 0
                        outcome?(RobustOutcome(index: idx[lo + r], label: labels[r], cleanLoss: cleanLoss[r],
                                               cleanCorrect: cleanCorrect[r], adversarialLoss: advLoss[r],
                                               robust: robust[r]))
                    }
                    lo = hi
                }
            }
        }
        let n = Double(all.count)
        return RobustEvaluation(
            attack: name,
            clean: Evaluation(loss: sums.clean / n, accuracy: Double(sums.cleanRight) / n, count: all.count),
            adversarial: Evaluation(loss: sums.adv / n, accuracy: Double(sums.robust) / n, count: all.count))
    }
}
