// StrategyConfiguration: which aggregation strategy a federation runs, and DP-FedAvg's parameters.
import FedPrivacy

/// The strategy of a federation (NISS paper Algorithm 1 and its baseline).
public enum StrategyKind: String, Codable, Sendable, CaseIterable {
    /// Plain FedAvg (McMahan et al. 2017): clients upload p_k·w_k, the PS sums.
    case fedAvg
    /// Client-based DP-FedAvg (NISS paper Alg. 1): clip, then add Gaussian noise n_k ~ N(0, σ_k²) to p_k·w_k.
    case dpFedAvg
    /// NISS (NISS paper Alg. 2): DP-FedAvg's noise, split into shares whose negations neighbours add back, distorted
    /// by s ~ N(1, τ²), so most of it cancels at the PS.
    case niss

    /// Whether clients clip and compute σ_k (DP-FedAvg and NISS).
    public var usesDP: Bool { self != .fedAvg }
}

/// What is clipped before noise is added (spec B.11 item 6).
public enum ClipTarget: String, Codable, Sendable, CaseIterable {
    /// The model update Δ_k = w_k − w_t (default; w_t is public, so DP of the upload is DP of clip(Δ_k)).
    case update
    /// The whole local parameter vector (NbAFL-literal; destructive for large models).
    case parameters
}

/// How per-round releases compose into a run's guarantee (spec B.11 item 7).
public enum Composition: String, Codable, Sendable, CaseIterable {
    /// σ_k from one release (the paper's Corollary 1, L = 1); the run's ε comes from the RDP accountant over the
    /// rounds each client took part in.
    case rdp
    /// NbAFL's linear composition: σ_k multiplied by L = the number of rounds.
    case nbaflLinear
}

/// The sensitivity model by name, as configs spell it (spec B.11 item 7).
public enum SensitivityKind: String, Codable, Sendable, CaseIterable {
    /// Δ = 2ζ/d_k (NbAFL, sample-level, heuristic).
    case nbafl
    /// Δ = ζ per round (a client added or removed).
    case clientLevel
    /// Δ = 2ζ per round (a client replaced).
    case clientLevelReplace

    public var model: SensitivityModel {
        switch self {
        case .nbafl: .nbafl
        case .clientLevel: .clientLevel(replace: false)
        case .clientLevelReplace: .clientLevel(replace: true)
        }
    }
}

/// How σ_k is calibrated to a per-round (ε_k, δ_k).
public enum Calibration: String, Codable, Sendable, CaseIterable {
    /// σ = c(δ)·Δ/ε with c(δ) = √(2 ln(1.25/δ)) (NISS Cor. 1; proven for ε < 1 only).
    case classical
    /// The analytic Gaussian mechanism (Balle & Wang 2018, Thm 8 / Alg. 1): the smallest exact σ, any ε > 0.
    case analytic
}

/// What a run does when a client's cumulative client-level ε would pass `strategy.dp.totalEpsilon`.
public enum BudgetPolicy: String, Codable, Sendable, CaseIterable {
    /// End the run before the first round that would take a sampled client past the budget.
    case stop
    /// Leave such clients out of sampling from that round on; end the run when too few clients remain.
    case excludeClients
}

/// A privacy budget for the clients `from…to` (inclusive), overriding the default (ε, δ).
public struct ClientBudget: ClientRange, Codable, Sendable, Equatable {
    public var from: Int
    public var to: Int
    public var epsilon: Double
    public var delta: Double

    public init(from: Int, to: Int, epsilon: Double, delta: Double) {
        self.from = from
        self.to = to
        self.epsilon = epsilon
        self.delta = delta
    }
}

/// DP-FedAvg's parameters. σ_k = c(δ_k)·Δf_k/ε_k (· L for `nbaflLinear`), with Δf_k = p_k·Δ (weighted domain).
public struct DPConfiguration: Codable, Sendable, Equatable {
    public var clipTarget: ClipTarget
    /// ζ: the L2 clipping threshold.
    public var clippingThreshold: Double
    public var epsilon: Double
    public var delta: Double
    public var sensitivity: SensitivityKind
    public var composition: Composition
    /// Per-client budgets (ε_k, δ_k); a client in no range uses `epsilon` and `delta`. Later ranges win.
    public var clientBudgets: [ClientBudget]
    /// How σ_k is found from the per-round (ε_k, δ_k) (default: classical, the paper's formula).
    public var calibration: Calibration = .classical
    /// A cap on every client's cumulative client-level ε over the run (RDP accountant at its δ_k); nil: none.
    public var totalEpsilon: Double?
    /// What happens when a client would pass `totalEpsilon`.
    public var budgetPolicy: BudgetPolicy = .stop
    /// s: a factor on every σ_k (default 1, which changes nothing), so the aggregate noise variance scales by s².
    /// An experiment knob for the gap of NISS's X = 0 over X = 1 as a function of σ_k (issue 14); the privacy
    /// report follows the scaled σ_k (s < 1 spends more ε).
    public var noiseScale: Double

    public init(clipTarget: ClipTarget = .update, clippingThreshold: Double = 3, epsilon: Double = 10,
                delta: Double = 1e-4, sensitivity: SensitivityKind = .clientLevel,
                composition: Composition = .rdp, clientBudgets: [ClientBudget] = [],
                calibration: Calibration = .classical, totalEpsilon: Double? = nil, budgetPolicy: BudgetPolicy = .stop,
                noiseScale: Double = 1) {
        self.clientBudgets = clientBudgets
        self.calibration = calibration
        self.totalEpsilon = totalEpsilon
        self.budgetPolicy = budgetPolicy
        self.noiseScale = noiseScale
        self.clipTarget = clipTarget
        self.clippingThreshold = clippingThreshold
        self.epsilon = epsilon
        self.delta = delta
        self.sensitivity = sensitivity
        self.composition = composition
    }

    private enum CodingKeys: String, CodingKey {
        case clipTarget, clippingThreshold, epsilon, delta, sensitivity, composition, clientBudgets, calibration,
             totalEpsilon, budgetPolicy, noiseScale
    }

    /// Decodes every key; `calibration`, `totalEpsilon`, `budgetPolicy` and `noiseScale` may be absent (summaries
    /// written before they existed mean classical, none, stop and 1).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(clipTarget: try c.decode(ClipTarget.self, forKey: .clipTarget),
                  clippingThreshold: try c.decode(Double.self, forKey: .clippingThreshold),
                  epsilon: try c.decode(Double.self, forKey: .epsilon), delta: try c.decode(Double.self, forKey: .delta),
                  sensitivity: try c.decode(SensitivityKind.self, forKey: .sensitivity),
                  composition: try c.decode(Composition.self, forKey: .composition),
                  clientBudgets: try c.decode([ClientBudget].self, forKey: .clientBudgets),
                  calibration: try c.decodeIfPresent(Calibration.self, forKey: .calibration) ?? .classical,
                  totalEpsilon: try c.decodeIfPresent(Double.self, forKey: .totalEpsilon),
                  budgetPolicy: try c.decodeIfPresent(BudgetPolicy.self, forKey: .budgetPolicy) ?? .stop,
                  noiseScale: try c.decodeIfPresent(Double.self, forKey: .noiseScale) ?? 1)
    }

    /// Δ of the unweighted release for a client with `samples` examples.
    public func baseSensitivity(samples: Int) throws -> Double {
        try sensitivity.model.sensitivity(clippingNorm: clippingThreshold, datasetSize: samples)
    }

    /// Client k's (ε_k, δ_k).
    public func budget(client: Int) -> (epsilon: Double, delta: Double) {
        let own = clientBudgets.covering(client)
        return (own?.epsilon ?? epsilon, own?.delta ?? delta)
    }

    /// σ_k of the noise client k adds to p_k·w_k, times s = `noiseScale`.
    ///
    /// Classical: c(δ_k)·p_k·Δ/ε_k (× L for `nbaflLinear`). Analytic: the analytic Gaussian mechanism's σ for
    /// (ε_k, δ_k) and sensitivity p_k·Δ (Balle & Wang 2018, Alg. 1), with `nbaflLinear`'s L releases composed
    /// exactly as one release of sensitivity p_k·Δ·√L (Dong, Roth & Su 2019, Cor. 3.3).
    ///
    /// Why p_k·Δ and not 2·p_k·Δ although p_k is renormalised over the cohort: see ``RenormalisedSensitivity``.
    public func noiseStd(client: Int, weight: Double, samples: Int, rounds: Int) throws -> Double {
        let sensitivity = try SensitivityModel.weighted(try baseSensitivity(samples: samples), weight: weight)
        let (epsilon, delta) = budget(client: client)
        let exposures = composition == .nbaflLinear ? rounds : 1
        let sigma: Double
        switch calibration {
        case .classical:
            sigma = try GaussianMechanism.sigma(epsilon: epsilon, delta: delta, sensitivity: sensitivity,
                                                exposures: exposures)
        case .analytic:
            sigma = try GaussianMechanism.analyticSigma(epsilon: epsilon, delta: delta,
                                                        sensitivity: sensitivity * Double(exposures).squareRoot())
        }
        return sigma * noiseScale  // x·1 = x exactly: s = 1 leaves every bit as before
    }

    /// Client k's noise multiplier z_k = σ_k / Δf_k (independent of p_k), what the RDP accountant needs.
    public func noiseMultiplier(client: Int, samples: Int, rounds: Int) throws -> Double {
        let sigma = try noiseStd(client: client, weight: 1, samples: samples, rounds: rounds)
        return sigma / (try baseSensitivity(samples: samples))
    }
}
