// NoiseInfusion: noise-infusion mechanisms as configuration (site, law, level, schedule, train-only), spec Part A.1.
import FedTensor
import Foundation

/// Where a mechanism adds its noise (spec `papers.md` A.1 item 1).
public enum NoiseSite: String, Codable, Sendable, CaseIterable {
    /// x̃ = x + η on every training batch's inputs.
    case input
    /// h̃ = h + η after hidden layers (`afterLayers`, default: after every hidden activation).
    case activation
    /// g̃ = g + η before every optimiser step, with no clipping (Neelakantan et al. 2015 style).
    case gradient
    /// w̃_k = w_k + η before upload (federated); after every epoch in centralised training.
    case clientModel
    /// w̃_k = w_t + Δ̃_k with Δ̃_k = Δ_k + η the noised update (federated); centralised: the epoch's update.
    case clientUpdate
    /// w̃ = w + η on the server after aggregation (federated only).
    case globalModel

    /// Sites that live inside the network as a `NoiseLayer`.
    public var isLayer: Bool { self == .input || self == .activation }
    /// Sites that perturb the flat parameter vector (their relative level is per layer).
    public var isParameterVector: Bool { !isLayer }
}

/// How a mechanism's level is read.
public enum NoiseLevelMode: String, Codable, Sendable, CaseIterable {
    /// `level` is the noise std σ itself.
    case absolute
    /// σ = level·RMS(clean tensor at the site): the batch tensor for layers, each layer's slice for parameter
    /// vectors (weights, updates, gradients).
    case relative
}

/// How the level changes over training time t (the epoch centrally, the round in a federation, from 0).
public enum NoiseSchedule: String, Codable, Sendable, CaseIterable {
    case constant
    /// σ_t = σ_0·decay^t.
    case exponential
    /// σ_t = σ_0/(1 + decay·t).
    case inverse
}

/// One noise-infusion mechanism. Keys as spelled here; absent keys keep these defaults.
public struct NoiseMechanism: Codable, Sendable, Equatable {
    public var site: NoiseSite
    public var distribution: NoiseDistribution = .gaussian
    /// σ (absolute), λ (relative), or the corrupted fraction (salt-and-pepper).
    public var level: Double
    public var levelMode: NoiseLevelMode = .absolute
    /// Activation site: indices of the model's layers the noise follows (nil: every hidden activation layer).
    public var afterLayers: [Int]?
    /// Activation site: one level per noisy position, shallowest first (e.g. [0.5, 0.3, 0.1], the author's idiom);
    /// overrides `level` there.
    public var depthLevels: [Double]?
    public var schedule: NoiseSchedule = .constant
    /// The schedule's decay (γ for exponential, in (0, 1]; c ≥ 0 for inverse).
    public var decay: Double = 1
    /// Only while training (default); false keeps input/activation noise at evaluation too.
    public var trainOnly = true

    public init(site: NoiseSite, distribution: NoiseDistribution = .gaussian, level: Double,
                levelMode: NoiseLevelMode = .absolute, afterLayers: [Int]? = nil, depthLevels: [Double]? = nil,
                schedule: NoiseSchedule = .constant, decay: Double = 1, trainOnly: Bool = true) {
        self.site = site
        self.distribution = distribution
        self.level = level
        self.levelMode = levelMode
        self.afterLayers = afterLayers
        self.depthLevels = depthLevels
        self.schedule = schedule
        self.decay = decay
        self.trainOnly = trainOnly
    }

    /// σ_t/σ_0 at time t.
    public func scheduleFactor(at t: Int) -> Double {
        switch schedule {
        case .constant: 1
        case .exponential: pow(decay, Double(t))
        case .inverse: 1 / (1 + decay * Double(t))
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case site, distribution, level, levelMode, afterLayers, depthLevels, schedule, decay, trainOnly
    }

    /// Absent keys keep their defaults; an unknown key is an error naming it (a typo must not be ignored).
    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        site = try c.decode(NoiseSite.self, forKey: .site)
        distribution = try c.decodeIfPresent(NoiseDistribution.self, forKey: .distribution) ?? .gaussian
        level = try c.decode(Double.self, forKey: .level)
        levelMode = try c.decodeIfPresent(NoiseLevelMode.self, forKey: .levelMode) ?? .absolute
        afterLayers = try c.decodeIfPresent([Int].self, forKey: .afterLayers)
        depthLevels = try c.decodeIfPresent([Double].self, forKey: .depthLevels)
        schedule = try c.decodeIfPresent(NoiseSchedule.self, forKey: .schedule) ?? .constant
        decay = try c.decodeIfPresent(Double.self, forKey: .decay) ?? 1
        trainOnly = try c.decodeIfPresent(Bool.self, forKey: .trainOnly) ?? true
    }
}

/// The noise-infusion configuration of a run: a named preset (expanded first) and/or explicit mechanisms.
/// Heuristic privacy: no (ε, δ) exists for any of these mechanisms, and none is ever reported (spec A.5).
public struct NoiseInfusion: Codable, Sendable, Equatable {
    /// M1–M5 or the author's idioms (`NoisePreset`).
    public var preset: NoisePreset?
    /// Replaces the preset's level (and scales its depth levels by level/first level).
    public var level: Double?
    public var mechanisms: [NoiseMechanism] = []

    public init(preset: NoisePreset? = nil, level: Double? = nil, mechanisms: [NoiseMechanism] = []) {
        self.preset = preset
        self.level = level
        self.mechanisms = mechanisms
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case preset, level, mechanisms }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, allowed: CodingKeys.allCases.map(\.rawValue))
        let c = try decoder.container(keyedBy: CodingKeys.self)
        preset = try c.decodeIfPresent(NoisePreset.self, forKey: .preset)
        level = try c.decodeIfPresent(Double.self, forKey: .level)
        mechanisms = try c.decodeIfPresent([NoiseMechanism].self, forKey: .mechanisms) ?? []
    }

    /// The preset's mechanisms (with `level` applied) followed by the explicit ones.
    public var resolved: [NoiseMechanism] {
        var list = preset?.mechanisms ?? []
        if let level {
            for i in list.indices {
                if let d = list[i].depthLevels, let first = d.first, first > 0 {
                    list[i].depthLevels = d.map { $0 * level / first }
                }
                list[i].level = level
            }
        }
        return list + mechanisms
    }

    /// A one-line summary for logs ("M2: gaussian activation σ = 0.1").
    public var summary: String {
        let parts = resolved.map { m in
            let lv = m.depthLevels.map { "\($0)" } ?? "\(m.level)"
            return "\(m.distribution.rawValue) \(m.site.rawValue) \(m.levelMode == .relative ? "λ" : "σ") = \(lv)"
                + (m.schedule == .constant ? "" : " (\(m.schedule.rawValue) \(m.decay))")
        }
        return (preset.map { $0.rawValue + ": " } ?? "") + parts.joined(separator: "; ")
    }

    /// What the privacy line says for these mechanisms: heuristic, never an ε.
    public var privacyLine: String {
        "heuristic (noise infusion: \(summary)); no (ε, δ) guarantee exists for it, none is reported"
    }

    /// Bounds that keep a level meaningful.
    public static let maximumLevel = 1e6

    /// Checks every value; the error's `keyPath` is relative to this object ("mechanisms[1].level").
    public func validate() throws(NoiseInfusionError) {
        func check(_ ok: Bool, _ path: String, _ what: String) throws(NoiseInfusionError) {
            if !ok { throw NoiseInfusionError(keyPath: path, message: what) }
        }
        try check(level.map { $0.isFinite && $0 >= 0 && $0 <= Self.maximumLevel } ?? true, "level",
                  "must be in [0, \(Self.maximumLevel)], got \(level ?? 0)")
        try check(preset != nil || !mechanisms.isEmpty, "mechanisms", "is empty and no preset is given")
        let list = resolved, offset = list.count - mechanisms.count
        for (i, m) in list.enumerated() {
            let p = i < offset ? "preset \(preset!.rawValue) (mechanism \(i))" : "mechanisms[\(i - offset)]"
            try check(m.level.isFinite && m.level >= 0 && m.level <= Self.maximumLevel, p + ".level",
                      "must be in [0, \(Self.maximumLevel)], got \(m.level)")
            try check(!m.distribution.isInputOnly || m.site == .input, p + ".distribution",
                      "\(m.distribution.rawValue) is image noise, for site input only (got site \(m.site.rawValue))")
            try check(m.distribution != .saltAndPepper || m.level <= 1, p + ".level",
                      "salt-and-pepper's level is the corrupted fraction, in [0, 1], got \(m.level)")
            try check(m.levelMode == .absolute || m.distribution.allowsRelativeLevel, p + ".levelMode",
                      "relative needs an additive law (gaussian, laplace, uniform); \(m.distribution.rawValue) "
                        + "is already relative to the signal")
            try check(m.site == .activation || (m.afterLayers == nil && m.depthLevels == nil), p + ".afterLayers",
                      "afterLayers and depthLevels are for site activation only")
            try check(m.depthLevels.map { !$0.isEmpty && $0.count <= 1_000 } ?? true, p + ".depthLevels",
                      "give 1…1000 levels or leave it out")
            for (j, d) in (m.depthLevels ?? []).enumerated() {
                try check(d.isFinite && d >= 0 && d <= Self.maximumLevel, p + ".depthLevels[\(j)]",
                          "must be in [0, \(Self.maximumLevel)], got \(d)")
            }
            switch m.schedule {
            case .constant: break
            case .exponential:
                try check(m.decay > 0 && m.decay <= 1, p + ".decay", "must be in (0, 1] for exponential, got \(m.decay)")
            case .inverse:
                try check(m.decay >= 0 && m.decay <= 1e6, p + ".decay", "must be in [0, 1e6] for inverse, got \(m.decay)")
            }
        }
    }
}

/// A noise-infusion value that is not allowed, named by its key path inside the noise-infusion object.
public struct NoiseInfusionError: Error, CustomStringConvertible, Equatable, Sendable {
    public var keyPath: String
    public var message: String
    public init(keyPath: String, message: String) {
        self.keyPath = keyPath
        self.message = message
    }
    public var description: String { "\(keyPath): \(message)" }
}

/// Decodes one of an enumeration's names; an unknown one is an error listing the allowed names.
func decodeChoice<T: RawRepresentable & CaseIterable>(_ decoder: any Decoder) throws -> T where T.RawValue == String {
    let text = try decoder.singleValueContainer().decode(String.self)
    guard let value = T(rawValue: text) else {
        throw DecodingError.dataCorrupted(.init(
            codingPath: decoder.codingPath,
            debugDescription: "unknown value '\(text)' (allowed: \(T.allCases.map(\.rawValue).joined(separator: ", ")))"))
    }
    return value
}

extension NoiseSite { public init(from decoder: any Decoder) throws { self = try decodeChoice(decoder) } }
extension NoiseLevelMode { public init(from decoder: any Decoder) throws { self = try decodeChoice(decoder) } }
extension NoiseSchedule { public init(from decoder: any Decoder) throws { self = try decodeChoice(decoder) } }
extension NoiseDistribution { public init(from decoder: any Decoder) throws { self = try decodeChoice(decoder) } }
extension NoisePreset { public init(from decoder: any Decoder) throws { self = try decodeChoice(decoder) } }

/// Throws a `DecodingError` naming the first key of the object being decoded that is not in `allowed`.
func rejectUnknownKeys(_ decoder: any Decoder, allowed: [String]) throws {
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
    let all = try decoder.container(keyedBy: AnyKey.self)
    for key in all.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where !allowed.contains(key.stringValue) {
        throw DecodingError.dataCorrupted(.init(
            codingPath: all.codingPath + [key],
            debugDescription: "unknown key '\(key.stringValue)' (allowed here: \(allowed.sorted().joined(separator: ", ")))"))
    }
}
