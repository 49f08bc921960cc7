// NISSConfiguration: NISS's parameters: τ_k², the unit share variance σ², share encoding, collusion and dropout policy.

/// How a noise share travels from its creator to its neighbour (spec B.12, communication cost).
public enum ShareEncoding: String, Codable, Sendable, CaseIterable {
    /// The paper: the negated share itself, h floats.
    case dense
    /// A 128-bit generator key; the receiver expands it with the same generator. Bit-identical uploads, O(1) bytes.
    case seeded
}

/// What the PS does when a client that exchanged shares never uploads (spec B.12, dropouts).
public enum DropoutPolicy: String, Codable, Sendable, CaseIterable {
    /// Redo the round without the missing clients (fresh shares), so no unmatched share reaches the model.
    case redo
    /// Aggregate what arrived and log the residual noise variance the unmatched shares leave.
    case accept
}

/// τ_k² for the clients `from…to` (inclusive), overriding the default τ².
public struct ClientTau: ClientRange, Codable, Sendable, Equatable {
    public var from: Int
    public var to: Int
    public var tau2: Double

    public init(from: Int, to: Int, tau2: Double) {
        self.from = from
        self.to = to
        self.tau2 = tau2
    }
}

/// NISS's parameters (spec B.3, B.11, B.12). σ_k comes from the DP configuration, exactly as for DP-FedAvg.
public struct NISSConfiguration: Codable, Sendable, Equatable {
    /// X = τ²: the variance of the distortion s ~ N(1, τ²) a client applies to each share it receives.
    public var tau2: Double
    /// Per-client τ_k² by client range; later ranges win.
    public var clientTau2: [ClientTau]
    /// v_target: σ² = min_k σ_k² / v_target over the round's participants (spec B.11 item 3).
    public var targetShares: Int
    /// v_min: a client with fewer shares is a configuration error (too few shares for Theorem 3's CLT argument).
    public var minimumShares: Int
    /// An explicit σ² (the paper's 0.01 for parity runs), instead of the v_target default.
    public var unitNoiseVariance: Double?
    public var encoding: ShareEncoding
    /// ρ: the fraction of the *other* clients that collude with the PS (⌊ρ·(K−1)⌉ colluders, chosen with the run's
    /// seed). Colluders reveal every share they sent or received; the run reports what noise that leaves.
    public var collusionFraction: Double
    public var dropout: DropoutPolicy

    public init(tau2: Double = 0, clientTau2: [ClientTau] = [], targetShares: Int = 16, minimumShares: Int = 8,
                unitNoiseVariance: Double? = nil, encoding: ShareEncoding = .seeded, collusionFraction: Double = 0,
                dropout: DropoutPolicy = .redo) {
        self.tau2 = tau2
        self.clientTau2 = clientTau2
        self.targetShares = targetShares
        self.minimumShares = minimumShares
        self.unitNoiseVariance = unitNoiseVariance
        self.encoding = encoding
        self.collusionFraction = collusionFraction
        self.dropout = dropout
    }

    /// Client k's τ_k².
    public func tau2(client: Int) -> Double {
        clientTau2.covering(client)?.tau2 ?? tau2
    }
}
