// TrainCommand+Weights: `fednoise train --init-from FILE` and `--save-weights FILE` (format: FedNN's WeightsFile).
import FedNN
import FedTensor
import Foundation

extension TrainCommand {
    static let weightsHelp = """
      --init-from FILE     start from the weights in FILE (written by --save-weights) instead of --init; the file
                           must be for the same --model, input shape and classes (public pre-training, then
                           private fine-tuning with --dp)
      --save-weights FILE  write the final weights to FILE (format in README, "Weights files"; checked before
                           training starts)
    """

    /// Reads the weights flags into `c`, noting which flag set each key.
    static func applyWeightFlags(_ args: inout Arguments, to c: inout TrainConfiguration,
                                 note given: inout [String: String]) {
        if let v = args.string("init-from") { c.initFrom = v; given["initFrom"] = "init-from" }
        if let v = args.string("save-weights") { c.saveWeights = v; given["saveWeights"] = "save-weights" }
    }

    /// What identifies `network`'s weights in a file.
    static func weightsHeader(_ config: TrainConfiguration, _ network: Network) -> ModelWeights {
        ModelWeights(model: config.model.rawValue, inputShape: network.inputShape, outputs: network.outputSize,
                     parameters: [Float](repeating: 0, count: network.parameterCount))
    }

    /// The starting weights: `initFrom`'s, checked against the model, or fresh ones drawn by `initialization`.
    static func startingWeights(_ config: TrainConfiguration, _ network: Network) throws -> [Float] {
        guard let path = config.initFrom else {
            return network.initialParameters(key: StreamKey(seed: config.seed, 0), scheme: config.initialization)
        }
        do {
            let p = try WeightsFile.read(path, expecting: weightsHeader(config, network))
            say("starting from the weights in \(path)")
            return p
        } catch {
            throw UsageError("initFrom (--init-from): \(error)")
        }
    }

    /// Writes the final weights when `saveWeights` is set.
    static func saveWeightsIfAsked(_ config: TrainConfiguration, _ network: Network, _ parameters: [Float]) throws {
        guard let path = config.saveWeights else { return }
        var w = weightsHeader(config, network)
        w.parameters = parameters
        try WeightsFile.write(w, to: path)
        say("wrote the weights to \(path)")
    }

    /// Before training: the save path's folder must be writable and `initFrom` must exist.
    static func checkWeightPaths(_ config: TrainConfiguration) throws {
        if let path = config.saveWeights { try OutputPlace.prepareFile(path, origin: "--save-weights") }
        if let path = config.initFrom, !FileManager.default.isReadableFile(atPath: path) {
            throw UsageError("initFrom (--init-from): \(path): no such readable file")
        }
    }
}
