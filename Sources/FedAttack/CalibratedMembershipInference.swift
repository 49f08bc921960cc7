// CalibratedMembershipInference: offline LiRA: each example's loss compared with its loss under reference models.
import Foundation

extension MembershipInference {
    /// Logit-scaled confidence φ = log(p/(1 − p)) of the true class, p = exp(−ℓ) (Carlini et al. 2022, §IV.C),
    /// computed stably as −log(expm1(ℓ)) and clamped to ±40 (p within 1e−17 of 0 or 1).
    public static func scaledConfidence(loss: Double) -> Double {
        guard loss > 0 else { return 40 }
        return min(40, max(-40, -log(expm1(loss))))
    }

    /// The offline likelihood-ratio attack (LiRA; Carlini, Chien, Nasr, Song, Terzis & Tramèr, S&P 2022, §VI.B,
    /// the "offline" variant with a global variance for few reference models): K reference models are trained
    /// **without** any of the attacked examples; for example i, φ_i^out,k is its scaled confidence under reference
    /// model k, μ_i = mean over k, and σ² is the variance of φ^out − μ pooled over all examples and models. The
    /// score is the one-sided z = (φ_i − μ_i)/σ of the target model's φ_i (higher: member), which calibrates each
    /// example by how easy it is; the loss-threshold attack is the uncalibrated z = φ_i. Reported like
    /// `lossThreshold` (AUC, TPR at 1% / 0.1% FPR, advantage); the Yeom fields are NaN.
    ///
    /// `referenceMemberLosses[k][i]` is member i's loss under reference model k (likewise for non-members);
    /// K ≥ 2 models, each with a loss for every example.
    public static func offlineLiRA(memberLosses: [Double], nonMemberLosses: [Double],
                                   referenceMemberLosses: [[Double]],
                                   referenceNonMemberLosses: [[Double]]) -> MembershipInferenceResult {
        precondition(!memberLosses.isEmpty && !nonMemberLosses.isEmpty, "need members and non-members")
        let k = referenceMemberLosses.count
        precondition(k >= 2 && referenceNonMemberLosses.count == k, "need K ≥ 2 reference models for both sets")
        precondition(referenceMemberLosses.allSatisfy { $0.count == memberLosses.count }
                     && referenceNonMemberLosses.allSatisfy { $0.count == nonMemberLosses.count },
                     "every reference model needs a loss for every example")
        func means(_ refs: [[Double]], _ n: Int) -> [Double] {
            (0..<n).map { i in refs.reduce(0) { $0 + scaledConfidence(loss: $1[i]) } / Double(k) }
        }
        let mu = (means(referenceMemberLosses, memberLosses.count), means(referenceNonMemberLosses, nonMemberLosses.count))
        var sum = 0.0, count = 0
        for (refs, m) in [(referenceMemberLosses, mu.0), (referenceNonMemberLosses, mu.1)] {
            for r in refs {
                for (i, l) in r.enumerated() {
                    let d = scaledConfidence(loss: l) - m[i]
                    sum += d * d
                    count += 1
                }
            }
        }
        // Unbiased: each example's mean uses up one of its K degrees of freedom.
        let n = memberLosses.count + nonMemberLosses.count
        let sigma = max((sum / Double(count - n)).squareRoot(), 1e-12)
        let members = memberLosses.enumerated().map { (scaledConfidence(loss: $1) - mu.0[$0]) / sigma }
        let others = nonMemberLosses.enumerated().map { (scaledConfidence(loss: $1) - mu.1[$0]) / sigma }
        return scored(members: members, nonMembers: others)
    }

    /// AUC, TPR at 1% / 0.1% FPR and advantage of an attack's scores (higher: member); Yeom's fields NaN.
    public static func scored(members: [Double], nonMembers: [Double]) -> MembershipInferenceResult {
        let points = roc(members: members, nonMembers: nonMembers)
        var auc = 0.0
        for (a, b) in zip(points, points.dropFirst()) { auc += (b.fpr - a.fpr) * (a.tpr + b.tpr) / 2 }
        func tpr(atFPR alpha: Double) -> Double { points.filter { $0.fpr <= alpha }.map(\.tpr).max() ?? 0 }
        return MembershipInferenceResult(
            auc: auc, tprAt1PercentFPR: tpr(atFPR: 0.01), tprAtTenthPercentFPR: tpr(atFPR: 0.001),
            advantage: points.map { $0.tpr - $0.fpr }.max() ?? 0, yeomThreshold: .nan, yeomTPR: .nan, yeomFPR: .nan,
            members: members.count, nonMembers: nonMembers.count)
    }
}
