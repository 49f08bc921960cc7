// RDPAccountant: a Sendable value that records sampled-Gaussian steps as compressed (σ, q, count) runs and reports ε.

/// A Rényi-DP accountant for the sampled Gaussian mechanism, as opacus `accountants/rdp.py`.
///
/// It stores only the history of `(noiseMultiplier, sampleRate, steps)` runs: consecutive steps with exactly the
/// same σ and q extend the last run, so a 2,250-step training run is one entry. All math is in ``RDP``. It is a
/// value type: copy it to branch ("what would ε be after 100 more rounds?"), encode it to checkpoint it.
///
/// ```swift
/// var accountant = RDPAccountant()
/// for _ in 0..<2250 { try accountant.step(noiseMultiplier: 1.5, sampleRate: 0.04) }
/// let (epsilon, order) = try accountant.epsilon(delta: 1e-5)   // 7.3291111714, α = 3.9
/// ```
public struct RDPAccountant: Sendable, Codable, Hashable {
    /// `steps` consecutive applications of the sampled Gaussian mechanism with one σ and q.
    public struct Run: Sendable, Codable, Hashable {
        /// σ: noise standard deviation divided by the L2 sensitivity (clipping norm).
        public var noiseMultiplier: Double
        /// q: the Poisson sampling rate (1 for a full-batch or every-round release).
        public var sampleRate: Double
        /// How many steps the run lasted.
        public var steps: Int

        public init(noiseMultiplier: Double, sampleRate: Double, steps: Int) {
            self.noiseMultiplier = noiseMultiplier
            self.sampleRate = sampleRate
            self.steps = steps
        }

        func validate() throws {
            try Check.nonNegative(noiseMultiplier, "noiseMultiplier")
            try Check.rate(sampleRate, "sampleRate")
            try Check.atLeast(steps, 1, "steps")
        }
    }

    /// The compressed history, oldest run first.
    public private(set) var history: [Run]

    /// An accountant with nothing spent.
    public init() { history = [] }

    /// An accountant resuming from `history` (validated, and compressed as ``step(noiseMultiplier:sampleRate:count:)``
    /// would have compressed it).
    public init(history: [Run]) throws {
        self.init()
        for run in history { try step(noiseMultiplier: run.noiseMultiplier, sampleRate: run.sampleRate, count: run.steps) }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(history: container.decode([Run].self, forKey: .history))
    }

    /// Records `count` steps of the sampled Gaussian mechanism with noise multiplier σ and sampling rate q.
    /// - Throws: ``PrivacyError/invalidParameter(name:value:requirement:)`` unless σ ≥ 0, q ∈ [0, 1], count ≥ 1.
    public mutating func step(noiseMultiplier: Double, sampleRate: Double, count: Int = 1) throws {
        let run = Run(noiseMultiplier: noiseMultiplier, sampleRate: sampleRate, steps: count)
        try run.validate()
        if let last = history.last, last.noiseMultiplier == noiseMultiplier, last.sampleRate == sampleRate {
            history[history.count - 1].steps += count
        } else {
            history.append(run)
        }
    }

    /// Total steps recorded.
    public var steps: Int { history.reduce(0) { $0 + $1.steps } }

    /// The composed RDP at each order: Σ over runs of steps·RDP(σ, q, α).
    public func rdp(orders: [Double] = RDP.defaultOrders) throws -> [Double] {
        try Check.orders(orders)
        var total = [Double](repeating: 0, count: orders.count)
        for run in history {
            let part = try RDP.sampledGaussian(noiseMultiplier: run.noiseMultiplier, sampleRate: run.sampleRate,
                                               steps: run.steps, orders: orders)
            for k in total.indices { total[k] += part[k] }
        }
        return total
    }

    /// (ε, δ) spent so far: ``RDP/epsilon(orders:rdp:delta:)`` of the composed RDP (opacus `get_privacy_spent`).
    ///
    /// ε is +∞ when some step with q > 0 had σ = 0. An empty history gives the conversion's value at zero RDP
    /// (a loose but true bound, as in opacus); ``PrivacyGuarantee/accounted(by:delta:orders:)`` reports it as 0.
    /// - Returns: ε and the order α that attains it.
    public func epsilon(delta: Double, orders: [Double] = RDP.defaultOrders) throws -> (epsilon: Double, bestOrder: Double) {
        try RDP.epsilon(orders: orders, rdp: rdp(orders: orders), delta: delta)
    }
}
