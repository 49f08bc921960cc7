// ServerMachine+Settings: what the parameter server's state machine needs from the configuration.
import FedPrivacy

extension ServerMachine {
    /// What the machine needs from the configuration.
    public struct Settings: Sendable {
        public var name: String
        public var seed: UInt64
        /// T
        public var rounds: Int
        /// K
        public var clientCount: Int
        /// C: m = max(⌊C·K⌋, 1) clients a round.
        public var fraction: Double
        public var evaluateEvery: Int
        /// Leave out clients that have not uploaded this long after an attempt's broadcast (nil: wait for all).
        public var deadlineSeconds: Double?
        /// Collect the uploads' diagnostic noise (simulation only).
        public var diagnostics: Bool
        /// d_k of every client.
        public var samplesOf: [Int]
        /// Emit `.checkpoint` after every this many rounds (0: never; the last round never needs one).
        public var checkpointEvery: Int
        /// End the run after the first round whose loss or model is NaN or infinite.
        public var stopOnDivergence: Bool
        /// Fixed-size or Poisson (q = C) client sampling.
        public var sampling: ClientSampling
        /// A cap on every client's cumulative client-level ε (nil: none).
        public var budget: PrivacyBudget?
        /// δ of the per-client DP-SGD (example-level) accountants; nil: clients do not train with DP-SGD.
        public var exampleDelta: Double?

        public init(name: String, seed: UInt64, rounds: Int, clientCount: Int, fraction: Double, evaluateEvery: Int,
                    deadlineSeconds: Double?, diagnostics: Bool, samplesOf: [Int], checkpointEvery: Int = 0,
                    stopOnDivergence: Bool = false, sampling: ClientSampling = .fixed,
                    budget: PrivacyBudget? = nil, exampleDelta: Double? = nil) {
            self.sampling = sampling
            self.budget = budget
            self.exampleDelta = exampleDelta
            self.name = name
            self.seed = seed
            self.rounds = rounds
            self.clientCount = clientCount
            self.fraction = fraction
            self.evaluateEvery = evaluateEvery
            self.deadlineSeconds = deadlineSeconds
            self.diagnostics = diagnostics
            self.samplesOf = samplesOf
            self.checkpointEvery = checkpointEvery
            self.stopOnDivergence = stopOnDivergence
        }
    }
}
