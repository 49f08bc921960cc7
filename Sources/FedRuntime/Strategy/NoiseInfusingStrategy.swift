// NoiseInfusingStrategy: any strategy with Part A's heuristic noise at the gradient, upload and global-model sites.
import FedNN
import FedPrivacy
import FedTensor

/// Wraps a strategy with noise infusion (`NoiseInfusion`): gradient noise in the clients' SGD steps, client-model
/// and client-update noise before `prepareUpload` (so DP-FedAvg still clips and noises what it receives), and
/// global-model noise after the server's aggregation. Input and activation noise live in the federation's
/// network as `NoiseLayer`s (`FederationConfiguration.noisyNetwork`); their schedule reads the round.
/// The privacy the run reports is the wrapped strategy's; with none, it says heuristic and gives no ε.
public struct NoiseInfusingStrategy: FederatedStrategy {
    public let inner: any FederatedStrategy
    public let infusion: NoiseInfusion
    let seed: UInt64
    let ranges: [Range<Int>]

    public init(_ inner: any FederatedStrategy, infusion: NoiseInfusion, seed: UInt64, ranges: [Range<Int>]) {
        self.inner = inner
        self.infusion = infusion
        self.seed = seed
        self.ranges = ranges
    }

    public var name: String { inner.name + " + noise infusion" }
    public var addsNoise: Bool { inner.addsNoise }

    public func localTrainer(client: Int, round: Int) -> any LocalTrainer {
        let trainer = inner.localTrainer(client: client, round: round)
        guard var sgd = trainer as? SGDTraining else {
            if infusion.has(.gradient) || infusion.resolved.contains(where: { $0.site.isLayer && $0.schedule != .constant }) {
                return RefusingTrainer(reason: "noise infusion's gradient site and scheduled layer noise need the "
                    + "SGD local trainer; \(inner.name) trains with \(type(of: trainer))")
            }
            return trainer
        }
        sgd.noiseTime = round
        // Only with gradient mechanisms: any transform turns off the fused SGD update.
        guard infusion.has(.gradient) else { return sgd }
        let previous = sgd.gradientTransform, previousBlocks = sgd.blockGradientTransform
        let infusion = self.infusion
        @Sendable func noise(_ job: LocalTrainingJob) -> (whole: GradientTransform?, blocks: BlockGradientTransform?) {
            infusion.gradientNoise(network: job.network, key: job.key.child(0x6772_6164), time: job.round)
        }
        if previousBlocks == nil, infusion.mechanisms(at: .gradient).count == 1 {
            // The noise goes into the SGD step block by block, after the inner trainer's own transform.
            sgd.blockGradientTransform = { job in noise(job).blocks! }
            return sgd
        }
        // Otherwise every transform runs on the whole gradient, in the order the steps would apply them.
        sgd.blockGradientTransform = nil
        sgd.gradientTransform = { job in
            let theirs = previous?(job), theirBlocks = previousBlocks?(job)
            let mine = noise(job)
            return { p, g in
                theirs?(p, g)
                theirBlocks?(p, g)(0..<g.count)
                mine.whole?(p, g)
                mine.blocks?(p, g)(0..<g.count)
            }
        }
        return sgd
    }

    public func prepareUpload(_ context: UploadContext) throws -> PreparedUpload {
        var c = context
        if infusion.has(.clientModel) || infusion.has(.clientUpdate) {
            let key = StreamPurpose.noiseInfusion.key(seed: seed, context.client, context.round, context.attempt)
            infusion.perturbClient(&c.trained, start: context.global, ranges: ranges, key: key, time: context.round)
        }
        return try inner.prepareUpload(c)
    }

    public func makeAggregator() -> any Aggregator {
        let aggregator = inner.makeAggregator()
        guard infusion.has(.globalModel) else { return aggregator }
        return NoisyAggregator(inner: aggregator, infusion: infusion, seed: seed, ranges: ranges)
    }

    public func roundParameters(round: Int, participants: [Int], samples: [Int]) throws -> RoundParameters {
        try inner.roundParameters(round: round, participants: participants, samples: samples)
    }
    public func noiseExchange(_ context: ExchangeContext) throws -> NoiseExchangePlan? {
        try inner.noiseExchange(context)
    }
    public func afterDropouts(_ dropped: [Int]) -> DropoutDecision { inner.afterDropouts(dropped) }
    public func makeRoundObserver(_ context: RoundObserverContext) throws -> (any RoundObserver)? {
        try inner.makeRoundObserver(context)
    }
    public func privacy(releases: [Int], samples: [Int], rounds: Int) throws -> PrivacyGuarantee {
        relabel(try inner.privacy(releases: releases, samples: samples, rounds: rounds))
    }
    public func clientLevelNoise(client: Int, samples: Int, rounds: Int) throws -> ClientLevelNoise? {
        try inner.clientLevelNoise(client: client, samples: samples, rounds: rounds)
    }
    public func privacy(ledger: ClientPrivacyLedger, samples: [Int], rounds: Int) throws -> PrivacyGuarantee {
        relabel(try inner.privacy(ledger: ledger, samples: samples, rounds: rounds))
    }
    public var warnings: [String] {
        inner.warnings + ["noise infusion is heuristic privacy: \(infusion.privacyLine)"]
    }

    /// No formal guarantee from the wrapped strategy: say the noise is heuristic (never an ε for it).
    func relabel(_ g: PrivacyGuarantee) -> PrivacyGuarantee {
        if case .none = g { return .heuristic(infusion.privacyLine) }
        return g
    }
}

/// The wrapped aggregator, then global-model noise from `StreamPurpose.noiseInfusion` (−1, round, 0).
struct NoisyAggregator: Aggregator {
    var inner: any Aggregator
    let infusion: NoiseInfusion
    let seed: UInt64
    let ranges: [Range<Int>]

    mutating func combine(previous: [Float], average: [Float], round: Int) -> [Float] {
        var next = inner.combine(previous: previous, average: average, round: round)
        infusion.perturb(&next, site: .globalModel, ranges: ranges,
                         key: StreamPurpose.noiseInfusion.key(seed: seed, -1, round, 0), time: round)
        return next
    }
    func savedState() -> AggregatorState? { inner.savedState() }
    mutating func restore(_ state: AggregatorState) throws { try inner.restore(state) }
}

/// A local trainer that refuses to run, with the reason (instead of silently dropping a configured mechanism).
struct RefusingTrainer: LocalTrainer {
    let reason: String
    func train(_ job: LocalTrainingJob, parameters: inout [Float], workspace: Workspace) throws -> LocalTrainingResult {
        throw NoiseInfusionError(keyPath: "noiseInfusion", message: reason)
    }
}
