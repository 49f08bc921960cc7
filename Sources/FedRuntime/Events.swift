// Events: what a running federation reports to its observers, round by round.
import FedPrivacy

/// One round's outcome.
public struct RoundReport: Sendable, Codable {
    public var round: Int
    public var sampled: [Int]
    /// Clients left out (deadline passed).
    public var dropped: [Int]
    public var meanTrainLoss: Double
    /// Test metrics of the new global model, when evaluated this round.
    public var testAccuracy: Double?
    public var testLoss: Double?
    /// σ_k of each answering client, in client order (empty without DP).
    public var noiseStds: [Double]
    /// Σ σ_k² over answering clients, after renormalisation: the aggregate's expected noise variance per coordinate.
    public var expectedNoiseVariance: Double
    /// mean over coordinates of (Σ_k n_k)² / (Σ p_k)²: the noise the global model really received (diagnostics).
    public var realisedNoiseVariance: Double?
    public var seconds: Double
    /// FNV-1a (64-bit) of the new global weights' bit patterns, hex: equal digests mean bit-identical models.
    public var weightsDigest: String
}

/// The whole run's outcome.
public struct FederationSummary: Sendable, Codable {
    public var name: String
    public var rounds: [RoundReport]
    public var finalTestAccuracy: Double?
    public var finalTestLoss: Double?
    /// The worst client's guarantee over the rounds it took part in (`none` for FedAvg).
    public var privacy: PrivacyGuarantee
    public var seconds: Double
}

/// Events in the order they happen.
public enum FederationEvent: Sendable {
    case roundStarted(round: Int, sampled: [Int])
    case uploadReceived(round: Int, client: Int)
    case roundCompleted(RoundReport)
    case finished(FederationSummary)
}
