// FederatedStrategy: the protocol a federated algorithm conforms to: broadcast, local training, upload, aggregation, privacy.
import FedNN
import FedStrategy
import FedPrivacy
import FedTensor

/// A federated algorithm, in the shape of Flower's strategies: what the server broadcasts for a round, how a client
/// trains and what it does to its trained model before upload, how the server folds the average into the next global
/// model, and what privacy the run earns. `FedAvg`, `DPFedAvg` and `NISS` conform; so can a user's own algorithm
/// (the FedProx and FedAvgM tests build theirs from this protocol alone).
///
/// The runtime always forms the p_k-weighted average Σ p_k·u_k / Σ p_k of the uploads u_k (exactly, in any arrival
/// order: `ExactSum`); a strategy decides what u_k is (`prepareUpload`) and what the server makes of the average
/// (`makeAggregator`). Every hook but `makeAggregator`'s state is called on immutable strategy values, from any actor.
public protocol FederatedStrategy: Sendable {
    /// A short name for logs and reports ("FedAvg").
    var name: String { get }
    /// Whether uploads carry random noise (then diagnostics collect each client's noise vector).
    var addsNoise: Bool { get }

    /// Server, before each round attempt: what is broadcast with the global model to `participants` (ascending,
    /// with their sample counts d_k). An error names the configuration that makes the round impossible.
    func roundParameters(round: Int, participants: [Int], samples: [Int]) throws -> RoundParameters

    /// Client, on a round start: a secret noise exchange with neighbours to run before uploading (NISS), or nil.
    func noiseExchange(_ context: ExchangeContext) throws -> NoiseExchangePlan?

    /// Client: how it trains locally this round (default: the configuration's SGD, `SGDTraining()`).
    func localTrainer(client: Int, round: Int) -> any LocalTrainer

    /// Client, after training: the upload built from its trained model (p_k·w_k, clipped and noised, …). When
    /// `noiseExchange` gave a plan, the exchanged noise is added to `payload` afterwards.
    func prepareUpload(_ context: UploadContext) throws -> PreparedUpload

    /// Server: the state that turns each round's weighted average into the next global model (default: the
    /// average itself).
    func makeAggregator() -> any Aggregator

    /// Server: what to do when `dropped` clients never uploaded in an attempt (default: aggregate the others).
    func afterDropouts(_ dropped: [Int]) -> DropoutDecision

    /// Server: a per-attempt observer of the uploads that adds strategy figures to the round report (nil: none).
    func makeRoundObserver(_ context: RoundObserverContext) throws -> (any RoundObserver)?

    /// Server, at the end: the guarantee the run earned, given how many uploads (releases) each client made.
    func privacy(releases: [Int], samples: [Int], rounds: Int) throws -> PrivacyGuarantee

    /// Server: client k's client-level noise multiplier z_k and δ_k for the per-client ledger (nil: the strategy
    /// earns no client-level guarantee, e.g. FedAvg or NbAFL's heuristic sensitivity).
    func clientLevelNoise(client: Int, samples: Int, rounds: Int) throws -> ClientLevelNoise?

    /// Server, at the end: the guarantee the run earned from the per-client ledger (default: from its release
    /// counts, ``privacy(releases:samples:rounds:)``).
    func privacy(ledger: ClientPrivacyLedger, samples: [Int], rounds: Int) throws -> PrivacyGuarantee

    /// Warnings to show before a run (e.g. Theorem 3's condition on τ_k²).
    var warnings: [String] { get }
}

extension FederatedStrategy {
    public var addsNoise: Bool { false }
    public func roundParameters(round: Int, participants: [Int], samples: [Int]) throws -> RoundParameters {
        RoundParameters()
    }
    public func noiseExchange(_ context: ExchangeContext) throws -> NoiseExchangePlan? { nil }
    public func localTrainer(client: Int, round: Int) -> any LocalTrainer { SGDTraining() }
    public func makeAggregator() -> any Aggregator { AverageAggregator() }
    public func afterDropouts(_ dropped: [Int]) -> DropoutDecision { .aggregate }
    public func makeRoundObserver(_ context: RoundObserverContext) throws -> (any RoundObserver)? { nil }
    public func privacy(releases: [Int], samples: [Int], rounds: Int) throws -> PrivacyGuarantee {
        .none(reason: "\(name) adds no noise")
    }
    public var warnings: [String] { [] }
    public func clientLevelNoise(client: Int, samples: Int, rounds: Int) throws -> ClientLevelNoise? { nil }
    public func privacy(ledger: ClientPrivacyLedger, samples: [Int], rounds: Int) throws -> PrivacyGuarantee {
        try privacy(releases: ledger.releases, samples: samples, rounds: rounds)
    }

    /// p_k·w_k: the plain FedAvg upload (the trained weights scaled by the client's weight).
    public func weightedModel(_ context: UploadContext) -> PreparedUpload {
        var w = context.trained
        let p = Float(context.weight)
        w.withUnsafeMutableBufferPointer { scale($0.baseAddress!, by: p, count: $0.count) }
        return PreparedUpload(payload: w)
    }
}

/// What the server broadcasts with the global model, beyond it (Flower's `configure_fit` config).
public struct RoundParameters: Codable, Sendable, Equatable {
    /// NISS: the unit share variance σ² of this round attempt.
    public var unitNoiseVariance: Double?
    /// Any other named values a strategy sends its clients.
    public var values: [String: Double]

    public init(unitNoiseVariance: Double? = nil, values: [String: Double] = [:]) {
        self.unitNoiseVariance = unitNoiseVariance
        self.values = values
    }
}

/// What a client knows when a round starts (before training).
public struct ExchangeContext: Sendable {
    public var client: Int
    public var round: Int
    public var attempt: Int
    /// p_k = d_k / Σ d_i over the round's participants.
    public var weight: Double
    /// d_k
    public var samples: Int
    public var parameters: RoundParameters
}

/// A client's part in a secret noise exchange (NISS Alg. 2): it sends `shareCount` shares of variance
/// `unitVariance`, and distorts each share it receives by s ~ N(1, `tau2`).
public struct NoiseExchangePlan: Sendable, Equatable {
    public var unitVariance: Double
    public var shareCount: Int
    public var tau2: Double
    public var encoding: ShareEncoding
    /// The client reveals every share it sent or received to the PS (a collusion study; simulation only).
    public var reveal: Bool

    public init(unitVariance: Double, shareCount: Int, tau2: Double, encoding: ShareEncoding, reveal: Bool) {
        self.unitVariance = unitVariance
        self.shareCount = shareCount
        self.tau2 = tau2
        self.encoding = encoding
        self.reveal = reveal
    }
}

/// What a client knows when it builds its upload.
public struct UploadContext: Sendable {
    public var client: Int
    public var round: Int
    public var attempt: Int
    /// The locally trained model w_k.
    public var trained: [Float]
    /// The round's global model w_t.
    public var global: [Float]
    /// p_k
    public var weight: Double
    /// d_k
    public var samples: Int
    /// The client's own stream for upload noise (run seed, client, round).
    public var noiseKey: StreamKey
    /// Keep the noise vector for simulation diagnostics.
    public var keepNoise: Bool
}

/// A client's upload before any exchanged noise is added.
public struct PreparedUpload: Sendable {
    /// u_k: what the server averages (p_k·w_k, plus noise for DP strategies).
    public var payload: [Float]
    /// σ_k: the std of the Gaussian noise this upload carries (0 without DP).
    public var noiseStd: Double
    /// The norm of the clipped quantity before clipping (nil without clipping).
    public var preClipNorm: Double?
    /// The noise vector, when `UploadContext.keepNoise` asked for it.
    public var noise: [Float]?

    public init(payload: [Float], noiseStd: Double = 0, preClipNorm: Double? = nil, noise: [Float]? = nil) {
        self.payload = payload
        self.noiseStd = noiseStd
        self.preClipNorm = preClipNorm
        self.noise = noise
    }
}

/// The server's decision after an attempt in which some clients never uploaded.
public enum DropoutDecision: Sendable, Equatable {
    /// Aggregate the uploads that arrived (renormalised over them).
    case aggregate
    /// Start the round again without the missing clients (NISS: their shares would stay unmatched); with fewer
    /// than `minimumClients` left, the round is skipped and the global model kept.
    case redo(minimumClients: Int)
}

/// Turns each round's weighted average into the next global model (server momentum, learning rates, …).
public protocol Aggregator: Sendable {
    /// The next global model from the previous one and the round's average Σ p_k·u_k / Σ p_k.
    mutating func combine(previous: [Float], average: [Float], round: Int) -> [Float]
    /// The state a checkpoint must keep to continue bit for bit (server momentum…); nil (the default): stateless.
    func savedState() -> AggregatorState?
    /// Takes back `savedState()`'s value when a run resumes from a checkpoint. The default refuses any state.
    mutating func restore(_ state: AggregatorState) throws
}

extension Aggregator {
    public func savedState() -> AggregatorState? { nil }
    public mutating func restore(_ state: AggregatorState) throws {
        throw FederationCheckpoint.FormatError(
            description: "the checkpoint holds aggregator state, but \(Self.self) keeps none (another strategy?)")
    }
}

/// An aggregator's state in a checkpoint: named numbers, and float vectors kept with their exact bits.
public struct AggregatorState: Sendable, Equatable {
    public var values: [String: Double]
    public var vectors: [[Float]]
    public init(values: [String: Double] = [:], vectors: [[Float]] = []) {
        self.values = values
        self.vectors = vectors
    }
}

/// FedAvg's server: the average is the next global model.
public struct AverageAggregator: Aggregator {
    public init() {}
    public func combine(previous: [Float], average: [Float], round: Int) -> [Float] { average }
}
