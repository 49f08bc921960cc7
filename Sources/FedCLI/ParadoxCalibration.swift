// ParadoxCalibration: the study's calibrated membership attack: offline LiRA with K reference models per cell.
import FedAttack
import FedData
import FedNN
import Foundation

extension ParadoxCellRun {
    /// Offline LiRA (`MembershipInference.offlineLiRA`) for a cell: `study.referenceModels` models trained exactly
    /// like the cell (same mechanism, level, setting and recipe; seeds derived from the cell's) on the training
    /// images after the attack's members, so none of the attacked examples (members: the first training images;
    /// non-members: the first test images) is in any of them; each example's loss under the target is compared
    /// with its losses under them. Costs K trainings per cell.
    static func calibratedAttack(_ cell: ParadoxCell, network: Network, study: ParadoxConfiguration,
                                 train: DatasetSamples, test: DatasetSamples, members: [Int], others: [Int],
                                 memberLosses: [Double], nonMemberLosses: [Double]) async throws
        -> MembershipInferenceResult
    {
        let outside = DatasetSamples(train.dataset.subset(indices: members.count..<train.sampleCount))
        guard outside.sampleCount >= 1 else {
            throw UsageError("referenceModels: the reference models train on the training images after the first "
                             + "attackSamples (\(members.count)), and there are none; raise trainLimit")
        }
        let workspace = Workspace(network: network, capacity: evaluationCapacity(study, train: train))
        var referenceMembers: [[Double]] = [], referenceOthers: [[Double]] = []
        for j in 0..<study.referenceModels {
            var reference = cell
            reference.seed = cell.seed &+ UInt64(j + 1) &* 0x9E37_79B9_7F4A_7C15
            let model = try await trainModel(reference, network: network, study: study, train: outside, test: test)
            referenceMembers.append(MembershipInference.perExampleLosses(network, parameters: model.parameters,
                                                                         on: train, indices: members,
                                                                         workspace: workspace))
            referenceOthers.append(MembershipInference.perExampleLosses(network, parameters: model.parameters,
                                                                        on: test, indices: others,
                                                                        workspace: workspace))
        }
        return MembershipInference.offlineLiRA(memberLosses: memberLosses, nonMemberLosses: nonMemberLosses,
                                               referenceMemberLosses: referenceMembers,
                                               referenceNonMemberLosses: referenceOthers)
    }
}
