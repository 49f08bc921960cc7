// ParadoxCNNs: the small and large CNNs of the noise study (spec A.1 item 3, placeholders; the medium is `cnn`).
import FedTensor

/// The three CNNs of increasing size of the Paradox-of-Noise study. The paper's own architectures are unverified
/// (papers.md A.1 item 3, [?]); these are the spec's placeholder family, with the McMahan CNN (`ModelKind.cnn`) as
/// the medium one.
public enum ParadoxCNN {
    /// CNN-S: conv 3×3 (32, no padding) → ReLU → max-pool 2 → FC classes. On MNIST: 26×26×32 → 13×13×32 = 5,408
    /// features; 320 + 54,090 = 54,410 parameters.
    public static func small(inputShape: Shape, classes: Int) throws(ShapeError) -> Network {
        let features: [any Layer] = [Conv2d(inputShape[2], 32, kernel: 3), ReLU(), MaxPool2d(2), Flatten()]
        let flat = try Network(inputShape: inputShape, layers: features).outputSize
        return try Network(inputShape: inputShape, layers: features + [Linear(flat, classes)])
    }

    /// CNN-L: three blocks conv 3×3 (padding 1; 32, 64, 128) → BatchNorm → ReLU → max-pool 2, then FC 256 → ReLU →
    /// dropout 0.5 → FC classes. On MNIST 28 → 14 → 7 → 3: 3·3·128 = 1,152 features; 390,858 trainable
    /// parameters plus 448 BatchNorm running statistics (391,306 floats in the flat vector).
    public static func large(inputShape: Shape, classes: Int) throws(ShapeError) -> Network {
        var features: [any Layer] = []
        var c = inputShape[2]
        for width in [32, 64, 128] {
            features += [Conv2d(c, width, kernel: 3, padding: 1), BatchNorm(width), ReLU(), MaxPool2d(2)]
            c = width
        }
        features.append(Flatten())
        let flat = try Network(inputShape: inputShape, layers: features).outputSize
        return try Network(inputShape: inputShape, layers: features + [
            Linear(flat, 256), ReLU(), Dropout(0.5), Linear(256, classes),
        ])
    }

    /// The floats of `network`'s parameter vector that are trained (all but BatchNorm running statistics).
    public static func trainableCount(_ network: Network) -> Int {
        network.parameterCount - network.layers.reduce(0) { $0 + (($1 as? BatchNorm)?.nonTrainable.count ?? 0) }
    }

    /// Whether the network keeps state in its parameter vector that is not trained (BatchNorm statistics).
    public static func hasRunningStatistics(_ network: Network) -> Bool { network.layers.contains { $0 is BatchNorm } }
}
