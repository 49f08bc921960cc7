// DatasetSamples: presents a Dataset (stored N×C×H×W) to training as an NHWC `SampleSource`.
import FedTensor

/// A `Dataset` seen as NHWC samples, the layout the networks use. Single-channel data is copied as is;
/// multi-channel samples are transposed from C×H×W to H×W×C as they are gathered.
public struct DatasetSamples: SampleSource {
    public let dataset: Dataset

    public init(_ dataset: Dataset) {
        self.dataset = dataset
    }

    public var name: String { dataset.name }
    public var sampleCount: Int { dataset.count }
    public var sampleShape: [Int] { [dataset.height, dataset.width, dataset.channels] }
    public var classCount: Int { dataset.classCount }
    public var labels: [Int32] { dataset.labels }

    public func gather(_ indices: UnsafeBufferPointer<Int>, inputs: UnsafeMutablePointer<Float>,
                       labels: UnsafeMutablePointer<Int32>) {
        let c = dataset.channels, plane = dataset.height * dataset.width, size = c * plane
        guard c > 1 else {
            dataset.gather(indices: indices, images: inputs, labels: labels)
            return
        }
        dataset.images.withUnsafeBufferPointer { src in
            for (j, i) in indices.enumerated() {
                precondition(i >= 0 && i < dataset.count, "sample \(i) outside 0..<\(dataset.count)")
                let from = src.baseAddress! + i * size, to = inputs + j * size
                for p in 0..<plane {
                    for ch in 0..<c { to[p * c + ch] = from[ch * plane + p] }
                }
                labels[j] = dataset.labels[i]
            }
        }
    }
}
