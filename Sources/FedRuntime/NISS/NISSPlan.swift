// NISSPlan: the PS's per-round NISS parameters: σ² and every participant's v_k, checked before the round starts.
import FedPrivacy
import FedStrategy

/// σ² and v_k for one round's participants (spec B.11 items 2–3). The PS computes it, broadcasts σ² with
/// `RoundStart` (Alg. 2: "PS: initialize σ²"), and each client derives its own v_k with the same formula.
public struct NISSPlan: Sendable, Equatable {
    /// σ²
    public var unitVariance: Double
    /// σ_k² by client (weighted domain, p_k = d_k / Σ d_i).
    public var clientVariances: [Int: Double]
    /// v_k by client.
    public var shares: [Int: Int]

    /// The plan for `participants` with sample counts `samples` (same order).
    public static func make(dp: DPConfiguration, niss n: NISSConfiguration, rounds: Int, participants: [Int],
                            samples: [Int]) throws(ConfigurationError) -> NISSPlan {
        let total = Double(samples.reduce(0, +))
        var variances: [Int: Double] = [:]
        for (client, d) in zip(participants, samples) {
            do {
                let sigma = try dp.noiseStd(client: client, weight: Double(d) / total, samples: d, rounds: rounds)
                variances[client] = sigma * sigma
            } catch {
                throw ConfigurationError(keyPath: "strategy.dp", message: "σ_k of client \(client): \(error)")
            }
        }
        let unit = n.unitNoiseVariance
            ?? NISSShares.defaultUnitVariance(clientVariances: Array(variances.values), targetShares: n.targetShares)
        var shares: [Int: Int] = [:]
        for client in participants {
            let v = NISSShares.shareCount(clientVariance: variances[client]!, unitVariance: unit)
            guard v >= n.minimumShares else {
                throw ConfigurationError(
                    keyPath: n.unitNoiseVariance != nil ? "strategy.niss.unitNoiseVariance" : "strategy.niss",
                    message: "σ² = \(unit) gives client \(client) only v = \(v) shares (σ_k² = \(variances[client]!)), "
                        + "below strategy.niss.minimumShares = \(n.minimumShares); lower σ² or the minimum")
            }
            shares[client] = v
        }
        do {
            try ShareGraph.checkFeasible(shares)
        } catch {
            throw ConfigurationError(
                keyPath: "strategy.niss",
                message: "no share graph exists: \(error). v_k grows with σ_k², so with (d_k/d_min)² under "
                    + "client-level sensitivity: the clients' data sizes or budgets (strategy.dp.clientBudgets) are "
                    + "too far apart for this round's participants")
        }
        return NISSPlan(unitVariance: unit, clientVariances: variances, shares: shares)
    }
}
