// Divergence: a loss or weight that is no longer a finite number ends the run with a message naming where.
import FedRuntime
import Foundation

/// A run that must not pass as a result: training diverged (NaN or infinite loss or weights), or no client ever
/// answered. Exit status 1 (after the files are written), never a "final accuracy" of garbage.
struct RunFailure: Error, CustomStringConvertible {
    var description: String
}

enum Divergence {
    /// The hint every divergence message ends with.
    static func hint(flag: String, rate: String) -> String {
        "lower \(rate) (or pass \(flag) to keep going and record the non-finite values)"
    }

    /// Whether any of `weights` is NaN or infinite: w·0 is 0 for every finite w and NaN otherwise, so the sum is
    /// finite exactly when every weight is (one vectorisable pass).
    static func hasNonFinite(_ weights: [Float]) -> Bool {
        var sum: Float = 0
        for w in weights { sum += w * 0 }
        return !sum.isFinite
    }

    /// The first round whose train or test loss, or the final weights, are not finite numbers, described.
    static func firstDivergedRound(_ summary: FederationSummary, finalWeights: [Float]?) -> String? {
        for r in summary.rounds {
            let answered = !RoundAnswers.nobodyAnswered(r)
            if answered && !r.meanTrainLoss.isFinite { return "round \(r.round): the mean train loss is \(r.meanTrainLoss)" }
            if let loss = r.testLoss, !loss.isFinite { return "round \(r.round): the test loss is \(loss)" }
        }
        if let w = finalWeights, hasNonFinite(w) {
            return "round \(summary.rounds.last?.round ?? 0): the global model holds NaN or infinite weights"
        }
        return nil
    }
}

/// Which rounds had an answer to report.
public enum RoundAnswers {
    /// No sampled client's upload was aggregated: every one missed the deadline, or NISS skipped the round. Its
    /// mean train loss is NaN (no client produced one); the CLI says so and leaves train_loss empty in rounds.csv.
    public static func nobodyAnswered(_ r: RoundReport) -> Bool {
        r.skipped || (!r.sampled.isEmpty && Set(r.dropped).isSuperset(of: r.sampled))
    }
}
