// MembershipInferenceTests: the loss-threshold attack's AUC and TPR at low FPR on hand-made and random examples.
import FedAttack
import FedTensor
import Testing

@Suite("Membership inference")
struct MembershipInferenceTests {
    /// Member losses {0.1, 0.2, 0.4, 0.9}, non-members {0.3, 0.5, 0.8, 1.0}: pairs with ℓ_m < ℓ_n are 4 + 4 + 3 + 1
    /// = 12 of 16, so AUC = 0.75. Ranked by loss: m m n m n n m n, so at FPR 0 the TPR is 2/4; at FPR 1/4 it is 3/4.
    /// Yeom's τ = 0.4 (members' mean): ℓ < τ for 2 members and 1 non-member.
    @Test func handMadeExample() {
        let r = MembershipInference.lossThreshold(memberLosses: [0.1, 0.2, 0.4, 0.9],
                                                  nonMemberLosses: [0.3, 0.5, 0.8, 1.0])
        #expect(abs(r.auc - 0.75) < 1e-12)
        #expect(r.tprAt1PercentFPR == 0.5 && r.tprAtTenthPercentFPR == 0.5)
        #expect(abs(r.advantage - 0.5) < 1e-12)
        #expect(abs(r.yeomThreshold - 0.4) < 1e-12 && r.yeomTPR == 0.5 && r.yeomFPR == 0.25)
        // Swapping the roles gives 1 − AUC: an orientation bug would not.
        let swapped = MembershipInference.lossThreshold(memberLosses: [0.3, 0.5, 0.8, 1.0],
                                                        nonMemberLosses: [0.1, 0.2, 0.4, 0.9])
        #expect(abs(swapped.auc - 0.25) < 1e-12)
        // Ties count one half.
        #expect(MembershipInference.lossThreshold(memberLosses: [0.5], nonMemberLosses: [0.5]).auc == 0.5)
    }

    /// The trapezoid AUC equals the Mann–Whitney count P(ℓ_m < ℓ_n) + ½P(tie), computed here by a double loop,
    /// on random losses with many ties.
    @Test func aucEqualsTheMannWhitneyCount() {
        var rng = Philox(seed: 8, 1)
        let members = (0..<300).map { _ in Double(Int(abs(rng.nextGaussian()) * 10)) / 10 }
        let others = (0..<200).map { _ in Double(Int((abs(rng.nextGaussian()) + 0.3) * 10)) / 10 }
        var wins = 0.0
        for m in members { for n in others { wins += m < n ? 1 : (m == n ? 0.5 : 0) } }
        let r = MembershipInference.lossThreshold(memberLosses: members, nonMemberLosses: others)
        #expect(abs(r.auc - wins / Double(members.count * others.count)) < 1e-12)
        #expect(r.auc > 0.5)
    }
}
