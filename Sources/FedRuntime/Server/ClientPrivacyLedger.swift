// ClientPrivacyLedger: every client's RDP accountants (client-level, DP-SGD example-level) as one Codable value, and its inputs.
import FedPrivacy
import FedStrategy

/// The server's per-client privacy state: for each client k an ``RDPAccountant`` of its client-level releases
/// (DP-FedAvg / NISS uploads) and one of the DP-SGD steps it ran (example-level), with the counts behind them.
///
/// A plain value (arrays of values, no references): copy it to ask "what if", encode it to checkpoint it; the same
/// history always gives the same bits. Which steps are recorded is the ``ServerMachine``'s decision:
/// - fixed-size client sampling: one step (z_k, q = 1) per upload the server received from k (no amplification,
///   conservative: a sample without replacement is not Poisson);
/// - Poisson client sampling: one step (z_k, q = C) per round for every client that could have been sampled, and
///   (z_k, q = 1) for any further upload of k in the same round (a redone attempt).
public struct ClientPrivacyLedger: Sendable, Codable, Hashable {
    /// Client-level accountant of each client.
    public private(set) var clientLevel: [RDPAccountant]
    /// Uploads (releases) the server received from each client.
    public private(set) var releases: [Int]
    /// Rounds in which each client's upload was received (at most one per round).
    public private(set) var roundsParticipated: [Int]
    /// Example-level (DP-SGD) accountant of each client; empty unless clients train with DP-SGD.
    public private(set) var exampleLevel: [RDPAccountant]
    /// DP-SGD steps each client ran, over the rounds its upload was received.
    public private(set) var exampleSteps: [Int]

    /// A ledger with nothing spent for `clientCount` clients (`exampleLevel`: also keep DP-SGD accountants).
    public init(clientCount: Int, exampleLevel: Bool = false) {
        clientLevel = Array(repeating: RDPAccountant(), count: clientCount)
        releases = Array(repeating: 0, count: clientCount)
        roundsParticipated = releases
        self.exampleLevel = exampleLevel ? clientLevel : []
        exampleSteps = exampleLevel ? releases : []
    }

    /// Records `count` client-level steps (z_k, q) for `client`.
    public mutating func recordClientLevel(client: Int, noiseMultiplier: Double, sampleRate: Double,
                                           count: Int = 1) throws {
        try clientLevel[client].step(noiseMultiplier: noiseMultiplier, sampleRate: sampleRate, count: count)
    }

    /// One more upload of `client` received; `newRound`: its first in this round.
    public mutating func recordRelease(client: Int, newRound: Bool) {
        releases[client] += 1
        if newRound { roundsParticipated[client] += 1 }
    }

    /// `steps` DP-SGD steps of noise multiplier σ at sampling rate q that `client` ran in a round it took part in.
    public mutating func recordExampleLevel(client: Int, noiseMultiplier: Double, sampleRate: Double,
                                            steps: Int) throws {
        guard !exampleLevel.isEmpty, steps > 0 else { return }
        try exampleLevel[client].step(noiseMultiplier: noiseMultiplier, sampleRate: sampleRate, count: steps)
        exampleSteps[client] += steps
    }
}

/// ε of accountant histories at δ, memoised by (history, δ): clients with equal histories (the common case) cost
/// one conversion. Not part of any state that is saved; dropping it changes no result.
public struct EpsilonCache: Sendable {
    private struct Key: Hashable {
        var accountant: RDPAccountant
        var delta: Double
    }
    private var values: [Key: Double] = [:]

    public init() {}

    /// ε at δ of `accountant` (0 for an empty history or one with q = 0 throughout; +∞ when some step had σ = 0).
    public mutating func epsilon(_ accountant: RDPAccountant, delta: Double) throws -> Double {
        if accountant.history.allSatisfy({ $0.sampleRate == 0 }) { return 0 }
        let key = Key(accountant: accountant, delta: delta)
        if let known = values[key] { return known }
        let value = try accountant.epsilon(delta: delta).epsilon
        if values.count > 100_000 { values.removeAll(keepingCapacity: true) }
        values[key] = value
        return value
    }
}

/// One client's cumulative privacy after a round (a row of `clients_privacy.csv`).
public struct ClientPrivacyEntry: Sendable, Codable, Equatable {
    public var client: Int
    /// Rounds whose upload from this client the server received.
    public var roundsParticipated: Int
    /// Cumulative client-level ε at the client's δ_k.
    public var epsilon: Double
    /// Cumulative example-level (DP-SGD) ε at the DP-SGD δ (nil without DP-SGD).
    public var exampleEpsilon: Double?
    /// DP-SGD steps the client ran so far (nil without DP-SGD).
    public var exampleSteps: Int?

    public init(client: Int, roundsParticipated: Int, epsilon: Double, exampleEpsilon: Double? = nil,
                exampleSteps: Int? = nil) {
        self.client = client
        self.roundsParticipated = roundsParticipated
        self.epsilon = epsilon
        self.exampleEpsilon = exampleEpsilon
        self.exampleSteps = exampleSteps
    }
}

/// A round's privacy figures: the worst client's cumulative ε of each kind and every accounted client's values.
public struct RoundPrivacy: Sendable, Codable, Equatable {
    /// max_k ε_k, client-level ("add/remove one client"), nil when the strategy adds no client-level noise.
    public var epsilonWorstClient: Double?
    /// The client that has it.
    public var worstClient: Int?
    /// max_k of the example-level ε ("add/remove one example" of one client's data), nil without DP-SGD.
    public var epsilonWorstExample: Double?
    /// Every client with something accounted, in client order (summary.json leaves this list out).
    public var clients: [ClientPrivacyEntry]
    /// Clients the budget left out of this round's sampling (`excludeClients`).
    public var excludedClients = 0

    public init(epsilonWorstClient: Double?, worstClient: Int?, epsilonWorstExample: Double?,
                clients: [ClientPrivacyEntry]) {
        self.epsilonWorstClient = epsilonWorstClient
        self.worstClient = worstClient
        self.epsilonWorstExample = epsilonWorstExample
        self.clients = clients
    }
}

/// A cap on every client's cumulative client-level ε, and what to do at it (`strategy.dp.totalEpsilon`,
/// `strategy.dp.budgetPolicy`).
public struct PrivacyBudget: Sendable, Equatable {
    public var totalEpsilon: Double
    public var policy: BudgetPolicy

    public init(totalEpsilon: Double, policy: BudgetPolicy) {
        self.totalEpsilon = totalEpsilon
        self.policy = policy
    }
}

/// What a client-level DP strategy tells the server's ledger about client k: its noise multiplier z_k = σ_k/(p_k·Δ)
/// (independent of p_k) and its δ_k.
public struct ClientLevelNoise: Sendable, Equatable {
    public var noiseMultiplier: Double
    public var delta: Double

    public init(noiseMultiplier: Double, delta: Double) {
        self.noiseMultiplier = noiseMultiplier
        self.delta = delta
    }
}
