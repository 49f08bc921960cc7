// AttackConfiguration: the `fednoise attack` config: data, attack settings, the privacy setting and the strategies.
import FedAttack
import FedData
import FedPrivacy
import Foundation

/// One strategy row of the experiment: what the client uploads and which noise the server faces.
struct StrategyConfiguration: Codable, Equatable {
    var name = "FedAvg (gradient)"
    /// "gradient" or "update".
    var upload = "gradient"
    /// E: local full-batch SGD steps of an update.
    var steps = 1
    var learningRate: Float = 0.01
    /// "none", "dp" or "niss".
    var noise = "none"
    var tau2 = 0.0
    /// NISS: the fraction of share partners that reveal their shares to the server.
    var rho = 0.0
    /// Multiplies σ_k (1: the paper's setting; smaller values chart where the attack starts to work).
    var sigmaScale = 1.0

    static let keys: Set<String> = ["name", "upload", "steps", "learningRate", "noise", "tau2", "rho", "sigmaScale"]

    init(name: String, upload: String = "gradient", steps: Int = 1, noise: String = "none", tau2: Double = 0,
         rho: Double = 0, sigmaScale: Double = 1) {
        (self.name, self.upload, self.steps, self.noise) = (name, upload, steps, noise)
        (self.tau2, self.rho, self.sigmaScale) = (tau2, rho, sigmaScale)
    }

    /// Every key optional (defaults above); an unknown key is an error naming it, as for the file's other objects.
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        if let unknown = c.allKeys.map(\.stringValue).first(where: { !Self.keys.contains($0) }) {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath + [AnyKey(unknown)],
                debugDescription: "unknown key (allowed: \(Self.keys.sorted().joined(separator: ", ")))"))
        }
        let d = StrategyConfiguration(name: "")
        name = try c.decodeIfPresent(String.self, forKey: AnyKey("name")) ?? d.name
        upload = try c.decodeIfPresent(String.self, forKey: AnyKey("upload")) ?? d.upload
        steps = try c.decodeIfPresent(Int.self, forKey: AnyKey("steps")) ?? d.steps
        learningRate = try c.decodeIfPresent(Float.self, forKey: AnyKey("learningRate")) ?? d.learningRate
        noise = try c.decodeIfPresent(String.self, forKey: AnyKey("noise")) ?? d.noise
        tau2 = try c.decodeIfPresent(Double.self, forKey: AnyKey("tau2")) ?? d.tau2
        rho = try c.decodeIfPresent(Double.self, forKey: AnyKey("rho")) ?? d.rho
        sigmaScale = try c.decodeIfPresent(Double.self, forKey: AnyKey("sigmaScale")) ?? d.sigmaScale
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// The privacy setting shared by the DP-FedAvg and NISS rows (NISS paper B.6; README's σ_k convention).
struct AttackPrivacy: Codable, Equatable {
    /// ζ: the upload's L2 clipping norm.
    var clip = 3.0
    var epsilon = 10.0
    var delta = 1e-4
    /// m: clients per round, so p_k = 1/m.
    var clientsPerRound = 30
    /// v: NISS shares per client (σ² = σ_k²/v).
    var nissShares = 16

    /// σ_k = c(δ)·p_k·ζ/ε (classical, client-level sensitivity in the weighted domain, per round).
    func sigma() throws -> Double {
        try GaussianMechanism.sigma(epsilon: epsilon, delta: delta, sensitivity: clip / Double(clientsPerRound))
    }
}

/// A value of the attack config that is out of range; the command names the file or `--set` that gave it.
struct AttackConfigProblem: Error {
    var key: String
    var message: String
}

/// Everything `fednoise attack` runs.
struct AttackConfiguration: Codable, Equatable {
    var name = "attack-dlg-mnist"
    var seed: UInt64 = 1234
    /// "embedded-mnist" (the committed subset), "mnist", "fashion-mnist" or "cifar10" (with `dataDirectory`).
    var dataset = "embedded-mnist"
    var dataDirectory = ""
    /// The attacked client's batch is training images imageIndex ..< imageIndex + batch.
    var imageIndex = 0
    var batchSizes = [1]
    var optimizer: AttackOptimizer = .lbfgs
    var iterations = 300
    var distance: MatchingDistance = .l2
    var labels: LabelStrategy = .idlg
    var adamLearningRate = 0.1
    /// Unroll an E-step update's local steps inside the attack (false: match it as one gradient).
    var unrollLocalSteps = false
    /// Iterations whose reconstructions go into the figure.
    var snapshots = [0, 10, 30, 100, 300]
    /// "Recovered" means final MSE ≤ this (1e-3: PSNR ≥ 30 dB, pitfalls §1.6).
    var leakMSE = 1e-3
    var privacy = AttackPrivacy()
    var strategies = [StrategyConfiguration(name: "FedAvg (gradient)")]

    /// Checks ranges; errors name the key.
    func validate() throws {
        func bad(_ key: String, _ what: String) -> AttackConfigProblem { AttackConfigProblem(key: key, message: what) }
        guard (1...10_000).contains(iterations) else { throw bad("iterations", "must be in 1…10000") }
        guard !batchSizes.isEmpty, batchSizes.allSatisfy({ (1...8).contains($0) }) else {
            throw bad("batchSizes", "each must be in 1…8")
        }
        guard imageIndex >= 0 else { throw bad("imageIndex", "must be ≥ 0") }
        guard snapshots.allSatisfy({ (0...iterations).contains($0) }), snapshots.count <= 12 else {
            throw bad("snapshots", "at most 12 iterations, each in 0…iterations")
        }
        guard leakMSE > 0, privacy.clip > 0, privacy.epsilon > 0, privacy.delta > 0, privacy.delta < 1,
              (1...100_000).contains(privacy.clientsPerRound), (1...1024).contains(privacy.nissShares) else {
            throw bad("privacy", "clip, epsilon > 0; delta in (0, 1); clientsPerRound in 1…100000; nissShares 1…1024")
        }
        guard adamLearningRate > 0 else { throw bad("adamLearningRate", "must be > 0") }
        guard !strategies.isEmpty, strategies.count <= 32 else { throw bad("strategies", "give 1…32 strategies") }
        for (i, s) in strategies.enumerated() {
            let k = "strategies[\(i)]"
            guard ["gradient", "update"].contains(s.upload) else { throw bad(k + ".upload", "gradient or update") }
            guard ["none", "dp", "niss"].contains(s.noise) else { throw bad(k + ".noise", "none, dp or niss") }
            guard (1...100).contains(s.steps) else { throw bad(k + ".steps", "must be in 1…100") }
            guard s.learningRate > 0, s.learningRate.isFinite else { throw bad(k + ".learningRate", "must be > 0") }
            guard (0...1).contains(s.rho) else { throw bad(k + ".rho", "must be in [0, 1]") }
            guard s.tau2 >= 0, s.tau2 <= 100 else { throw bad(k + ".tau2", "must be in [0, 100]") }
            guard s.sigmaScale >= 0, s.sigmaScale <= 1e6 else { throw bad(k + ".sigmaScale", "must be in [0, 1e6]") }
        }
    }

    /// The FedAttack strategy of row `s`.
    func strategy(_ s: StrategyConfiguration) throws -> Strategy {
        let upload: UploadKind = s.upload == "gradient" ? .gradient : .update(steps: s.steps, learningRate: s.learningRate)
        let sigma = try privacy.sigma() * s.sigmaScale, p = 1 / Double(privacy.clientsPerRound)
        let noise: UploadNoise
        switch s.noise {
        case "dp": noise = .dp(clip: privacy.clip, sigma: sigma, weight: p)
        case "niss":
            noise = .niss(clip: privacy.clip, sigma: sigma, weight: p, tau2: s.tau2, rho: s.rho,
                          shares: privacy.nissShares)
        default: noise = .none
        }
        return Strategy(name: s.name, upload: upload, noise: noise)
    }

    /// The dataset's training split with pixels in [0, 1].
    func loadImages() throws -> Dataset {
        if dataset == "embedded-mnist" { return try DatasetLoader.embeddedMNIST(normalization: .unit).train }
        guard let kind = DatasetKind(rawValue: dataset) else {
            throw AttackConfigProblem(key: "dataset", message: "unknown value '\(dataset)' (allowed: embedded-mnist, "
                                      + "mnist, fashion-mnist, cifar10)")
        }
        guard !dataDirectory.isEmpty else {
            throw AttackConfigProblem(key: "dataset", message: "\(dataset) needs dataDirectory (the folder of its files)")
        }
        return try DatasetLoader.load(kind: kind, directory: URL(fileURLWithPath: dataDirectory),
                                      normalization: .unit).train
    }
}
