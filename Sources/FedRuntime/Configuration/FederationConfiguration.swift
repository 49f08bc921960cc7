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

    public struct Clients: Codable, Sendable, Equatable {
        /// K
        public var count = 100
        /// C: the fraction sampled per round; m = max(⌊C·K⌋, 1).
        public var fraction = 0.1
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
        public init() {}
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

    /// Checks every value; the error names the key path and what is allowed.
    public func validate() throws(ConfigurationError) {
        func check(_ ok: Bool, _ path: String, _ what: String) throws(ConfigurationError) {
            if !ok { throw ConfigurationError(keyPath: path, message: what) }
        }
        func checkRange(_ r: some ClientRange, _ path: String) throws(ConfigurationError) {
            try check(r.isValid(clientCount: clients.count), path + ".from/.to",
                      "must satisfy 0 ≤ from ≤ to < clients.count (\(clients.count)), got \(r.from)…\(r.to)")
        }
        try check(rounds >= 1, "rounds", "must be ≥ 1, got \(rounds)")
        try check(clients.count >= 1, "clients.count", "must be ≥ 1, got \(clients.count)")
        try check(clients.fraction > 0 && clients.fraction <= 1, "clients.fraction",
                  "must be in (0, 1], got \(clients.fraction)")
        try check(clients.shardsPerClient >= 1, "clients.shardsPerClient", "must be ≥ 1")
        try check(clients.dirichletAlpha > 0, "clients.dirichletAlpha", "must be > 0")
        try check((dataset.trainLimit ?? 1) >= 1, "dataset.trainLimit", "must be ≥ 1")
        try check((dataset.testLimit ?? 1) >= 1, "dataset.testLimit", "must be ≥ 1")
        // Blamed on the dataset choice: it is what needs a directory (the embedded subset is MNIST).
        try check(dataset.path != nil || dataset.kind == .mnist, "dataset.kind",
                  "\(dataset.kind.rawValue) needs a directory in dataset.path; the embedded subset is MNIST only")
        try check(training.localEpochs >= 1, "training.localEpochs", "must be ≥ 1")
        try check(training.batchSize >= 1, "training.batchSize", "must be ≥ 1")
        try check(training.learningRate > 0, "training.learningRate", "must be > 0")
        try check(training.momentum >= 0 && training.momentum < 1, "training.momentum", "must be in [0, 1)")
        try check(evaluateEvery >= 1, "evaluateEvery", "must be ≥ 1")
        for (i, t) in accuracyTargets.enumerated() {
            try check(t > 0 && t <= 1, "accuracyTargets[\(i)]", "must be in (0, 1], got \(t)")
        }
        try check((deadlineSeconds ?? 1) > 0, "deadlineSeconds", "must be > 0")
        if strategy.kind == .niss {
            let n = strategy.niss
            try check(clientsPerRound >= 2, "clients.fraction",
                      "NISS needs at least 2 clients per round to exchange shares, got \(clientsPerRound)")
            try check(n.tau2 >= 0, "strategy.niss.tau2", "must be ≥ 0, got \(n.tau2)")
            try check(n.minimumShares >= 1, "strategy.niss.minimumShares", "must be ≥ 1")
            try check(n.targetShares >= n.minimumShares, "strategy.niss.targetShares",
                      "must be ≥ strategy.niss.minimumShares (\(n.minimumShares)), got \(n.targetShares)")
            try check((n.unitNoiseVariance ?? 1) > 0, "strategy.niss.unitNoiseVariance", "must be > 0")
            try check(n.collusionFraction >= 0 && n.collusionFraction <= 1, "strategy.niss.collusionFraction",
                      "must be in [0, 1], got \(n.collusionFraction)")
            try check(n.collusionFraction == 0 || diagnostics, "diagnostics",
                      "must be true for a collusion study (strategy.niss.collusionFraction > 0)")
            for (i, t) in n.clientTau2.enumerated() {
                let path = "strategy.niss.clientTau2[\(i)]"
                try checkRange(t, path)
                try check(t.tau2 >= 0, path + ".tau2", "must be ≥ 0")
            }
        }
        if strategy.kind.usesDP {
            let dp = strategy.dp
            try check(dp.clippingThreshold > 0, "strategy.dp.clippingThreshold", "must be > 0")
            try check(dp.epsilon > 0, "strategy.dp.epsilon", "must be > 0")
            try check(dp.delta > 0 && dp.delta < 1, "strategy.dp.delta", "must be in (0, 1)")
            for (i, b) in dp.clientBudgets.enumerated() {
                let path = "strategy.dp.clientBudgets[\(i)]"
                try checkRange(b, path)
                try check(b.epsilon > 0, path + ".epsilon", "must be > 0")
                try check(b.delta > 0 && b.delta < 1, path + ".delta", "must be in (0, 1)")
            }
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
