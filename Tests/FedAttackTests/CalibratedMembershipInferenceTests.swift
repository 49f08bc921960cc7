// CalibratedMembershipInferenceTests: offline LiRA against a memorising target, and a target that memorises nothing.
import FedAttack
import FedTensor
import Foundation
import Testing

@Suite("Calibrated membership inference (offline LiRA)")
struct CalibratedMembershipInferenceTests {
    /// ℓ = log(1 + e^(−φ)) inverts φ = log(p/(1 − p)), p = e^(−ℓ).
    static func loss(_ phi: Double) -> Double { log1p(exp(-phi)) }

    @Test func scaledConfidenceClosedForm() {
        #expect(abs(MembershipInference.scaledConfidence(loss: log(2))) < 1e-12)  // p = ½
        for phi in [-5.0, -0.3, 2, 7] {
            #expect(abs(MembershipInference.scaledConfidence(loss: Self.loss(phi)) - phi) < 1e-9)
        }
    }

    /// 400 members and 400 non-members whose difficulty varies widely (base φ_i ~ N(0, 3²)); K = 4 reference models
    /// see each example at φ_i + N(0, 0.5²). A memorising target lifts its members by 2 (4 reference σ): the
    /// calibrated attack separates them (z shift ≈ 4/√2.5 ≈ 2.5: AUC ≈ Φ(2.5) ≈ 0.99) where the loss threshold,
    /// blinded by difficulty, reaches ≈ Φ(2/√18.5) ≈ 0.68. A target that memorises nothing (members and
    /// non-members drawn alike) is the negative control: AUC within 4 standard errors of ½
    /// (SE = √((n₁ + n₂ + 1)/(12·n₁·n₂)) = 0.0204).
    @Test func memorisingTargetIsFoundAndANonMemorisingOneIsNot() {
        let n = 400, k = 4
        func gaussians(_ stream: UInt64, _ count: Int, std: Float) -> [Double] {
            var x = [Float](repeating: 0, count: count)
            x.withUnsafeMutableBufferPointer { fillGaussian($0, key: StreamKey(seed: 31, stream), std: std) }
            return x.map(Double.init)
        }
        let baseM = gaussians(1, n, std: 3), baseN = gaussians(2, n, std: 3)
        let refM = (0..<k).map { j in zip(baseM, gaussians(10 + UInt64(j), n, std: 0.5)).map { Self.loss($0 + $1) } }
        let refN = (0..<k).map { j in zip(baseN, gaussians(20 + UInt64(j), n, std: 0.5)).map { Self.loss($0 + $1) } }
        let nonMembers = zip(baseN, gaussians(3, n, std: 0.5)).map { Self.loss($0 + $1) }
        let memorised = zip(baseM, gaussians(4, n, std: 0.5)).map { Self.loss($0 + $1 + 2) }
        let lira = MembershipInference.offlineLiRA(memberLosses: memorised, nonMemberLosses: nonMembers,
                                                   referenceMemberLosses: refM, referenceNonMemberLosses: refN)
        let threshold = MembershipInference.lossThreshold(memberLosses: memorised, nonMemberLosses: nonMembers)
        #expect(lira.auc > 0.95)
        #expect(lira.tprAt1PercentFPR > 0.5)
        #expect(threshold.auc > 0.6 && threshold.auc < 0.76)
        #expect(lira.auc > threshold.auc + 0.2)
        #expect(lira.yeomTPR.isNaN && lira.members == n && lira.nonMembers == n)
        // Negative control: the members are drawn like non-members (the target learnt nothing about them).
        let forgotten = zip(baseM, gaussians(5, n, std: 0.5)).map { Self.loss($0 + $1) }
        let control = MembershipInference.offlineLiRA(memberLosses: forgotten, nonMemberLosses: nonMembers,
                                                      referenceMemberLosses: refM, referenceNonMemberLosses: refN)
        let se = ((2.0 * Double(n) + 1) / (12 * Double(n) * Double(n))).squareRoot()
        #expect(abs(control.auc - 0.5) < 4 * se)
        #expect(abs(lira.auc - 0.5) > 4 * se)
    }
}
