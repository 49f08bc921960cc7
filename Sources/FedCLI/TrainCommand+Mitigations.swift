// TrainCommand+Mitigations: `fednoise train`'s layer freezing and data augmentation (DP fairness mitigations).
import FedData
import FedNN
import FedTensor
import Foundation

extension TrainCommand {
    static let mitigationsHelp = """
      --freeze NAMES       comma-separated layers that keep their starting weights (initial or --init-from): no
                           update at all, and with --dp no noise and no part in the clipped per-example norm, so
                           fewer noisy coordinates at the same ε. Names by kind and order: conv1, conv2, fc1, fc2
                           (the cnn), fc1…fc3 (the mlp), or layer<i> by index
      --augment-shift N    random shifts of up to N pixels each way (pad-and-crop; the border is a raw 0 pixel),
                           redrawn per (seed, epoch, example); 0…8, default 0 (off)
      --augment-flip       also mirror left–right with probability ½ (off by default: wrong for digits)
      --augment-copies K   with --dp: augmentation multiplicity (De et al. 2022): each sampled example's gradient
                           is the mean over K augmented copies, clipped as one; ε unchanged. 1…64, default 1
    """

    static func applyMitigationFlags(_ args: inout Arguments, to c: inout TrainConfiguration,
                                     note given: inout [String: String]) throws(UsageError) {
        if let v = args.string("freeze") {
            c.freeze = v.split(separator: ",").map { String($0) }
            given["freeze"] = "freeze"
        }
        if let v = try args.int("augment-shift") { c.augmentShift = v; given["augmentShift"] = "augment-shift" }
        if args.flag("augment-flip") { c.augmentFlip = true; given["augmentFlip"] = "augment-flip" }
        if let v = try args.int("augment-copies") { c.augmentCopies = v; given["augmentCopies"] = "augment-copies" }
    }

    /// The layers `freeze` names (none without it); the error names the key and the valid names.
    static func frozenLayers(_ config: TrainConfiguration, _ network: Network) throws -> Set<Int> {
        guard let names = config.freeze else { return [] }
        do {
            let frozen = try network.layerIndices(named: names)
            if network.trainableCount(frozen: frozen) == 0 {
                throw UsageError("freeze (--freeze): \(names.joined(separator: ",")) freezes every layer; nothing would train")
            }
            say("frozen: \(names.joined(separator: ", ")) (\(network.trainableCount(frozen: frozen).formatted()) of "
                  + "\(network.parameterCount.formatted()) parameters train)")
            return frozen
        } catch let error as ShapeError {
            throw UsageError("freeze (--freeze): \(error.description)")
        }
    }

    /// The training data of `epoch` as the model sees it: shifted/flipped per (seed, epoch, example) and
    /// `augmentCopies` copies per example; without augmentation it gathers exactly the plain data.
    static func augmented<S: SampleSource>(_ config: TrainConfiguration, _ train: S, epoch: Int) -> AugmentedSamples<S> {
        let fill = zip(config.dataset.standardMean, config.dataset.standardStd).map { -$0 / $1 }
        return AugmentedSamples(train, augmentation: .shift(maxShift: config.augmentShift, flip: config.augmentFlip,
                                                            fill: fill),
                                copies: config.augmentCopies,
                                key: StreamKey(seed: config.seed, 0x4155_474D, UInt64(epoch)))  // "AUGM"
    }
}

extension TrainConfiguration {
    func validateMitigations() throws(UsageError) {
        if let f = freeze, f.isEmpty || f.contains(where: { $0.allSatisfy(\.isWhitespace) }) {
            throw UsageError("freeze: an empty layer name; give names like conv1,fc1")
        }
        guard augmentShift >= 0 && augmentShift <= 8 else {
            throw UsageError("augmentShift: must be in 0…8 pixels, got \(augmentShift)")
        }
        guard augmentCopies >= 1 && augmentCopies <= 64 else {
            throw UsageError("augmentCopies: must be in 1…64, got \(augmentCopies)")
        }
        if augmentCopies > 1 && !dp {
            throw UsageError("augmentCopies: only applies with dp (--dp): it averages K copies' gradients before "
                + "clipping; plain training already sees a fresh shift every epoch")
        }
        if augmentCopies > 1 && perLayerClipping {
            throw UsageError("augmentCopies: augmentation multiplicity clips each example's whole averaged gradient "
                + "to C; it does not combine with perLayerClipping (--per-layer-clipping)")
        }
        if augmentCopies > 1 && augmentShift == 0 && !augmentFlip {
            throw UsageError("augmentCopies: \(augmentCopies) identical copies; give augmentShift (--augment-shift) "
                + "or augmentFlip (--augment-flip) too")
        }
    }
}
