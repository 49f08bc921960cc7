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
    /// σ_k, the std of the Gaussian noise in each accepted upload, in client order (0 for FedAvg's uploads).
    public var noiseStds: [Double]
    /// The aggregate's expected noise variance per coordinate: Σ σ_k² / (Σ p_k)² over accepted uploads, unless the
    /// strategy knows better (NISS: Theorem 2's σ²·Σ v_l·τ_l² over the realised share graph, set by its observer).
    public var expectedNoiseVariance: Double
    /// mean over coordinates of (Σ_k n_k)² / (Σ p_k)²: the noise the global model really received (diagnostics).
    public var realisedNoiseVariance: Double?
    public var seconds: Double
    /// FNV-1a (64-bit) of the new global weights' bit patterns, hex: equal digests mean bit-identical models.
    public var weightsDigest: String
    /// Diagnostics: mean over coordinates of each answering client's upload noise squared, in client order.
    public var uploadNoiseVariances: [Double] = []
    /// How many times the round was started (NISS redoes a round without clients that dropped after the exchange).
    public var attempts = 1
    /// NISS: the round could not be completed without unmatched shares (fewer than 2 clients left, or no share
    /// graph for those left), so the global model was kept.
    public var skipped = false
    /// NISS only: what the shares did this round.
    public var niss: NISSRoundReport?
    /// Every client's cumulative ε after this round (nil when nothing is accounted, e.g. FedAvg).
    public var privacy: RoundPrivacy?
}

/// NISS's part of a round report.
public struct NISSRoundReport: Sendable, Codable {
    /// σ²
    public var unitNoiseVariance: Double
    /// v_k of each answering client, in client order.
    public var shares: [Int]
    /// Bytes of share messages on the transport this round, in the encoding used, and in each encoding.
    public var shareBytes: Int
    public var denseShareBytes: Int
    public var seededShareBytes: Int
    /// Theorem 2 over the realised share graph: σ²·Σ_l v_l·τ_l² (plus, when clients dropped after the exchange and
    /// the round was accepted, the unmatched shares' σ² and σ²·(1 + τ_l²)), renormalised like the aggregate.
    public var theoremVariance: Double
    /// Diagnostics: σ²·Σ (s_j − 1)² over the shares actually distorted, renormalised: Theorem 2 given the
    /// realised s.
    public var distortionVariance: Double?
    /// Clients that dropped after exchanging shares (accept policy): their shares stayed unmatched.
    public var unmatched: [Int]
    /// One finding per honest answering client when some clients collude (diagnostics).
    public var collusion: [CollusionFinding]
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
    /// Configuration warnings (e.g. Theorem 3's τ_k² condition).
    public var warnings: [String] = []
    /// The run was stopped (SIGINT) after its last report's round, before the configured number of rounds.
    public var interrupted = false
    /// The first round whose loss or model became NaN or infinite, described ("round 4: the test loss is nan").
    public var divergence: String?
    /// DP-SGD inside clients: the worst client's example-level guarantee ("add/remove one example"), reported
    /// beside `privacy` (client-level), never combined with it. nil without DP-SGD.
    public var exampleLevelPrivacy: PrivacyGuarantee?
}

extension FederationSummary {
    /// The highest test accuracy of the evaluated rounds and the first round that reached it (nil: none evaluated).
    public var bestTestAccuracy: (accuracy: Double, round: Int)? {
        rounds.reduce(nil) { best, r in
            guard let a = r.testAccuracy, a > (best?.accuracy ?? -1) else { return best }
            return (a, r.round)
        }
    }

    /// The first evaluated round whose test accuracy is at least `target`: McMahan et al.'s rounds-to-target
    /// metric (2017, Table 2). Only evaluated rounds count, so with `evaluateEvery` = r it is a multiple of r (or
    /// the last round).
    public func firstRound(reaching target: Double) -> Int? {
        rounds.first { ($0.testAccuracy ?? -1) >= target }?.round
    }
}

/// Events in the order they happen.
public enum FederationEvent: Sendable {
    case roundStarted(round: Int, sampled: [Int])
    case uploadReceived(round: Int, client: Int)
    case roundCompleted(RoundReport)
    case finished(FederationSummary)
}
