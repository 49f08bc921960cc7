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

    /// `roc` (two sorted sides merged) gives exactly the points of the definition: every score of both sides
    /// ranked together, highest first, one point per distinct score (the oracle below, one sort of tagged pairs),
    /// on scores with many ties between and within the sides, and lone sides. Negative control: the oracle without
    /// grouping ties yields other points.
    @Test func rocEqualsOneSortOfAllScores() {
        func oracle(_ members: [Double], _ nonMembers: [Double], groupTies: Bool = true) -> [[Double]] {
            let all = (members.map { ($0, true) } + nonMembers.map { ($0, false) }).sorted { $0.0 > $1.0 }
            var points: [[Double]] = [[0, 0]], tp = 0, fp = 0, i = 0
            while i < all.count {
                let score = all[i].0
                repeat {
                    if all[i].1 { tp += 1 } else { fp += 1 }
                    i += 1
                } while groupTies && i < all.count && all[i].0 == score
                points.append([Double(fp) / Double(nonMembers.count), Double(tp) / Double(members.count)])
            }
            return points
        }
        // Points that differ (and the length difference), not the arrays: a failure prints two numbers.
        func differences(_ a: [[Double]], _ b: [[Double]]) -> Int {
            abs(a.count - b.count) + zip(a, b).filter { $0 != $1 }.count
        }
        var state: UInt64 = 3
        func draw() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 56) / 8  // 256 values: ties within and between the sides
        }
        var checked = 0
        for (m, n) in [(2_000, 2_000), (37, 5), (1, 64), (300, 1)] {
            let members = (0..<m).map { _ in draw() }, nonMembers = (0..<n).map { _ in -draw() + 20 }
            let got = MembershipInference.roc(members: members, nonMembers: nonMembers).map { [$0.fpr, $0.tpr] }
            #expect(differences(got, oracle(members, nonMembers)) == 0, "\(m) members, \(n) non-members")
            checked += 1
        }
        #expect(checked == 4)
        let members = (0..<500).map { _ in draw() }, nonMembers = (0..<500).map { _ in draw() }
        let got = MembershipInference.roc(members: members, nonMembers: nonMembers).map { [$0.fpr, $0.tpr] }
        #expect(differences(got, oracle(members, nonMembers)) == 0)
        #expect(differences(got, oracle(members, nonMembers, groupTies: false)) > 0)
    }
}

