// StubTraining: a LocalTrainer that returns a caller-supplied model, and strategies wrapped to use it (or zero signal).
import FedNN
import FedPrivacy
import FedRuntime

/// Local training replaced by a function of (client, round, w_t): the client "trains" to whatever the test says,
/// so protocol invariants can be checked on exact, known models without running SGD.
public struct StubTraining: LocalTrainer {
    public let model: @Sendable (_ client: Int, _ round: Int, _ global: [Float]) -> [Float]

    public init(_ model: @escaping @Sendable (_ client: Int, _ round: Int, _ global: [Float]) -> [Float]) {
        self.model = model
    }

    public func train(_ job: LocalTrainingJob, parameters: inout [Float],
                      workspace: Workspace) throws -> LocalTrainingResult {
        let result = model(job.client, job.round, job.global)
        precondition(result.count == parameters.count, "the stub returned \(result.count) values, the model has "
                     + "\(parameters.count)")
        parameters = result
        return LocalTrainingResult(loss: 0, steps: 0)
    }
}

/// A strategy with its local training replaced (and, in zero-signal mode, its uploads emptied of the model),
/// everything else the base strategy's.
public struct WithTraining: FederatedStrategy {
    public let base: any FederatedStrategy
    public let trainer: any LocalTrainer
    /// Build each upload from w_k = 0 around w_t = 0, so it is the strategy's noise alone.
    public let zeroSignal: Bool

    public init(_ base: any FederatedStrategy, trainer: any LocalTrainer, zeroSignal: Bool = false) {
        self.base = base
        self.trainer = trainer
        self.zeroSignal = zeroSignal
    }

    public var name: String { base.name + (zeroSignal ? " (zero signal)" : "") }
    public var addsNoise: Bool { base.addsNoise }
    public func roundParameters(round: Int, participants: [Int], samples: [Int]) throws -> RoundParameters {
        try base.roundParameters(round: round, participants: participants, samples: samples)
    }
    public func noiseExchange(_ context: ExchangeContext) throws -> NoiseExchangePlan? {
        try base.noiseExchange(context)
    }
    public func localTrainer(client: Int, round: Int) -> any LocalTrainer { trainer }
    public func prepareUpload(_ context: UploadContext) throws -> PreparedUpload {
        guard zeroSignal else { return try base.prepareUpload(context) }
        var c = context
        c.trained = [Float](repeating: 0, count: c.trained.count)
        c.global = [Float](repeating: 0, count: c.global.count)
        return try base.prepareUpload(c)
    }
    public func makeAggregator() -> any Aggregator { base.makeAggregator() }
    public func afterDropouts(_ dropped: [Int]) -> DropoutDecision { base.afterDropouts(dropped) }
    public func makeRoundObserver(_ context: RoundObserverContext) throws -> (any RoundObserver)? {
        try base.makeRoundObserver(context)
    }
    public func privacy(releases: [Int], samples: [Int], rounds: Int) throws -> PrivacyGuarantee {
        try base.privacy(releases: releases, samples: samples, rounds: rounds)
    }
    public var warnings: [String] { base.warnings }
}

extension FederatedStrategy {
    /// This strategy with local training replaced by `trainer`.
    public func training(_ trainer: any LocalTrainer) -> WithTraining { WithTraining(self, trainer: trainer) }

    /// Zero-signal mode: every client trains to the all-zero model around an all-zero global model, so (with clipping
    /// of the update, the default) each upload is exactly the strategy's noise: n_k for DP-FedAvg, ñ_k for NISS.
    public func zeroSignal() -> WithTraining {
        WithTraining(self, trainer: StubTraining { _, _, global in [Float](repeating: 0, count: global.count) },
                     zeroSignal: true)
    }
}
