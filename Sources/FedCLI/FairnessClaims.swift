// FairnessClaims: the table of spec C.3's claims with what the synthetic study measured and a verdict per claim.
import FedNN
import Foundation

extension FairnessCommand {
    /// The statistics each claim's verdict rests on, for one seed's grid.
    struct ClaimNumbers {
        var rho = 0.0, rhoPaper = 0.0, rhoWithin = 0.0, pairs = 0, withinGroups = 0
        var positive = 0, impacts = 0, meanImpact = 0.0
        var rhoAdv = 0.0, rhoRobust = 0.0
        var benefit: [Double] = [], band = 0.0
        var mitigation: [MitigationEffect] = []
        /// Claims 1–5: reproduced, not, or not measured (nil).
        var verdicts: [Bool?] = []
    }

    static func claimNumbers(runs: [FairnessRun], fineTune: [(theta: Double, pretrained: FairnessRun, scratch: FairnessRun)],
                             mitigations: [FairnessRun], settings s: FairnessSettings) -> ClaimNumbers {
        var c = ClaimNumbers()
        let noisy = runs.filter { $0.sigma > 0 }
        // 1. Group test loss against FNR (effective at initialisation, and the paper-style ratio).
        var fnr: [Double] = [], paper: [Double] = [], loss: [Double] = []
        for r in noisy {
            for (g, t) in r.groups.groups.enumerated() where t.count > 0 {
                fnr.append(r.effectiveFNRStart[g])
                paper.append(r.paperFNR[g])
                loss.append(t.meanLoss)
            }
        }
        (c.rho, c.rhoPaper, c.pairs) = (spearman(fnr, loss), spearman(paper, loss), loss.count)
        // Within one group (fixed feature norm and frequency) across σ: the part of the correlation due to DP alone.
        var within: [Double] = []
        for tail in Set(noisy.map(\.tailNorm)).sorted() {
            let cell = noisy.filter { $0.tailNorm == tail }
            for g in 0..<(cell.first?.groups.groups.count ?? 0) {
                let r = spearman(cell.map { $0.effectiveFNRStart[g] }, cell.map { $0.groups.groups[g].meanLoss })
                if r.isFinite { within.append(r) }
            }
        }
        (c.rhoWithin, c.withinGroups) = (within.isEmpty ? .nan : mean(within), within.count)
        // 2. Disparate impact of DP on the tail subpopulation (against σ = 0 at the same tail norm).
        let impacts: [Double] = noisy.compactMap { r in
            runs.first { $0.tailNorm == r.tailNorm && $0.sigma == 0 }.map {
                disparateImpact(nonDP: $0.subgroups, dp: r.subgroups, majority: 0, minority: 1)
            }
        }
        (c.positive, c.impacts, c.meanImpact) = (impacts.filter { $0 > 0 }.count, impacts.count, mean(impacts))
        // 3. Robustness: the adversarial loss increase (adversarial − clean) against σ.
        let sigmas = runs.map(\.sigma)
        c.rhoAdv = spearman(sigmas, runs.map { $0.robust.adversarial.loss - $0.robust.clean.loss })
        c.rhoRobust = spearman(sigmas, runs.map { $0.robust.clean.accuracy - $0.robust.adversarial.accuracy })
        // 4. Pre-training benefit against θ, and the sd of a difference of two test accuracies (independent
        // binomials) at θ = 0: the noise band.
        c.benefit = fineTune.map { $0.pretrained.groups.accuracy - $0.scratch.groups.accuracy }
        c.band = fineTune.first.map { f -> Double in
            let (a, b, n) = (f.pretrained.groups.accuracy, f.scratch.groups.accuracy, Double(s.testCount))
            return (a * (1 - a) / n + b * (1 - b) / n).squareRoot()
        } ?? .nan
        let aligned = c.benefit.first ?? .nan, shifted = c.benefit.last ?? .nan
        c.mitigation = mitigationEffects(mitigations, testCount: s.testCount)
        c.verdicts = [c.rho < 0 && c.rhoWithin < 0,
                      impacts.isEmpty ? nil : c.meanImpact > 0 && c.positive * 2 > impacts.count,
                      c.rhoAdv > 0,
                      c.benefit.isEmpty ? nil : aligned > 2 * c.band && shifted < aligned - 2 * c.band,
                      c.mitigation.isEmpty ? nil : c.mitigation.allSatisfy { $0.fnr > 1 && $0.gain > 2 * $0.sd }]
        return c
    }

    /// The five claims of spec C.3, in order: the first column of both claims.md tables (one seed, several seeds).
    static let claimNames = ["Test loss rises as FNR falls", "Minority / long-tail groups lose more accuracy under DP",
                             "Adversarial loss / robust error worse under DP",
                             "Pre-training helps only when source and target align; can hurt under large shift",
                             "Augmentation and freezing raise FNR and improve accuracy and robustness"]

    /// claims.md: one row per claim of spec C.3, with the statistic the verdict rests on.
    static func claims(runs: [FairnessRun], fineTune: [(theta: Double, pretrained: FairnessRun, scratch: FairnessRun)],
                       mitigations: [FairnessRun] = [], settings s: FairnessSettings) -> String {
        func verdict(_ ok: Bool) -> String { ok ? "reproduced" : "not reproduced" }
        let c = claimNumbers(runs: runs, fineTune: fineTune, mitigations: mitigations, settings: s)
        let (rho, rhoPaper, rhoWithin, rhoAdv, rhoRobust) = (c.rho, c.rhoPaper, c.rhoWithin, c.rhoAdv, c.rhoRobust)
        let (benefit, band, shifted) = (c.benefit, c.band, c.benefit.last ?? .nan)
        let row = { (claim: String, measured: String, ok: Bool?) in
            "| \(claim) | \(measured) | \(ok.map(verdict) ?? "not measured") |\n"
        }
        var md = "# DP-SGD fairness and robustness: the synthetic study (spec C.3)\n\n"
        md += "Settings: K = \(s.data.classes), S = \(s.data.subgroups), P = \(s.data.patches), d = \(s.data.dimension), "
        md += "m = \(s.filtersPerClass), n = \(s.trainCount) train / \(s.testCount) test, expected batch "
        md += "\(s.expectedBatch), lr \(s.learningRate), \(s.steps) steps, C = \(s.maxGradNorm), σ ∈ \(s.sigmas), "
        md += "common ‖u‖ = \(s.commonNorm), tail ‖u‖ ∈ \(s.tailNorms), tail prior \(s.data.subgroupPriors.last ?? 0), "
        md += "seed \(s.seed). One seed: the verdicts are directions on one draw, not significance tests.\n\n"
        md += "| claim (C.3) | what we measured | verdict |\n| --- | --- | --- |\n"
        md += row(claimNames[0],
                  "Spearman ρ(group effective FNR at initialisation, group test loss) = \(fixed(rho, 3)) over "
                  + "\(c.pairs) (run, group) pairs with σ > 0 (across groups: feature norm and frequency differ too); "
                  + "with the paper-style ‖u‖/σ_n: ρ = \(fixed(rhoPaper, 3)); within each group across σ, mean ρ = "
                  + "\(fixed(rhoWithin, 3)) over \(c.withinGroups) groups",
                  c.verdicts[0])
        md += row(claimNames[1],
                  "disparate impact (tail drop − common drop vs σ = 0) > 0 in \(c.positive) of \(c.impacts) runs, "
                  + "mean \(fixed(c.meanImpact * 100, 2)) points",
                  c.verdicts[1])
        md += row(claimNames[2],
                  "Spearman ρ(σ, adversarial − clean loss) = \(fixed(rhoAdv, 3)); ρ(σ, clean − robust accuracy) = "
                  + "\(fixed(rhoRobust, 3)) (PGD-10 L2, ε = \(s.attackEpsilon)); not at matched clean accuracy",
                  c.verdicts[2])
        md += row(claimNames[3],
                  "accuracy benefit of pre-training (fine-tuned − scratch, σ = \(s.fineTuneSigma), \(s.fineTuneSteps) "
                  + "steps) at θ = " + fineTune.map { "\($0.theta)°" }.joined(separator: ", ") + ": "
                  + benefit.map { fixed($0 * 100, 2) }.joined(separator: ", ") + " points (noise band: sd "
                  + "\(fixed(band * 100, 2)) points; reproduced only if the aligned benefit exceeds 2 sd and the "
                  + "largest shift's is 2 sd below it)",
                  c.verdicts[3])
        md += row(claimNames[4],
                  "σ = \(s.mitigationSigma), tail ‖u‖ = \(s.mitigationTailNorm), same data, initialisation and noise "
                  + "streams; " + mitigationText(c.mitigation, mitigations), c.verdicts[4])
        md += "\nThe large-shift part of claim 4 (\"can hurt\") holds here only if the benefit at the largest θ is "
        md += "negative: \(fixed(shifted * 100, 2)) points.\n"
        return md
    }
}
