// ParadoxMatching: matched.csv: each real-DP cell next to the heuristic cell of closest test accuracy.
import Foundation

/// The comparison the study exists for (issue 13, item 5): at equal accuracy, does heuristic noise resist
/// membership inference as well as real DP? For every DP cell, the non-DP cell (baseline or heuristic mechanism)
/// of the same model, setting and seed whose test accuracy is closest, with both attacks' AUC and TPR at 1% FPR.
/// Only the DP side has an ε.
enum ParadoxMatching {
    static let header = "model,setting,seed,dp_mechanism,dp_level,epsilon,dp_test_accuracy,dp_mia_auc,"
        + "dp_mia_tpr_at_1pct_fpr,matched_mechanism,matched_level,matched_test_accuracy,matched_mia_auc,"
        + "matched_mia_tpr_at_1pct_fpr,accuracy_difference\n"

    static func write(_ rows: [ParadoxReport.Row], to dir: URL) throws {
        var text = header
        for d in rows where StudyDPKind(rawValue: d.mechanism) != nil {
            let peers = rows.filter {
                StudyDPKind(rawValue: $0.mechanism) == nil && $0.model == d.model && $0.setting == d.setting
                    && $0.seed == d.seed
            }
            guard let m = peers.min(by: {
                abs($0("test_accuracy") - d("test_accuracy")) < abs($1("test_accuracy") - d("test_accuracy"))
            }) else { continue }
            let values: [Double] = [d.level, d("epsilon"), d("test_accuracy"), d("mia_auc"), d("mia_tpr_at_1pct_fpr")]
            let matched: [Double] = [m("test_accuracy"), m("mia_auc"), m("mia_tpr_at_1pct_fpr"),
                                     m("test_accuracy") - d("test_accuracy")]
            text += "\(d.model),\(d.setting),\(d.seed),\(d.mechanism)," + values.map { "\($0)" }.joined(separator: ",")
                + ",\(m.mechanism),\(m.level)," + matched.map { "\($0)" }.joined(separator: ",") + "\n"
        }
        try text.write(to: dir.appendingPathComponent("matched.csv"), atomically: true, encoding: .utf8)
    }
}
