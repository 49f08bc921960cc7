// DPSGDTraining: DP-SGD as a client's local trainer, and the wrapper strategy that gives it to every client.
import FedNN
import FedPrivacy
import FedStrategy
import FedTensor

/// E epochs of DP-SGD (`FedNN.DPSGDTrainer`: Poisson batches at rate q_k, per-example clipping to C, N(0, σ²C²)
/// noise) on the client's own data. Its randomness is the job's stream (seed, client, round), so a round's result
/// is bit-identical whatever the thread count. The result reports the steps it ran and their (σ, q) for the
/// client's example-level accountant ("add/remove one example of this client's data").
public struct DPSGDTraining: LocalTrainer {
    public let dp: DPSGDSettings

    public init(dp: DPSGDSettings) { self.dp = dp }

    public func train(_ job: LocalTrainingJob, parameters: inout [Float],
                      workspace: Workspace) throws -> LocalTrainingResult {
        var trainer = DPSGDTrainer(network: job.network, settings: job.settings, dp: dp, key: job.key)
        var last = Double.nan
        for epoch in 0..<job.settings.epochs {
            last = trainer.runEpoch(epoch, parameters: &parameters, on: job.data, indices: job.indices,
                                    workspace: workspace).loss
        }
        let steps = job.indices.isEmpty ? 0 : trainer.accountant.steps
        var result = LocalTrainingResult(loss: last, steps: steps)
        result.exampleLevel = RDPAccountant.Run(noiseMultiplier: dp.noiseMultiplier, sampleRate: dp.sampleRate, steps: steps)
        return result
    }
}

/// Every client's DP-SGD settings in a federation (`training.dpsgd`): q_k = expected batch / d_k (or the given
/// rate), C, and σ given or found per client from a target ε for the steps it would run if it took part in every
/// round (T·E·⌊1/q_k⌋, the most it can run, so the target holds whatever the sampling).
public struct FederatedDPSGD: Sendable, Equatable {
    public var clients: [DPSGDSettings]
    /// δ of the example-level guarantee.
    public var delta: Double

    public init(_ config: FederationConfiguration.LocalDPSGD, samples: [Int], rounds: Int,
                localEpochs: Int) throws(ConfigurationError) {
        delta = config.delta
        var searched: [Double: Double] = [:]  // q → σ, clients of equal size share one search
        var list: [DPSGDSettings] = []
        for d in samples {
            let q = config.samplingRate ?? min(1, (config.expectedBatchSize ?? 1) / Double(max(d, 1)))
            var dp = DPSGDSettings(noiseMultiplier: config.noiseMultiplier ?? 0, maxGradientNorm: config.maxGradNorm,
                                   sampleRate: q)
            if let target = config.targetEpsilon {
                if let known = searched[q] {
                    dp.noiseMultiplier = known
                } else {
                    do {
                        dp.noiseMultiplier = try RDPAccountant.noiseMultiplier(
                            targetEpsilon: target, delta: config.delta, sampleRate: q,
                            steps: rounds * localEpochs * dp.stepsPerEpoch)
                    } catch {
                        throw ConfigurationError(keyPath: "training.dpsgd.targetEpsilon",
                                                 message: "\(target) cannot be met for a client of \(d) samples "
                                                    + "(q = \(q)): \(error)")
                    }
                    searched[q] = dp.noiseMultiplier
                }
            }
            list.append(dp)
        }
        clients = list
    }
}

/// A strategy whose clients train with DP-SGD; everything else is the wrapped strategy's (FedAvg, DP-FedAvg,
/// NISS, or a user's). With DP-FedAvg or NISS inside, the run has two guarantees for two relations, reported
/// side by side and never combined.
public struct DPSGDClients: WrappingStrategy {
    public let inner: any FederatedStrategy
    public let plan: FederatedDPSGD

    public init(_ inner: any FederatedStrategy, plan: FederatedDPSGD) {
        self.inner = inner
        self.plan = plan
    }

    public var name: String { inner.name + " + DP-SGD" }
    public func localTrainer(client: Int, round: Int) -> any LocalTrainer { DPSGDTraining(dp: plan.clients[client]) }
}
