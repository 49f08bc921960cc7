// Preflight: the checks that need the data (client sizes, the model) and must pass before a federation trains.
import FedNN
import FedPrivacy
import FedRuntime
import FedStrategy
import Foundation

enum Preflight {
    /// How much memory training buffers may take: half the machine's memory, at most 16 GiB.
    static var memoryBudget: Int {
        Int(min(Double(ProcessInfo.processInfo.physicalMemory) / 2, 16 * 1_073_741_824))
    }

    /// Every client needs a sample (and the shard split `shardsPerClient` of them), named by the key to change.
    static func checkPartition(_ config: FederationConfiguration, trainCount: Int) throws(ConfigurationError) {
        let k = config.clients.count
        let limit = config.dataset.trainLimit.map { " (dataset.trainLimit = \($0))" } ?? ""
        guard k <= trainCount else {
            throw ConfigurationError(keyPath: "clients.count",
                                     message: "\(k) clients but the training set\(limit) has only \(trainCount) samples")
        }
        let (shards, overflow) = k.multipliedReportingOverflow(by: config.clients.shardsPerClient)
        guard config.clients.partition != .shards || (!overflow && shards <= trainCount) else {
            throw ConfigurationError(
                keyPath: "clients.shardsPerClient",
                message: "\(k) clients × \(config.clients.shardsPerClient) shards need at least that many samples; the "
                    + "training set\(limit) has \(trainCount)")
        }
    }

    /// NISS's largest possible v_k = ⌈σ_k²/σ²⌉ in any round, against `FederationConfiguration.Limits.shares`.
    ///
    /// σ_k = c(δ_k)·p_k·Δ_k/ε_k grows with the weight p_k = d_k/Σ_{participants} d, largest when k shares a round
    /// with the m − 1 smallest other clients. With the default σ² = min_j σ_j²/v_target, v_k = v_target·σ_k²/σ_j²
    /// where p cancels: the worst pair over all clients (any two can meet once m ≥ 2).
    static func checkShares(_ config: FederationConfiguration, samples: [Int]) throws(ConfigurationError) {
        guard config.strategy.kind == .niss, !samples.isEmpty else { return }
        let dp = config.strategy.dp, niss = config.strategy.niss
        let limit = FederationConfiguration.Limits.shares
        let total = Double(samples.reduce(0, +))
        func sigma(_ client: Int, weight: Double) throws(ConfigurationError) -> Double {
            do {
                return try dp.noiseStd(client: client, weight: weight, samples: samples[client], rounds: config.rounds)
            } catch {
                throw ConfigurationError(keyPath: "strategy.dp", message: "σ_k of client \(client): \(error)")
            }
        }
        if let unit = niss.unitNoiseVariance {
            let m = min(config.clientsPerRound, samples.count)
            let sorted = samples.sorted()
            let smallest = sorted.prefix(m).reduce(0, +)
            var worst = (client: 0, shares: 0.0, sigma: 0.0)
            for (k, d) in samples.enumerated() where d > 0 {
                // The m − 1 smallest others: the m smallest minus one copy of d_k when d_k is among them.
                let others = m >= 2 && d <= sorted[m - 2] ? smallest - d : smallest - sorted[m - 1]
                let s = try sigma(k, weight: Double(d) / Double(d + others))
                if s * s / unit > worst.shares { worst = (k, s * s / unit, s) }
            }
            guard worst.shares <= Double(limit) else {
                throw ConfigurationError(
                    keyPath: "strategy.niss.unitNoiseVariance",
                    message: "σ² = \(unit) gives client \(worst.client) up to v = \(String(format: "%.3g", worst.shares)) "
                        + "shares per round (σ_k up to \(String(format: "%.3g", worst.sigma))); at most \(limit) are "
                        + "allowed: use σ² ≥ \(String(format: "%.3g", worst.sigma * worst.sigma / Double(limit)))")
            }
            return
        }
        var lo = (client: 0, sigma: Double.infinity), hi = (client: 0, sigma: 0.0)
        for (k, d) in samples.enumerated() where d > 0 {
            let s = try sigma(k, weight: Double(d) / total)
            if s < lo.sigma { lo = (k, s) }
            if s > hi.sigma { hi = (k, s) }
        }
        let ratio = hi.sigma / lo.sigma
        let worst = Double(niss.targetShares) * ratio * ratio
        guard worst <= Double(limit) else {
            throw ConfigurationError(
                keyPath: "strategy.niss.targetShares",
                message: "client \(hi.client)'s σ_k is \(String(format: "%.3g", ratio))× client \(lo.client)'s "
                    + "(data sizes \(samples[hi.client]) and \(samples[lo.client]), budgets in strategy.dp), so with "
                    + "v_target = \(niss.targetShares) it would send up to \(String(format: "%.3g", worst)) shares a "
                    + "round; at most \(limit) are allowed: lower targetShares, or give explicit "
                    + "strategy.niss.unitNoiseVariance")
        }
    }

    /// The training buffers of `concurrent` workspaces of `capacity` samples must fit `memoryBudget`; the error
    /// names `key` (the batch-size setting).
    static func checkMemory(network: Network, capacity: Int, concurrent: Int, key: String,
                            largestClient: Int? = nil) throws(ConfigurationError) {
        let budget = memoryBudget
        let each = Workspace.bytesNeeded(network: network, capacity: capacity)
        let (all, overflow) = (each ?? .max).multipliedReportingOverflow(by: max(concurrent, 1))
        guard each == nil || overflow || all > budget else { return }
        let need = each == nil || overflow ? "more memory than can be counted" : bytes(all)
        var message = "\(capacity) needs \(need) of training buffers"
            + (concurrent > 1 ? " (\(concurrent) clients training at once)" : "")
            + "; at most \(bytes(budget)) (half this machine's memory, ≤ 16 GiB) is allowed"
        if let largestClient, largestClient < capacity {
            message += ". No client holds more than \(largestClient) samples, so B = \(largestClient) already trains "
                + "each on all its data in one batch"
        }
        throw ConfigurationError(keyPath: key, message: message)
    }
}
