// ParadoxConfiguration: the grid of `fednoise paradox`: mechanisms × levels × models × settings × seeds.
import FedData
import FedNN
import Foundation

/// Centralised training or FedAvg.
public enum ParadoxSetting: String, Codable, Sendable, CaseIterable {
    case centralized, federated
}

/// One mechanism of the grid: a preset and the levels it is run at (level 0, the baseline, is run once per
/// model × setting × seed, not per mechanism).
public struct StudyMechanism: Codable, Sendable, Equatable {
    public var preset: NoisePreset
    public var levels: [Double]

    public init(preset: NoisePreset, levels: [Double]) {
        self.preset = preset
        self.levels = levels
    }
}

/// The study grid; keys as spelled here (config/paradox-*.json), absent keys keep these defaults.
public struct ParadoxConfiguration: Codable, Sendable, Equatable {
    public var dataset: DatasetKind = .mnist
    /// A dataset directory; nil: the embedded 2,000/500 MNIST subset.
    public var data: String?
    public var trainLimit: Int?
    public var testLimit: Int?
    public var models: [ModelKind] = [.smallCNN, .cnn, .largeCNN]
    public var settings: [ParadoxSetting] = [.centralized, .federated]
    public var mechanisms: [StudyMechanism] = [
        StudyMechanism(preset: .m1, levels: [0.1, 0.3, 1]),
        StudyMechanism(preset: .m2, levels: [0.1, 0.3, 1]),
        StudyMechanism(preset: .m3, levels: [0.5, 1, 2]),
        StudyMechanism(preset: .m4, levels: [0.01, 0.03, 0.1]),
        StudyMechanism(preset: .m5, levels: [0.01, 0.03, 0.1]),
        StudyMechanism(preset: .author, levels: [0.1, 0.5, 1]),
    ]
    /// Real DP at matched accuracy: DP-SGD (centralised) and DP-FedAvg (federated) cells (`StudyDP`; none by default).
    public var dp = StudyDP()
    public var seeds: [UInt64] = [1, 2, 3]
    /// Centralised: epochs. Federated: rounds of `localEpochs` each, `clients` IID clients, fraction C.
    public var epochs = 3
    public var rounds = 5
    public var clients = 10
    public var fraction = 1.0
    public var localEpochs = 1
    public var batchSize = 64
    public var learningRate = 0.05
    public var momentum = 0.9
    /// Members (first N training samples) and non-members (first N test samples) of the membership attack.
    public var attackSamples = 500
    /// K: 0 (off) or 2…16 reference models per cell for the calibrated attack (offline LiRA; K extra trainings
    /// per cell, on the training images after the members).
    public var referenceModels = 0
    /// R: the stability figure is the std of test accuracy over the last R epochs or rounds.
    public var stabilityWindow = 3
    /// The admissible set of the prices: SNR (power, dB) ≤ this; nil: every noisy cell (or `levelAtLeast`).
    public var admissibleSNRdB: Double?
    /// … or level ≥ this.
    public var admissibleLevelAtLeast: Double?
    /// The optimum rule's tolerance: the largest level within this much test accuracy of the baseline.
    public var tolerance = 0.01
    public var output = "results/paradox"

    public init() {}

    static let optionalKeys: Set<String> = ["data", "trainLimit", "testLimit", "admissibleSNRdB",
                                            "admissibleLevelAtLeast"]

    public static func load(_ path: String?, overrides: [String]) throws -> ParadoxConfiguration {
        let c = try ConfigurationFile.load(ParadoxConfiguration.self, defaults: ParadoxConfiguration(), path: path,
                                           overrides: overrides, optionalKeys: optionalKeys)
        do {
            try c.validate()
        } catch {
            throw UsageError("\(path ?? "defaults"): key \(error.description)")
        }
        return c
    }

    /// Bounds everything that sets the work; the error starts with the key.
    public func validate() throws(UsageError) {
        func check(_ ok: Bool, _ key: String, _ what: String) throws(UsageError) {
            if !ok { throw UsageError("'\(key)': \(what)") }
        }
        try check(!models.isEmpty && models.count <= 16, "models", "give 1…16 models")
        try check(!settings.isEmpty, "settings", "give centralized and/or federated")
        try check(!seeds.isEmpty && seeds.count <= 100, "seeds", "give 1…100 seeds")
        for (i, m) in mechanisms.enumerated() {
            try check(!m.levels.isEmpty && m.levels.count <= 100, "mechanisms[\(i)].levels", "give 1…100 levels")
            for (j, l) in m.levels.enumerated() {
                try check(l.isFinite && l > 0 && l <= NoiseInfusion.maximumLevel, "mechanisms[\(i)].levels[\(j)]",
                          "must be in (0, \(NoiseInfusion.maximumLevel)] (level 0 is the shared baseline), got \(l)")
            }
            do {
                try NoiseInfusion(preset: m.preset, level: m.levels[0]).validate()
            } catch {
                throw UsageError("'mechanisms[\(i)]': \(error.description)")
            }
        }
        try dp.validate()
        try check(epochs >= 1 && epochs <= 1_000, "epochs", "must be in 1…1000, got \(epochs)")
        try check(rounds >= 1 && rounds <= 10_000, "rounds", "must be in 1…10000, got \(rounds)")
        try check(clients >= 1 && clients <= 10_000, "clients", "must be in 1…10000, got \(clients)")
        try check(fraction > 0 && fraction <= 1, "fraction", "must be in (0, 1], got \(fraction)")
        try check(localEpochs >= 1 && localEpochs <= 1_000, "localEpochs", "must be in 1…1000, got \(localEpochs)")
        try check(batchSize >= 1 && batchSize <= 4_096, "batchSize", "must be in 1…4096, got \(batchSize)")
        try check(learningRate > 0 && learningRate <= 10, "learningRate", "must be in (0, 10], got \(learningRate)")
        try check(momentum >= 0 && momentum < 1, "momentum", "must be in [0, 1), got \(momentum)")
        try check(attackSamples >= 10 && attackSamples <= 100_000, "attackSamples",
                  "must be in 10…100000, got \(attackSamples)")
        try check(referenceModels == 0 || (2...16).contains(referenceModels), "referenceModels",
                  "must be 0 (off) or in 2…16, got \(referenceModels)")
        try check(stabilityWindow >= 1, "stabilityWindow", "must be ≥ 1, got \(stabilityWindow)")
        try check(tolerance >= 0 && tolerance < 1, "tolerance", "must be in [0, 1), got \(tolerance)")
        try check((trainLimit ?? 1) >= 1, "trainLimit", "must be ≥ 1")
        try check((testLimit ?? 1) >= 1, "testLimit", "must be ≥ 1")
        try check(data != nil || dataset == .mnist, "dataset", "\(dataset.rawValue) needs a directory in data")
        try check(cells.count <= 100_000, "mechanisms", "the grid has \(cells.count) cells; at most 100000")
    }

    /// Every cell in run order: per model, setting and seed, the baseline, each mechanism's levels, the DP cells.
    public var cells: [ParadoxCell] {
        var list: [ParadoxCell] = []
        for model in models {
            for setting in settings {
                for seed in seeds {
                    list.append(ParadoxCell(model: model, setting: setting, mechanism: nil, level: 0, seed: seed))
                    for m in mechanisms {
                        for level in m.levels {
                            list.append(ParadoxCell(model: model, setting: setting, mechanism: m.preset, level: level,
                                                    seed: seed))
                        }
                    }
                    list += dp.cells(model: model, setting: setting, seed: seed)
                }
            }
        }
        return list
    }
}

/// One cell of the grid.
public struct ParadoxCell: Sendable, Hashable {
    public var model: ModelKind
    public var setting: ParadoxSetting
    /// nil: the noise-free baseline.
    public var mechanism: NoisePreset?
    public var level: Double
    public var seed: UInt64
    /// A real-DP cell (then `mechanism` is nil and `level` is σ or the per-round ε).
    public var dp: StudyDPKind? = nil

    /// The CSV key columns (how a resumed study recognises a finished cell).
    public var key: String {
        "\(model.rawValue),\(setting.rawValue),\(mechanism?.rawValue ?? dp?.rawValue ?? "none"),\(level),\(seed)"
    }

    public var noise: NoiseInfusion? { mechanism.map { NoiseInfusion(preset: $0, level: level) } }
}
