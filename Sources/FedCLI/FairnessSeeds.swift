// FairnessSeeds: `fednoise fairness --seeds`: each claim's statistics as mean ± sd over seeds, and verdict counts.
import Foundation

extension FairnessCommand {
    /// The named statistics of one seed's claims, in claims.md order: (claim 1…5, name, value).
    static func statistics(_ c: ClaimNumbers, rotations: [Double]) -> [(claim: Int, name: String, value: Double)] {
        var out: [(Int, String, Double)] = [
            (1, "spearman_effective_fnr_vs_loss", c.rho), (1, "spearman_paper_fnr_vs_loss", c.rhoPaper),
            (1, "mean_within_group_spearman", c.rhoWithin),
            (2, "runs_with_positive_disparate_impact", Double(c.positive)),
            (2, "mean_disparate_impact_points", c.meanImpact * 100),
            (3, "spearman_sigma_vs_adversarial_loss_increase", c.rhoAdv),
            (3, "spearman_sigma_vs_robust_accuracy_drop", c.rhoRobust),
        ]
        for (theta, b) in zip(rotations, c.benefit) { out.append((4, "pretraining_benefit_points_theta_\(theta)", b * 100)) }
        out.append((4, "benefit_noise_band_sd_points", c.band * 100))
        for e in c.mitigation {
            let tag = e.label.replacingOccurrences(of: "% frozen", with: "pct_frozen").replacingOccurrences(of: "=", with: "")
            out += [(5, "\(tag)_fnr_ratio", e.fnr), (5, "\(tag)_accuracy_gain_points", e.gain * 100),
                    (5, "\(tag)_tail_gain_points", e.tail * 100), (5, "\(tag)_pgd10_gain_points", e.robust * 100)]
        }
        return out
    }

    /// seeds.csv (one row per seed and statistic) and claims.md: per claim, each statistic's mean ± sd over the
    /// seeds (sample sd) and in how many seeds the single-seed verdict (claims.md of seed-S/) is "reproduced".
    static func writeSeeds(_ numbers: [(seed: UInt64, claims: ClaimNumbers)], settings s: FairnessSettings,
                           to dir: URL) throws {
        let perSeed = numbers.map { (seed: $0.seed, stats: statistics($0.claims, rotations: s.rotations)) }
        var csv = "seed,claim,statistic,value\n"
        for p in perSeed {
            for t in p.stats { csv += "\(p.seed),\(t.claim),\(t.name),\(t.value)\n" }
        }
        try csv.write(to: dir.appendingPathComponent("seeds.csv"), atomically: true, encoding: .utf8)
        let seeds = numbers.map { String($0.seed) }.joined(separator: ", ")
        var md = "# DP-SGD fairness and robustness: the synthetic study over \(numbers.count) seeds (spec C.3)\n\n"
        md += "Seeds \(seeds); each seed's full results and single-seed claims.md are in seed-S/. Settings as there "
        md += "(d = \(s.data.dimension), n = \(s.trainCount) train / \(s.testCount) test, \(s.steps) steps, σ ∈ "
        md += "\(s.sigmas), tail ‖u‖ ∈ \(s.tailNorms)). Each statistic: mean ± sd over the seeds (sample sd); "
        md += "the verdict counts the seeds whose single-seed verdict (the rule in seed-S/claims.md) is reproduced.\n\n"
        md += "| claim (C.3) | statistics, mean ± sd over seeds | reproduced in |\n| --- | --- | --- |\n"
        for (k, name) in claimNames.enumerated() {
            let stats = perSeed[0].stats.indices.filter { perSeed[0].stats[$0].claim == k + 1 }.map { i in
                let values = perSeed.map { $0.stats[i].value }
                return "\(perSeed[0].stats[i].name) = \(fixed(mean(values), 3)) ± \(fixed(sampleSD(values), 3))"
            }
            let verdicts = numbers.compactMap { $0.claims.verdicts[k] }
            let count = verdicts.isEmpty ? "not measured"
                : "\(verdicts.filter { $0 }.count) of \(verdicts.count) seeds"
            md += "| \(name) | \(stats.isEmpty ? "not run" : stats.joined(separator: "; ")) | \(count) |\n"
        }
        try md.write(to: dir.appendingPathComponent("claims.md"), atomically: true, encoding: .utf8)
    }

    /// The sample standard deviation (n − 1); NaN for fewer than 2 values.
    static func sampleSD(_ v: [Double]) -> Double {
        guard v.count > 1 else { return .nan }
        let m = mean(v)
        return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
    }
}
