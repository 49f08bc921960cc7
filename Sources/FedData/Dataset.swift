// Dataset: an in-memory labelled image set (N×C×H×W floats plus Int32 labels), with batch gathering and subsets.

/// A labelled image dataset held in memory.
///
/// Images are stored contiguously in `N×C×H×W` order (sample-major, then channel planes, each plane row-major),
/// already normalised (see ``Normalization``). Labels are `Int32` in `0..<classCount`, the type the loss functions
/// take. The struct is a value type with copy-on-write arrays, so it is cheap to pass around and `Sendable`.
public struct Dataset: Sendable {
    /// A short name such as `"MNIST train"`.
    public var name: String
    /// `count × channels × height × width` normalised pixels.
    public let images: [Float]
    /// `count` labels in `0..<classCount`.
    public let labels: [Int32]
    /// Colour channels per image (1 for MNIST-style, 3 for CIFAR-10).
    public let channels: Int
    /// Image height in pixels.
    public let height: Int
    /// Image width in pixels.
    public let width: Int
    /// Number of classes; labels lie in `0..<classCount`.
    public let classCount: Int

    /// Creates a dataset. Traps if the array sizes do not match the shape or a label is out of range
    /// (these are programming errors; file problems are reported by the loaders as ``DataError``).
    public init(
        name: String, images: [Float], labels: [Int32], channels: Int, height: Int, width: Int, classCount: Int
    ) {
        precondition(channels > 0 && height > 0 && width > 0 && classCount > 0, "Dataset: non-positive shape")
        precondition(images.count == labels.count * channels * height * width, "Dataset: images/labels size mismatch")
        precondition(labels.allSatisfy { $0 >= 0 && Int($0) < classCount }, "Dataset: label out of range")
        self.name = name
        self.images = images
        self.labels = labels
        self.channels = channels
        self.height = height
        self.width = width
        self.classCount = classCount
    }

    /// Number of samples.
    public var count: Int { labels.count }
    /// Floats per sample: `channels × height × width`.
    public var featureCount: Int { channels * height * width }
    /// The shape of one sample, `[channels, height, width]`.
    public var sampleShape: [Int] { [channels, height, width] }

    /// How many samples carry each label.
    public func labelHistogram() -> [Int] {
        var h = [Int](repeating: 0, count: classCount)
        for l in labels { h[Int(l)] += 1 }
        return h
    }

    /// Copies the samples at `indices` (in that order) into caller-provided buffers, without allocating.
    ///
    /// - Parameters:
    ///   - indices: sample indices in `0..<count`; repeats are allowed.
    ///   - images: room for `indices.count × featureCount` floats.
    ///   - labels: room for `indices.count` labels.
    public func gather(
        indices: some Collection<Int>, images: UnsafeMutablePointer<Float>, labels: UnsafeMutablePointer<Int32>
    ) {
        let f = featureCount
        self.images.withUnsafeBufferPointer { src in
            self.labels.withUnsafeBufferPointer { lab in
                var k = 0
                for i in indices {
                    precondition(i >= 0 && i < lab.count, "Dataset.gather: index \(i) out of range 0..<\(lab.count)")
                    (images + k * f).update(from: src.baseAddress! + i * f, count: f)
                    labels[k] = lab[i]
                    k += 1
                }
            }
        }
    }

    /// A new dataset holding the samples at `indices`, in that order (repeats allowed).
    public func subset(indices: some Collection<Int>, name: String? = nil) -> Dataset {
        let n = indices.count, f = featureCount
        var newLabels = [Int32](repeating: 0, count: n)
        let newImages = [Float](unsafeUninitializedCapacity: n * f) { buf, initialized in
            newLabels.withUnsafeMutableBufferPointer { lab in
                if n > 0 { gather(indices: indices, images: buf.baseAddress!, labels: lab.baseAddress!) }
            }
            initialized = n * f
        }
        return Dataset(
            name: name ?? self.name, images: newImages, labels: newLabels, channels: channels, height: height,
            width: width, classCount: classCount)
    }

    /// Per-channel mean and (population) standard deviation of the stored pixels, computed in `Double`.
    public func channelStatistics() -> [(mean: Double, std: Double)] {
        let plane = height * width
        var sum = [Double](repeating: 0, count: channels), sq = [Double](repeating: 0, count: channels)
        images.withUnsafeBufferPointer { p in
            for n in 0..<count {
                for c in 0..<channels {
                    let base = p.baseAddress! + (n * channels + c) * plane
                    var s = 0.0, q = 0.0
                    for j in 0..<plane {
                        let x = Double(base[j])
                        s += x
                        q += x * x
                    }
                    sum[c] += s
                    sq[c] += q
                }
            }
        }
        let m = Double(count * plane)
        return (0..<channels).map { c in
            let mean = sum[c] / m
            return (mean, max(0, sq[c] / m - mean * mean).squareRoot())
        }
    }
}
