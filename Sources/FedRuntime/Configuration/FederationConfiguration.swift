// FederationConfiguration: a complete federated run (seed, rounds, K, C, E, B, η, model, data, strategy…).
import FedData
import FedNN
import FedPrivacy
import FedStrategy
import FedTensor

/// How the training set is split over clients.
public enum PartitionKind: String, Codable, Sendable, CaseIterable {
    case iid
    /// McMahan's pathological non-IID split: sort by label, cut into shards, deal `shardsPerClient` to each.
    case shards
    case dirichlet
}

/// Everything a federation needs. Decoded from `config/*.json` (keys as spelled here); validated by `validate()`.
public struct FederationConfiguration: Codable, Sendable, Equatable {
    public var name = "federation"
    public var seed: UInt64 = 42
    /// T: global rounds.
    public var rounds = 10
    public var clients = Clients()
    public var model: ModelKind = .cnn
    /// How the PS draws w_0 (default: PyTorch's U(±1/√fan_in)).
    public var initialization: Initialization = .uniform
    public var dataset = DatasetSelection()
    public var training = LocalTraining()
    public var strategy = Strategy()
    /// Evaluate the global model on the test set every `evaluateEvery` rounds (and after the last).
    public var evaluateEvery = 1
    /// Test accuracies whose first reaching round summary.json reports (McMahan et al.'s rounds-to-target).
    public var accuracyTargets = [0.9, 0.95, 0.97, 0.98, 0.99]
    /// Leave out clients that have not uploaded this many seconds after the round started (nil: wait for all).
    public var deadlineSeconds: Double?
    /// Collect each client's noise vector to report the realised aggregate noise (simulation only).
    public var diagnostics = true
    /// Where rounds.csv, summary.json and the plot go.
    public var output = "runs/federation"
    /// Write a full-state checkpoint (checkpoint.fnck in `output`) after every `checkpointEvery` rounds, so
    /// `fednoise run --resume` continues bit for bit; 0: never. Default 1: a CNN round costs seconds, a checkpoint
    /// milliseconds (README, "Interruption, checkpoints and resume").
    public var checkpointEvery = 1
    /// Keep going after a round whose loss or model is NaN or infinite (default: the run stops at that round).
    public var continueAfterDivergence = false
    /// Heuristic noise infusion (Part A): presets M1–M5 / author, or explicit mechanisms (nil: none).
    public var noiseInfusion: NoiseInfusion?
    /// BatchNorm coordinates: averaged like weights (nil or `average`) or kept by each client (`local`, FedBN).
    /// Optional so that a configuration without it keeps its resume digest.
    public var batchNorm: BatchNormAggregation?

    public struct Clients: Codable, Sendable, Equatable {
        /// K
        public var count = 100
        /// C: the fraction sampled per round; m = max(⌊C·K⌋, 1) under fixed sampling, q = C under Poisson.
        public var fraction = 0.1
        /// fixed (m clients without replacement, accounted without amplification) or poisson (each client with
        /// probability C, accounted with amplification by subsampling).
        public var sampling: ClientSampling = .fixed
        public var partition: PartitionKind = .iid
        public var shardsPerClient = 2
        public var dirichletAlpha = 0.5
        public init() {}
    }

    public struct DatasetSelection: Codable, Sendable, Equatable {
        public var kind: DatasetKind = .mnist
        /// A directory with the dataset's files; nil: the embedded MNIST subset.
        public var path: String?
        public var trainLimit: Int?
        public var testLimit: Int?
        /// Keep only `minorityFraction` of this class's training examples, across all clients (seeded subsample,
        /// applied after partitioning; nil: every example).
        public var minorityClass: Int?
        public var minorityFraction = 1.0
        public init() {}
    }

    public struct LocalTraining: Codable, Sendable, Equatable {
        /// E
        public var localEpochs = 5
        /// B
        public var batchSize = 10
        /// η
        public var learningRate = 0.01
        public var momentum = 0.0
        /// DP-SGD inside every client (off unless `noiseMultiplier` or `targetEpsilon` is set).
        public var dpsgd = LocalDPSGD()
        public init() {}
    }

    /// `training.dpsgd`: every client trains with DP-SGD (example-level DP of its own data).
    public struct LocalDPSGD: Codable, Sendable, Equatable {
        /// σ, the same for every client; or give `targetEpsilon`.
        public var noiseMultiplier: Double?
        /// ε each client must stay within at `delta` if it took part in every round (σ searched per q_k).
        public var targetEpsilon: Double?
        /// C: the per-example clipping norm.
        public var maxGradNorm = 1.0
        public var delta = 1e-5
        /// q_k = expectedBatchSize / d_k (default 10 when neither this nor `samplingRate` is given) …
        public var expectedBatchSize: Double?
        /// … or one q for every client.
        public var samplingRate: Double?
        public init() {}

        /// Whether clients train with DP-SGD.
        public var isEnabled: Bool { noiseMultiplier != nil || targetEpsilon != nil }
    }

    public struct Strategy: Codable, Sendable, Equatable {
        public var kind: StrategyKind = .fedAvg
        /// DP-FedAvg parameters, also NISS's σ_k (ignored by FedAvg).
        public var dp = DPConfiguration()
        /// NISS parameters (ignored by the other strategies).
        public var niss = NISSConfiguration()
        public init() {}
    }

    public init() {}

    /// Upper bounds on values that would otherwise exhaust memory or time (or overflow) before anything useful
    /// happens; `validate()` names the key and the bound.
    public enum Limits {
        public static let rounds = 1_000_000
        public static let clients = 100_000
        public static let shardsPerClient = 10_000
        public static let localEpochs = 10_000
        /// B: a workspace holds B samples' activations per training client (the CNN: ~28 kB per sample).
        public static let batchSize = 65_536
        public static let learningRate = 1_000.0
        public static let dirichletAlpha = 1e6
        public static let clippingThreshold = 1e6
        /// s on σ_k: beyond these σ_k² under- or overflows in the shares' Float arithmetic long before it is useful.
        public static let noiseScale = 1e-6...1e6
        /// ε below this gives σ_k beyond any useful model (and the RDP conversion's floor); above it σ_k² can
        /// underflow to 0, which NISS's σ² = min σ_k²/v_target cannot divide by (1e12 is "negligible noise").
        public static let epsilon = 1e-3...1e12
        /// τ² (the sweep's bound too).
        public static let tau2 = 1e6
        /// v_k: each share is a model-sized Gaussian vector a client draws every round.
        public static let shares = 10_000
        /// A deadline beyond this is a typo (and 1e19 s overflows `Duration`): about 11.6 days.
        public static let deadlineSeconds = 1e6
    }

    /// Checks every value; the error names the key path and what is allowed.
    public func validate() throws(ConfigurationError) {
        func check(_ ok: Bool, _ path: String, _ what: String) throws(ConfigurationError) {
            if !ok { throw ConfigurationError(keyPath: path, message: what) }
        }
        func checkRange(_ r: some ClientRange, _ path: String) throws(ConfigurationError) {
            try check(r.isValid(clientCount: clients.count), path + ".from/.to",
                      "must satisfy 0 ≤ from ≤ to < clients.count (\(clients.count)), got \(r.from)…\(r.to)")
        }
        /// Ranges that overlap leave a client's value to the order of the list: almost always a typo.
        func checkDisjoint(_ ranges: [some ClientRange], _ path: String) throws(ConfigurationError) {
            for (j, b) in ranges.enumerated() {
                for (i, a) in ranges.prefix(j).enumerated() where a.from <= b.to && b.from <= a.to {
                    throw ConfigurationError(
                        keyPath: "\(path)[\(j)].from/.to",
                        message: "clients \(b.from)…\(b.to) overlap \(path)[\(i)] (clients \(a.from)…\(a.to)); "
                            + "give each client at most one entry")
                }
            }
        }
        func inRange(_ x: Double, _ lo: Double, _ hi: Double) -> Bool { x.isFinite && x > lo && x <= hi }
        try check(rounds >= 1 && rounds <= Limits.rounds, "rounds", "must be in 1…\(Limits.rounds), got \(rounds)")
        try check(clients.count >= 1 && clients.count <= Limits.clients, "clients.count",
                  "must be in 1…\(Limits.clients), got \(clients.count)")
        try check(clients.fraction > 0 && clients.fraction <= 1, "clients.fraction",
                  "must be in (0, 1], got \(clients.fraction)")
        try check(clients.shardsPerClient >= 1 && clients.shardsPerClient <= Limits.shardsPerClient,
                  "clients.shardsPerClient",
                  "must be in 1…\(Limits.shardsPerClient), got \(clients.shardsPerClient)")
        try check(inRange(clients.dirichletAlpha, 0, Limits.dirichletAlpha), "clients.dirichletAlpha",
                  "must be in (0, \(Limits.dirichletAlpha)], got \(clients.dirichletAlpha)")
        try check((dataset.trainLimit ?? 1) >= 1, "dataset.trainLimit", "must be ≥ 1, got \(dataset.trainLimit ?? 0)")
        try check((dataset.testLimit ?? 1) >= 1, "dataset.testLimit", "must be ≥ 1, got \(dataset.testLimit ?? 0)")
        try check(dataset.minorityFraction > 0 && dataset.minorityFraction <= 1, "dataset.minorityFraction",
                  "must be in (0, 1], got \(dataset.minorityFraction)")
        try check(dataset.minorityClass != nil || dataset.minorityFraction == 1, "dataset.minorityFraction",
                  "needs dataset.minorityClass")
        try check((dataset.minorityClass ?? 0) >= 0, "dataset.minorityClass", "must be ≥ 0")
        try check(dataset.path.map { !$0.isEmpty } ?? true, "dataset.path", "is empty; give a folder or leave it out")
        // Blamed on the dataset choice: it is what needs a directory (the embedded subset is MNIST).
        try check(dataset.path != nil || dataset.kind == .mnist, "dataset.kind",
                  "\(dataset.kind.rawValue) needs a directory in dataset.path; the embedded subset is MNIST only")
        try check(training.localEpochs >= 1 && training.localEpochs <= Limits.localEpochs, "training.localEpochs",
                  "must be in 1…\(Limits.localEpochs), got \(training.localEpochs)")
        try check(training.batchSize >= 1 && training.batchSize <= Limits.batchSize, "training.batchSize",
                  "must be in 1…\(Limits.batchSize), got \(training.batchSize)")
        try check(inRange(training.learningRate, 0, Limits.learningRate), "training.learningRate",
                  "must be in (0, \(Limits.learningRate)], got \(training.learningRate)")
        try check(training.momentum >= 0 && training.momentum < 1, "training.momentum",
                  "must be in [0, 1), got \(training.momentum)")
        try validateDPSGD()
        try validateNoiseInfusion()
        try check(evaluateEvery >= 1, "evaluateEvery", "must be ≥ 1, got \(evaluateEvery)")
        try check(checkpointEvery >= 0 && checkpointEvery <= Limits.rounds, "checkpointEvery",
                  "must be in 0…\(Limits.rounds) (0: no checkpoints), got \(checkpointEvery)")
        for (i, t) in accuracyTargets.enumerated() {
            try check(t > 0 && t <= 1, "accuracyTargets[\(i)]", "must be in (0, 1], got \(t)")
        }
        try check(deadlineSeconds.map { inRange($0, 0, Limits.deadlineSeconds) } ?? true, "deadlineSeconds",
                  "must be in (0, \(Limits.deadlineSeconds)] seconds, got \(deadlineSeconds ?? 0)")
        try check(!output.allSatisfy(\.isWhitespace), "output",
                  "is empty; give the folder for rounds.csv, summary.json and rounds.svg")
        if strategy.kind == .niss {
            let n = strategy.niss
            try check(clientsPerRound >= 2, "clients.fraction",
                      "NISS needs at least 2 clients per round to exchange shares, got \(clientsPerRound)")
            try check(n.tau2 >= 0 && n.tau2 <= Limits.tau2, "strategy.niss.tau2",
                      "must be in [0, \(Limits.tau2)], got \(n.tau2)")
            try check(n.minimumShares >= 1 && n.minimumShares <= Limits.shares, "strategy.niss.minimumShares",
                      "must be in 1…\(Limits.shares), got \(n.minimumShares)")
            try check(n.targetShares >= n.minimumShares && n.targetShares <= Limits.shares,
                      "strategy.niss.targetShares",
                      "must be in strategy.niss.minimumShares (\(n.minimumShares))…\(Limits.shares), got \(n.targetShares)")
            try check(n.unitNoiseVariance.map { inRange($0, 0, .greatestFiniteMagnitude) } ?? true,
                      "strategy.niss.unitNoiseVariance", "must be > 0, got \(n.unitNoiseVariance ?? 0)")
            try check(n.collusionFraction >= 0 && n.collusionFraction <= 1, "strategy.niss.collusionFraction",
                      "must be in [0, 1], got \(n.collusionFraction)")
            try check(n.collusionFraction == 0 || diagnostics, "diagnostics",
                      "must be true for a collusion study (strategy.niss.collusionFraction > 0)")
            for (i, t) in n.clientTau2.enumerated() {
                let path = "strategy.niss.clientTau2[\(i)]"
                try checkRange(t, path)
                try check(t.tau2 >= 0 && t.tau2 <= Limits.tau2, path + ".tau2",
                          "must be in [0, \(Limits.tau2)], got \(t.tau2)")
            }
            try checkDisjoint(n.clientTau2, "strategy.niss.clientTau2")
        }
        if strategy.kind.usesDP {
            let dp = strategy.dp
            let eps = Limits.epsilon
            try check(inRange(dp.clippingThreshold, 0, Limits.clippingThreshold), "strategy.dp.clippingThreshold",
                      "must be in (0, \(Limits.clippingThreshold)], got \(dp.clippingThreshold)")
            try check(eps.contains(dp.epsilon), "strategy.dp.epsilon",
                      "must be in [\(eps.lowerBound), \(eps.upperBound)], got \(dp.epsilon)")
            try check(dp.delta > 0 && dp.delta < 1, "strategy.dp.delta", "must be in (0, 1), got \(dp.delta)")
            try check(Limits.noiseScale.contains(dp.noiseScale), "strategy.dp.noiseScale",
                      "must be in [\(Limits.noiseScale.lowerBound), \(Limits.noiseScale.upperBound)], got \(dp.noiseScale)")
            for (i, b) in dp.clientBudgets.enumerated() {
                let path = "strategy.dp.clientBudgets[\(i)]"
                try checkRange(b, path)
                try check(eps.contains(b.epsilon), path + ".epsilon",
                          "must be in [\(eps.lowerBound), \(eps.upperBound)], got \(b.epsilon)")
                try check(b.delta > 0 && b.delta < 1, path + ".delta", "must be in (0, 1), got \(b.delta)")
            }
            try checkDisjoint(dp.clientBudgets, "strategy.dp.clientBudgets")
            try check(dp.totalEpsilon.map { inRange($0, 0, eps.upperBound) } ?? true, "strategy.dp.totalEpsilon",
                      "must be in (0, \(eps.upperBound)], got \(dp.totalEpsilon ?? 0)")
            try check(dp.totalEpsilon == nil || dp.sensitivity != .nbafl, "strategy.dp.totalEpsilon",
                      "needs a client-level accountant; NbAFL's sensitivity (strategy.dp.sensitivity = nbafl) earns none")
        }
    }

    /// The clients that collude with the PS in a NISS collusion study: ⌊ρ·(K−1)⌉ of them, from the run's seed, so
    /// at ρ = 1 every client but one colludes (ρ is the fraction of the *other* clients, Theorem 3).
    public var colluders: Set<Int> {
        guard strategy.kind == .niss, strategy.niss.collusionFraction > 0 else { return [] }
        let count = Int((strategy.niss.collusionFraction * Double(clients.count - 1)).rounded())
        var order = Array(0..<clients.count)
        var rng = Philox(StreamPurpose.colluders.key(seed: seed))
        RandomDraws.shuffle(&order, using: &rng)
        return Set(order.prefix(count))
    }

    /// The client-level budget the server enforces (nil: none, or no DP strategy).
    public var privacyBudget: PrivacyBudget? {
        guard strategy.kind.usesDP, let total = strategy.dp.totalEpsilon else { return nil }
        return PrivacyBudget(totalEpsilon: total, policy: strategy.dp.budgetPolicy)
    }

    /// m = max(⌊C·K⌋, 1).
    public var clientsPerRound: Int { max(Int((clients.fraction * Double(clients.count)).rounded(.down)), 1) }
}

/// A configuration value that is not allowed, named by its key path (e.g. `clients.fraction`).
public struct ConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    public var keyPath: String
    public var message: String
    public init(keyPath: String, message: String) {
        self.keyPath = keyPath
        self.message = message
    }
    public var description: String { "\(keyPath): \(message)" }
}
