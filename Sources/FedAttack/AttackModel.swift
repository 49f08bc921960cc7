// AttackModel: the attacked network at its DLG initialisation, the client's batch, and NCHW ↔ NHWC images.
import FedNN
import FedTensor

/// The model a curious server attacks: the DLG reference LeNet (`ModelKind.lenet`) at initialisation, every weight
/// and bias U(−bound, bound) (`models/vision.py: weights_init`, bound 0.5; pitfalls §1.2: the attack runs on the
/// untrained model, where sigmoids are neither linear nor saturated).
public struct AttackModel: Sendable {
    public let network: Network
    public let parameters: [Float]
    /// Per-sample [height, width, channels].
    public let imageShape: Shape

    /// `kind`'s network on [height, width, channels] images, parameters U(−bound, bound) from `key` (one stream per
    /// layer, so a layer's values do not depend on the layers before it).
    public init(kind: ModelKind = .lenet, imageShape: Shape, classes: Int, key: StreamKey, bound: Float = 0.5)
        throws(ShapeError) {
        let network = try kind.network(inputShape: imageShape, classes: classes)
        var p = [Float](repeating: 0, count: network.parameterCount)
        for (i, range) in network.parameterRanges.enumerated() {
            var rng = Philox(key.child(UInt64(i)))
            for j in range { p[j] = (rng.nextUniform() * 2 - 1) * bound }
        }
        self.init(network: network, parameters: p)
    }

    public init(network: Network, parameters: [Float]) {
        precondition(parameters.count == network.parameterCount, "parameter count does not match the network")
        self.network = network
        self.parameters = parameters
        self.imageShape = network.inputShape
    }

    public var classes: Int { network.outputSize }
    public var inputSize: Int { network.inputSize }

    /// The range of the last layer's weights (classes × hidden), where iDLG reads the label.
    public var lastWeightRange: (start: Int, hidden: Int)? {
        guard let last = network.layers.last as? Linear else { return nil }
        return (network.parameterRanges.last!.lowerBound, last.inputFeatures)
    }
}

/// The images and labels one client trains on, pixels in [0, 1] (DLG uses unnormalised `ToTensor` images).
public struct ClientBatch: Sendable {
    /// batch × H·W·C, NHWC per sample (the network's layout).
    public var images: [Float]
    public var labels: [Int32]
    public var count: Int { labels.count }

    public init(images: [Float], labels: [Int32]) {
        self.images = images
        self.labels = labels
    }

    /// One-hot targets (batch × classes).
    public func oneHot(classes: Int) -> [Double] {
        var t = [Double](repeating: 0, count: count * classes)
        for (b, l) in labels.enumerated() { t[b * classes + Int(l)] = 1 }
        return t
    }
}

/// Converts `count` images from C×H×W planes (how `Dataset` stores them) to H×W×C (the network's layout).
public func nhwc(fromNCHW x: [Float], count: Int, channels c: Int, height h: Int, width w: Int) -> [Float] {
    guard c > 1 else { return x }
    var out = x
    for n in 0..<count {
        for ch in 0..<c { for i in 0..<(h * w) { out[n * c * h * w + i * c + ch] = x[n * c * h * w + ch * h * w + i] } }
    }
    return out
}

/// Converts `count` images from H×W×C to C×H×W planes.
public func nchw(fromNHWC x: [Float], count: Int, channels c: Int, height h: Int, width w: Int) -> [Float] {
    guard c > 1 else { return x }
    var out = x
    for n in 0..<count {
        for ch in 0..<c { for i in 0..<(h * w) { out[n * c * h * w + ch * h * w + i] = x[n * c * h * w + i * c + ch] } }
    }
    return out
}
