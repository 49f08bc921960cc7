// TrainCommand+Noise: `fednoise train --noise`: heuristic noise infusion's flag, config key, checks and hooks.
import FedData
import FedNN
import FedTensor
import Foundation

extension TrainConfiguration {
    /// `noise`: valid mechanisms, none at the federation-only site, not combined with DP-SGD.
    func validateNoise() throws(UsageError) {
        if model == .largeCNN && dp {
            throw UsageError("model: large-cnn (BatchNorm) cannot train with DP-SGD (dp): per-example gradients are "
                             + "undefined under batch statistics")
        }
        if model == .largeCNN && weightDecay > 0 {
            throw UsageError("weightDecay: large-cnn keeps its BatchNorm running statistics in the parameter vector, "
                             + "which weight decay would shrink; use 0")
        }
        guard let noise else { return }
        do {
            try noise.validate()
        } catch {
            throw UsageError("noise: \(error.keyPath): \(error.message)")
        }
        if noise.has(.globalModel) {
            throw UsageError("noise: the globalModel site needs a federation (fednoise run); centralised training "
                             + "has the clientModel and clientUpdate sites, applied after every epoch")
        }
        if dp { throw UsageError("noise: noise infusion is not combined with DP-SGD (dp) in fednoise train") }
    }
}

extension TrainCommand {
    static let noiseHelp = """
      --noise SPEC         heuristic noise infusion (no ε exists for it): a preset M1 | M2 | M3 | M4 | M5 | keras
                           | author (M1–M5 are the spec's unverified placeholders), or a JSON file with
                           {"preset", "level", "mechanisms": [{"site", "distribution", "level", …}]}
                           (README, "The paradox of noise")
      --noise-level X      the preset's level (σ, or λ·RMS for relative mechanisms)
    """

    /// Reads `--noise` and `--noise-level` into `c.noise`.
    static func applyNoiseFlags(_ args: inout Arguments, to c: inout TrainConfiguration,
                                note given: inout [String: String]) throws {
        if let spec = args.string("noise") {
            if let preset = NoisePreset(rawValue: spec) {
                c.noise = NoiseInfusion(preset: preset)
            } else if FileManager.default.fileExists(atPath: spec) {
                c.noise = try loadNoise(spec)
            } else {
                throw UsageError("--noise: '\(spec)' is neither a preset ("
                                 + NoisePreset.allCases.map(\.rawValue).joined(separator: ", ") + ") nor a file")
            }
            given["noise"] = "noise"
        }
        if let level = try args.double("noise-level", in: 0...NoiseInfusion.maximumLevel) {
            guard c.noise != nil else { throw UsageError("--noise-level: give --noise (or the noise key) too") }
            c.noise!.level = level
            given["noise"] = "noise-level"
        }
    }

    /// A noise-infusion JSON file; errors name the file and the key path.
    static func loadNoise(_ path: String) throws -> NoiseInfusion {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UsageError("\(path): cannot read the file")
        }
        do {
            return try JSONDecoder().decode(NoiseInfusion.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            throw UsageError("\(path): key '\(ConfigurationFile.keyPath(context.codingPath))': \(context.debugDescription)")
        } catch let DecodingError.keyNotFound(key, context) {
            throw UsageError("\(path): missing key '\(ConfigurationFile.keyPath(context.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(_, context) {
            throw UsageError("\(path): key '\(ConfigurationFile.keyPath(context.codingPath))': \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw UsageError("\(path): key '\(ConfigurationFile.keyPath(context.codingPath))': found null")
        }
    }

    /// The model with its noise layers (unchanged without noise); errors name the key.
    static func noisyNetwork(_ config: TrainConfiguration, _ model: Network) throws -> Network {
        guard let noise = config.noise else { return model }
        do {
            return try noise.network(model)
        } catch {
            throw UsageError("noise: \(error.keyPath): \(error.message)")
        }
    }

    /// The noise stream of a centralised run: gradient noise per epoch, the model after each epoch.
    static func noiseKey(_ config: TrainConfiguration, epoch: Int, _ what: UInt64) -> StreamKey {
        StreamKey(seed: config.seed, 2, what, UInt64(epoch))
    }

    /// The SNR at every active noise site after `epoch` (empty without noise), on the first 256 training samples
    /// (`NoiseSiteSNR`): epochs.csv's SNR columns.
    static func epochSNR(_ config: TrainConfiguration, train: DatasetSamples, parameters: [Float],
                         epoch: Int) -> [SiteSNR] {
        guard let noise = config.noise,
              let base = try? config.model.network(inputShape: train.sampleShape, classes: train.classCount)
        else { return [] }
        return NoiseSiteSNR.measure(noise, base: base, parameters: parameters, data: train,
                                    indices: Array(0..<min(256, train.sampleCount)), time: epoch)
    }
}
