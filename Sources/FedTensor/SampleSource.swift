// SampleSource: what training and evaluation need from a labelled dataset, independent of where it came from.

/// A labelled set of samples that can copy any batch into caller-owned buffers (NHWC per sample).
public protocol SampleSource: Sendable {
    /// Number of samples.
    var sampleCount: Int { get }
    /// Per-sample shape, `[height, width, channels]` for images.
    var sampleShape: [Int] { get }
    var classCount: Int { get }
    /// Every sample's label, in order (for label-aware partitioning and per-class metrics).
    var labels: [Int32] { get }
    /// Copies samples `indices` (in order) into `inputs` (count × sample size, NHWC) and their labels.
    func gather(_ indices: UnsafeBufferPointer<Int>, inputs: UnsafeMutablePointer<Float>,
                labels: UnsafeMutablePointer<Int32>)
}

/// An in-memory `SampleSource`: NHWC pixels and labels (used by tests and synthetic data).
public struct ArraySamples: SampleSource {
    public let pixels: [Float]
    public let labels: [Int32]
    public let sampleShape: [Int]
    public let classCount: Int

    public init(pixels: [Float], labels: [Int32], sampleShape: [Int], classCount: Int) {
        precondition(pixels.count == labels.count * sampleShape.reduce(1, *), "pixels and labels disagree")
        precondition(labels.allSatisfy { $0 >= 0 && Int($0) < classCount }, "label outside 0..<\(classCount)")
        self.pixels = pixels
        self.labels = labels
        self.sampleShape = sampleShape
        self.classCount = classCount
    }

    public var sampleCount: Int { labels.count }

    public func gather(_ indices: UnsafeBufferPointer<Int>, inputs: UnsafeMutablePointer<Float>,
                       labels out: UnsafeMutablePointer<Int32>) {
        let size = sampleShape.reduce(1, *)
        pixels.withUnsafeBufferPointer { p in
            for (j, i) in indices.enumerated() {
                (inputs + j * size).update(from: p.baseAddress! + i * size, count: size)
                out[j] = labels[i]
            }
        }
    }
}
