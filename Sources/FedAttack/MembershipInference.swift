// MembershipInference: Yeom et al.'s loss-threshold attack, its ROC, AUC and TPR at a fixed FPR (pitfalls §7.1–7.2).
import FedNN
import FedTensor
import Foundation

/// The loss-threshold membership-inference attack (Yeom, Giacomelli, Fredrikson & Jha, CSF 2018): score = −ℓ(x, y)
/// of the final model in evaluation mode; members (training examples) are positives. Reports the whole ROC
/// (AUC, TPR at fixed FPR, advantage) and Yeom's own threshold τ = mean training loss.
public struct MembershipInferenceResult: Sendable, Equatable, Codable {
    /// Area under the ROC: P(score_member > score_non-member) + ½·P(tie).
    public var auc: Double
    /// The largest TPR among ROC points with FPR ≤ 1% (≤, as Privacy Meter and ART).
    public var tprAt1PercentFPR: Double
    /// The largest TPR among ROC points with FPR ≤ 0.1%.
    public var tprAtTenthPercentFPR: Double
    /// max over thresholds of TPR − FPR.
    public var advantage: Double
    /// Yeom's τ (the members' mean loss): TPR and FPR of "member iff ℓ < τ".
    public var yeomThreshold: Double
    public var yeomTPR: Double
    public var yeomFPR: Double
    public var members: Int
    public var nonMembers: Int
}

public enum MembershipInference {
    /// ROC points (FPR, TPR) from (0, 0) to (1, 1) for scores where higher means "member": one point per distinct
    /// score (ties form one step).
    public static func roc(members: [Double], nonMembers: [Double]) -> [(fpr: Double, tpr: Double)] {
        let all = (members.map { ($0, true) } + nonMembers.map { ($0, false) }).sorted { $0.0 > $1.0 }
        var points = [(fpr: 0.0, tpr: 0.0)]
        var tp = 0, fp = 0, i = 0
        while i < all.count {
            let score = all[i].0
            while i < all.count && all[i].0 == score {
                if all[i].1 { tp += 1 } else { fp += 1 }
                i += 1
            }
            points.append((Double(fp) / Double(nonMembers.count), Double(tp) / Double(members.count)))
        }
        return points
    }

    /// The attack on per-example losses of members (training examples) and non-members (held out).
    public static func lossThreshold(memberLosses: [Double], nonMemberLosses: [Double]) -> MembershipInferenceResult {
        precondition(!memberLosses.isEmpty && !nonMemberLosses.isEmpty, "need members and non-members")
        var result = scored(members: memberLosses.map { -$0 }, nonMembers: nonMemberLosses.map { -$0 })
        let tau = memberLosses.reduce(0, +) / Double(memberLosses.count)
        result.yeomThreshold = tau
        result.yeomTPR = Double(memberLosses.filter { $0 < tau }.count) / Double(memberLosses.count)
        result.yeomFPR = Double(nonMemberLosses.filter { $0 < tau }.count) / Double(nonMemberLosses.count)
        return result
    }

    /// Per-example cross-entropy −log softmax(z)_y of `parameters` (evaluation mode) on `indices` of `data`,
    /// computed in Float64 with the max logit subtracted.
    public static func perExampleLosses(_ network: Network, parameters: [Float], on data: some SampleSource,
                                        indices: [Int], workspace: Workspace) -> [Double] {
        evaluateWithLosses(network, parameters: parameters, on: data, indices: indices, workspace: workspace).losses
    }
}
