// Models: the named architectures of the papers (McMahan CNN, MLP, logistic regression, DLG LeNet, tanh CNN).
import FedTensor

/// The architectures users pick by name in flags and configs.
public enum ModelKind: String, Sendable, Codable, CaseIterable {
    /// conv5×5(32, pad 2) → ReLU → pool → conv5×5(64, pad 2) → ReLU → pool → FC 512 → ReLU → FC classes
    /// (McMahan et al. 2017; NISS paper B.7). 1,663,370 parameters on MNIST, 2,156,490 on CIFAR-10.
    case cnn
    /// 2 hidden layers of 200 with ReLU (NISS paper B.7). 199,210 parameters on MNIST, 656,810 on CIFAR-10.
    case mlp
    /// Multinomial logistic regression: one linear layer (7,850 parameters on MNIST). Small and convex, for quick
    /// protocol studies and statistical tests of the noise mechanisms.
    case logistic
    /// The DLG reference LeNet (Zhu et al. 2019, `models/vision.py`; spec pitfalls-dlg-mia §1.1): three conv5×5
    /// (12 channels, padding 2, strides 2, 2, 1) each followed by a sigmoid, then FC hidden → classes, no pooling.
    /// hidden = 12·⌈h/4⌉·⌈w/4⌉ (588 on MNIST, 768 on CIFAR). Twice differentiable, for gradient-leakage attacks
    /// (FedAttack initialises it U(−0.5, 0.5) as the reference does). 13,426 parameters on MNIST.
    case lenet
    /// The end-to-end tanh CNN of Papernot et al. 2021 (tempered sigmoids) as trained with DP-SGD by Tramèr & Boneh
    /// 2021 (`MNIST_CNN`, 98.1% on MNIST at ε ≈ 2.93): conv8×8(16, stride 2, pad 2) → tanh → max-pool 2×2 stride 1 →
    /// conv4×4(32, stride 2) → tanh → max-pool 2×2 stride 1 → FC 32 → tanh → FC classes. 26,010 parameters on MNIST
    /// (1,040 + 8,224 + 16,416 + 330).
    case tanhCNN = "tanh-cnn"
    /// The noise study's CNN-S and CNN-L (`ParadoxCNNs.swift`; spec A.1 item 3 placeholders).
    case smallCNN = "small-cnn", largeCNN = "large-cnn"

    /// The network for NHWC inputs of `inputShape` ([height, width, channels]) and `classes` outputs.
    public func network(inputShape: Shape, classes: Int) throws(ShapeError) -> Network {
        guard inputShape.count == 3 else { throw ShapeError("\(rawValue) needs [height, width, channels] inputs") }
        switch self {
        case .cnn:
            let (h, w, c) = (inputShape[0], inputShape[1], inputShape[2])
            return try Network(inputShape: inputShape, layers: [
                Conv2d(c, 32, kernel: 5, padding: 2), ReLU(), MaxPool2d(2),
                Conv2d(32, 64, kernel: 5, padding: 2), ReLU(), MaxPool2d(2),
                Flatten(), Linear((h / 4) * (w / 4) * 64, 512), ReLU(), Linear(512, classes),
            ])
        case .mlp:
            return try Network(inputShape: inputShape, layers: [
                Flatten(), Linear(inputShape.reduce(1, *), 200), ReLU(), Linear(200, 200), ReLU(),
                Linear(200, classes),
            ])
        case .lenet:
            let c = inputShape[2]
            let conv1 = Conv2d(c, 12, kernel: 5, stride: 2, padding: 2)
            let conv2 = Conv2d(12, 12, kernel: 5, stride: 2, padding: 2)
            let conv3 = Conv2d(12, 12, kernel: 5, stride: 1, padding: 2)
            let s1 = try conv1.outputShape(input: inputShape)
            let s3 = try conv3.outputShape(input: try conv2.outputShape(input: s1))
            return try Network(inputShape: inputShape, layers: [
                conv1, Sigmoid(), conv2, Sigmoid(), conv3, Sigmoid(), Flatten(), Linear(s3.reduce(1, *), classes),
            ])
        case .tanhCNN:
            let c = inputShape[2]
            let features: [any Layer] = [
                Conv2d(c, 16, kernel: 8, stride: 2, padding: 2), Tanh(), MaxPool2d(2, stride: 1),
                Conv2d(16, 32, kernel: 4, stride: 2), Tanh(), MaxPool2d(2, stride: 1), Flatten(),
            ]
            let flat = try Network(inputShape: inputShape, layers: features).outputSize
            return try Network(inputShape: inputShape, layers: features + [
                Linear(flat, 32), Tanh(), Linear(32, classes),
            ])
        case .logistic:
            return try Network(inputShape: inputShape, layers: [Flatten(), Linear(inputShape.reduce(1, *), classes)])
        case .smallCNN: return try ParadoxCNN.small(inputShape: inputShape, classes: classes)
        case .largeCNN: return try ParadoxCNN.large(inputShape: inputShape, classes: classes)
        }
    }
}
