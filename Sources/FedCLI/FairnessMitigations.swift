// FairnessMitigations: claim 5 of the DP fairness study: freezing and augmentation against FNR and accuracy.
import FedNN
import Foundation

extension FairnessCommand {
    /// mitigations.csv (one row per variant) and mitigations.svg (accuracy and FNR per variant).
    static func writeMitigations(_ runs: [FairnessRun], to dir: URL) throws {
        var csv = "frozen_fraction,copies,accuracy,tail_accuracy,common_accuracy,robust_accuracy,adversarial_loss,"
            + "mean_effective_fnr_start,tail_effective_fnr_start,mean_effective_fnr_end\n"
        for r in runs {
            csv += "\(r.frozenFraction),\(r.copies),\(r.groups.accuracy),\(r.subgroups.groups[1].accuracy),"
            csv += "\(r.subgroups.groups[0].accuracy),\(r.robust.adversarial.accuracy),\(r.robust.adversarial.loss),"
            csv += "\(mean(r.effectiveFNRStart)),\(mean(tail(r.effectiveFNRStart))),\(mean(r.effectiveFNREnd))\n"
        }
        try csv.write(to: dir.appendingPathComponent("mitigations.csv"), atomically: true, encoding: .utf8)
        let x = runs.indices.map(Double.init)
        let plot = LinePlot(
            title: "Claim 5: variants " + runs.enumerated().map { "\($0.offset) = \(label($0.element))" }
                .joined(separator: ", "),
            xLabel: "variant", yLabel: "accuracy / FNR ratio to the baseline",
            series: [PlotSeries(name: "test accuracy", points: zip(x, runs.map { $0.groups.accuracy }).map { ($0, $1) }),
                     PlotSeries(name: "tail accuracy",
                                points: zip(x, runs.map { $0.subgroups.groups[1].accuracy }).map { ($0, $1) }),
                     PlotSeries(name: "PGD-10 accuracy",
                                points: zip(x, runs.map { $0.robust.adversarial.accuracy }).map { ($0, $1) }),
                     PlotSeries(name: "effective FNR / baseline's",
                                points: zip(x, runs.map { mean($0.effectiveFNRStart) / mean(runs[0].effectiveFNRStart) })
                                    .map { ($0, $1) })])
        try plot.render().write(to: dir.appendingPathComponent("mitigations.svg"), atomically: true, encoding: .utf8)
    }

    static func label(_ r: FairnessRun) -> String {
        r.copies > 1 ? "k=\(r.copies)" : r.frozenFraction > 0 ? "\(Int(r.frozenFraction * 100))% frozen" : "baseline"
    }

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? .nan : v.reduce(0, +) / Double(v.count) }
    /// The tail groups' entries (odd group indices: subgroup 1 of each class with S = 2).
    static func tail(_ v: [Double]) -> [Double] { v.indices.filter { $0 % 2 == 1 }.map { v[$0] } }

    /// One claim-5 variant against the baseline (variant 0): effective FNR at initialisation as a ratio, and test,
    /// tail and PGD-10 accuracy differences, with `sd` the sd of a difference of two test accuracies.
    struct MitigationEffect {
        var label: String
        var fnr, gain, tail, robust, sd: Double
    }

    static func mitigationEffects(_ runs: [FairnessRun], testCount: Int) -> [MitigationEffect] {
        guard let base = runs.first, runs.count > 1 else { return [] }
        let n = Double(testCount)
        return runs.dropFirst().map { r in
            let (a, b) = (r.groups.accuracy, base.groups.accuracy)
            return MitigationEffect(label: label(r), fnr: mean(r.effectiveFNRStart) / mean(base.effectiveFNRStart),
                                    gain: a - b,
                                    tail: r.subgroups.groups[1].accuracy - base.subgroups.groups[1].accuracy,
                                    robust: r.robust.adversarial.accuracy - base.robust.adversarial.accuracy,
                                    sd: (a * (1 - a) / n + b * (1 - b) / n).squareRoot())
        }
    }

    /// The claims.md text of claim 5; reproduced if every variant raises the FNR and the accuracy by more than 2 sd.
    static func mitigationText(_ effects: [MitigationEffect], _ runs: [FairnessRun]) -> String {
        guard let base = runs.first, !effects.isEmpty else { return "not run" }
        let parts = effects.map { e in
            "\(e.label): FNR ×\(fixed(e.fnr, 2)), accuracy \(fixed(e.gain * 100, 2)) points (sd "
                + "\(fixed(e.sd * 100, 2))), tail \(fixed(e.tail * 100, 2)), PGD-10 \(fixed(e.robust * 100, 2))"
        }
        return "against the baseline (\(percent(base.groups.accuracy)) accuracy, \(percent(base.robust.adversarial.accuracy)) "
            + "PGD-10): " + parts.joined(separator: "; ")
            + "; reproduced only if every variant raises the effective FNR and the accuracy by > 2 sd"
    }
}
