// DatasetKind: the supported image datasets, their shapes, file names and standard statistics.

/// The image datasets FedNoise can load. The raw value is the name used on the command line and in configs.
public enum DatasetKind: String, Codable, CaseIterable, Sendable {
    case mnist
    case fashionMNIST = "fashion-mnist"
    case cifar10

    /// A human-readable name (`"MNIST"`, `"Fashion-MNIST"`, `"CIFAR-10"`).
    public var displayName: String {
        switch self {
        case .mnist: "MNIST"
        case .fashionMNIST: "Fashion-MNIST"
        case .cifar10: "CIFAR-10"
        }
    }

    /// Colour channels per image (1 or 3).
    public var channels: Int { self == .cifar10 ? 3 : 1 }
    /// Image height in pixels.
    public var height: Int { self == .cifar10 ? 32 : 28 }
    /// Image width in pixels.
    public var width: Int { self == .cifar10 ? 32 : 28 }
    /// Number of classes (labels are `0..<classCount`).
    public var classCount: Int { 10 }

    /// Per-channel mean of the training pixels scaled to [0, 1] (the constants commonly used with each dataset).
    public var standardMean: [Float] {
        switch self {
        case .mnist: [0.1307]
        case .fashionMNIST: [0.2860]
        case .cifar10: [0.4914, 0.4822, 0.4465]
        }
    }

    /// Per-channel standard deviation of the training pixels scaled to [0, 1].
    public var standardStd: [Float] {
        switch self {
        case .mnist: [0.3081]
        case .fashionMNIST: [0.3530]
        case .cifar10: [0.2470, 0.2435, 0.2616]
        }
    }

    /// IDX file names (without `.gz`) of an MNIST-style directory: (train images, train labels, test images,
    /// test labels). `nil` for CIFAR-10.
    public var idxFileNames: (trainImages: String, trainLabels: String, testImages: String, testLabels: String)? {
        switch self {
        case .mnist, .fashionMNIST:
            ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
        case .cifar10: nil
        }
    }
}
