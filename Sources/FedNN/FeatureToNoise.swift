// FeatureToNoise: the paper-style and the effective per-group feature-to-noise ratios of a DP-SGD run (spec C.1 item 4).
import FedTensor

/// Feature-to-noise ratios of one group at one point of training.
public struct GroupFNR: Sendable, Equatable, Codable {
    public var group: Int
    /// ‖u_{i,j}‖₂ / σ_n with σ_n = σ·C/B (B the expected batch q·N): the summary's definition, constant in training.
    public var paperStyle: Double
    /// ‖E[Σ_{b ∈ batch ∩ group} clip(g_b)]‖₂ / (σ·C·√d_trainable), estimated as q·N_g·‖mean clipped gradient of the
    /// group's examples‖ / (σ·C·√d): the group's expected signal in one step's noisy sum against the noise's norm.
    public var effective: Double
}

public enum FeatureToNoise {
    /// σ_n = σ·C/B: the per-coordinate noise std of the averaged DP-SGD gradient (spec C.4).
    public static func noiseStd(_ dp: DPSGDSettings, examples: Int) -> Double {
        dp.noiseMultiplier * dp.maxGradientNorm / (dp.sampleRate * Double(examples))
    }

    /// The paper-style ratio ‖u‖/σ_n (infinite without noise).
    public static func paperStyle(featureNorm: Double, dp: DPSGDSettings, examples: Int) -> Double {
        featureNorm / noiseStd(dp, examples: examples)
    }

    /// The effective ratio of each group: the clipped per-example gradients of (up to `sample`) members of each group
    /// at `parameters` are summed by `trainer.clippedSum` (DP-SGD's own clipping, frozen layers excluded), averaged,
    /// scaled by the group's expected count per step q·N_g, and divided by σ·C·√d_trainable. `groups[k]` is the group
    /// of `indices[k]`; N = indices.count. Uses `workspace.gradient` as scratch.
    public static func effective(trainer: inout DPSGDTrainer, parameters: inout [Float], on data: some SampleSource,
                                 indices: [Int], groups: [Int], groupCount: Int, sample: Int = 256,
                                 workspace: Workspace) -> [Double] {
        precondition(indices.count == groups.count, "indices and groups differ in length")
        let dp = trainer.dp
        let d = trainer.network.trainableCount(frozen: trainer.frozen)
        let noiseNorm = dp.noiseMultiplier * dp.maxGradientNorm * Double(d).squareRoot()
        var out: [Double] = []
        for g in 0..<groupCount {
            let members = indices.indices.filter { groups[$0] == g }.map { indices[$0] }
            guard !members.isEmpty else {
                out.append(.nan)
                continue
            }
            let picked = Array(members.prefix(sample))
            _ = trainer.clippedSum(parameters: &parameters, on: data, batch: picked, workspace: workspace, noiseStep: 0)
            let norm = workspace.gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            let expected = dp.sampleRate * Double(members.count) * norm / Double(picked.count)
            out.append(noiseNorm > 0 ? expected / noiseNorm : .infinity)
        }
        return out
    }
}
