// StubTraining: a LocalTrainer that returns a caller-supplied model, and ZeroSignal, a strategy whose uploads are noise.
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

/// Wraps a strategy so that local training is `trainer` (e.g. a `StubTraining`), everything else unchanged.
public struct WithTraining: FederatedStrategy {
    public let base: any FederatedStrategy
    public let trainer: any LocalTrainer

    public init(_ base: any FederatedStrategy, trainer: any LocalTrainer) {
        self.base = base
        self.trainer = trainer
    }

    public var name: String { base.name }
    public var addsNoise: Bool { base.addsNoise }
    public func roundParameters(round: Int, participants: [Int], samples: [Int]) throws -> RoundParameters {
        try base.roundParameters(round: round, participants: participants, samples: samples)
    }
    public func noiseExchange(_ context: ExchangeContext) throws -> NoiseExchangePlan? {
        try base.noiseExchange(context)
    }
    public func localTrainer(client: Int, round: Int) -> any LocalTrainer { trainer }
    public func prepareUpload(_ context: UploadContext) throws -> PreparedUpload { try base.prepareUpload(context) }
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
        WithTraining(ZeroSignalUploads(self), trainer: StubTraining { _, _, global in
            [Float](repeating: 0, count: global.count)
        })
    }
}

/// A strategy whose uploads carry no model: the base strategy's upload of w_k = 0 around w_t = 0 (pure noise).
public struct ZeroSignalUploads: FederatedStrategy {
    public let base: any FederatedStrategy
    public init(_ base: any FederatedStrategy) { self.base = base }
    public var name: String { base.name + " (zero signal)" }
    public var addsNoise: Bool { base.addsNoise }
    public func roundParameters(round: Int, participants: [Int], samples: [Int]) throws -> RoundParameters {
        try base.roundParameters(round: round, participants: participants, samples: samples)
    }
    public func noiseExchange(_ context: ExchangeContext) throws -> NoiseExchangePlan? {
        try base.noiseExchange(context)
    }
    public func prepareUpload(_ context: UploadContext) throws -> PreparedUpload {
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
