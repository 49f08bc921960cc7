// DataLoader: one client's epoch-by-epoch batches gathered from a Dataset into reusable buffers.
import FedTensor

/// Feeds one client's samples to training, batch by batch, from a ``Dataset``.
public struct DataLoader: Sendable {
    /// The dataset the indices refer to.
    public let dataset: Dataset
    /// The client's dataset indices.
    public let indices: [Int]
    /// Samples per batch; the last batch of an epoch keeps the remainder (see ``BatchOrder``).
    public let batchSize: Int
    /// The client's data-order stream; epoch `e` uses `key.child(e)`.
    public let key: StreamKey
    /// Whether batches are shuffled each epoch.
    public let shuffle: Bool

    /// Creates a loader over `indices` (each in `0..<dataset.count`; traps otherwise) with batches of `batchSize ≥ 1`.
    public init(dataset: Dataset, indices: [Int], batchSize: Int, key: StreamKey, shuffle: Bool = true) {
        precondition(batchSize >= 1, "DataLoader: batchSize must be ≥ 1")
        precondition(indices.allSatisfy { $0 >= 0 && $0 < dataset.count }, "DataLoader: index out of range")
        self.dataset = dataset
        self.indices = indices
        self.batchSize = batchSize
        self.key = key
        self.shuffle = shuffle
    }

    /// The batches of `epoch`.
    public func batches(epoch: Int) -> BatchOrder {
        BatchOrder(indices: indices, batchSize: batchSize, key: key, epoch: epoch, shuffle: shuffle)
    }

    /// Number of batches per epoch (the last may be partial).
    public var batchesPerEpoch: Int { (indices.count + batchSize - 1) / batchSize }

    /// Calls `body` once per batch of `epoch` with the batch's images (`n × featureCount` floats) and labels
    /// (`n`), gathered into two buffers allocated once per call and reused for every batch. The buffers are
    /// only valid inside `body`.
    public func forEachBatch(
        epoch: Int,
        _ body: (_ images: UnsafeBufferPointer<Float>, _ labels: UnsafeBufferPointer<Int32>) throws -> Void
    ) rethrows {
        let f = dataset.featureCount
        let images = UnsafeMutablePointer<Float>.allocate(capacity: batchSize * f)
        let labels = UnsafeMutablePointer<Int32>.allocate(capacity: batchSize)
        defer {
            images.deallocate()
            labels.deallocate()
        }
        for batch in batches(epoch: epoch) {
            dataset.gather(indices: batch, images: images, labels: labels)
            try body(
                UnsafeBufferPointer(start: images, count: batch.count * f),
                UnsafeBufferPointer(start: labels, count: batch.count))
        }
    }
}
