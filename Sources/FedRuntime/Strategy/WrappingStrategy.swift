// WrappingStrategy: a strategy around another that forwards every hook it does not change (DP-SGD clients, FedBN).
import FedPrivacy

/// A strategy that wraps `inner` and, by default, does exactly what it does: a conformance overrides only the hooks
/// it changes (`DPSGDClients` the local trainer, `LocalBatchNormStrategy` the trainer and the upload).
public protocol WrappingStrategy: FederatedStrategy {
    var inner: any FederatedStrategy { get }
}

extension WrappingStrategy {
    public var addsNoise: Bool { inner.addsNoise }
    public func roundParameters(round: Int, participants: [Int], samples: [Int]) throws -> RoundParameters {
        try inner.roundParameters(round: round, participants: participants, samples: samples)
    }
    public func noiseExchange(_ context: ExchangeContext) throws -> NoiseExchangePlan? {
        try inner.noiseExchange(context)
    }
    public func localTrainer(client: Int, round: Int) -> any LocalTrainer {
        inner.localTrainer(client: client, round: round)
    }
    public func prepareUpload(_ context: UploadContext) throws -> PreparedUpload { try inner.prepareUpload(context) }
    public func makeAggregator() -> any Aggregator { inner.makeAggregator() }
    public func afterDropouts(_ dropped: [Int]) -> DropoutDecision { inner.afterDropouts(dropped) }
    public func makeRoundObserver(_ context: RoundObserverContext) throws -> (any RoundObserver)? {
        try inner.makeRoundObserver(context)
    }
    public func privacy(releases: [Int], samples: [Int], rounds: Int) throws -> PrivacyGuarantee {
        try inner.privacy(releases: releases, samples: samples, rounds: rounds)
    }
    public func clientLevelNoise(client: Int, samples: Int, rounds: Int) throws -> ClientLevelNoise? {
        try inner.clientLevelNoise(client: client, samples: samples, rounds: rounds)
    }
    public func privacy(ledger: ClientPrivacyLedger, samples: [Int], rounds: Int) throws -> PrivacyGuarantee {
        try inner.privacy(ledger: ledger, samples: samples, rounds: rounds)
    }
    public var warnings: [String] { inner.warnings }
}
