// RunCommand+RoundLine: the one line `fednoise run` prints per completed round.
import FedRuntime
import Foundation

extension RunCommand {
    /// `[tag] round 3/30: train loss … | test loss … acc … | σ_k … | NISS … | ε … | redone … | left out … | 1.2 s`.
    static func describe(_ r: RoundReport, tag: String, rounds: Int) -> String {
        var s = "[\(tag)] round \(r.round)/\(rounds): "
        s += RoundAnswers.nobodyAnswered(r) ? "no client answered, model kept" : "train loss \(fixed(r.meanTrainLoss))"
        if let acc = r.testAccuracy, let loss = r.testLoss { s += " | test loss \(fixed(loss)) acc \(percent(acc))" }
        if !r.noiseStds.isEmpty && r.expectedNoiseVariance > 0 {
            let sigmas = r.noiseStds
            s += " | σ_k \(String(format: "%.3g", sigmas.min()!))…\(String(format: "%.3g", sigmas.max()!))"
            s += ", noise var \(String(format: "%.3g", r.expectedNoiseVariance)) expected"
            if let v = r.realisedNoiseVariance { s += " / \(String(format: "%.3g", v)) realised" }
        }
        if let n = r.niss {
            s += " | σ² \(String(format: "%.3g", n.unitNoiseVariance)), v \(n.shares.min() ?? 0)…\(n.shares.max() ?? 0), "
                + "shares \(bytes(n.shareBytes))"
            if let worst = n.collusion.map({ $0.residualVariance / $0.clientVariance }).min() {
                s += " | collusion: residual ≥ \(String(format: "%.2f", worst))·σ_k²"
            }
        }
        if let p = r.privacy {
            if let e = p.epsilonWorstClient, let k = p.worstClient {
                s += " | client-level ε \(String(format: "%.4g", e)) (worst: client \(k))"
            }
            if let e = p.epsilonWorstExample { s += " | example-level ε \(String(format: "%.4g", e)) (worst client)" }
            if p.excludedClients > 0 { s += " | \(p.excludedClients) client(s) out of budget" }
        }
        if r.attempts > 1 { s += " | redone \(r.attempts - 1)×" }
        if !r.dropped.isEmpty { s += " | left out: \(r.dropped.map(String.init).joined(separator: ", "))" }
        return s + " | \(fixed(r.seconds, 1)) s"
    }
}
