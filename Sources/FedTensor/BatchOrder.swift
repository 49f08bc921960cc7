// BatchOrder: a client's seeded per-epoch shuffle of its indices, cut into mini-batches.


/// The mini-batches of one epoch over a client's index list.
///
/// The order is a Fisher–Yates shuffle (``RandomDraws/shuffle(_:using:)``) driven by `Philox(key.child(epoch))`,
/// so the same key and epoch always give the same batches, and different epochs give independent orders.
/// Batches hold `batchSize` indices each except the last, which keeps the remainder (`count % batchSize`
/// indices) rather than dropping it; there are `ceil(count / batchSize)` batches.
public struct BatchOrder: RandomAccessCollection, Sendable {
    /// The epoch's full order of dataset indices.
    public let order: [Int]
    /// Indices per batch (the last batch may be smaller).
    public let batchSize: Int

    /// - Parameters:
    ///   - indices: the client's dataset indices.
    ///   - batchSize: indices per batch, ≥ 1.
    ///   - key: the client's data-order stream; the epoch's stream is `key.child(UInt64(epoch))`.
    ///   - epoch: the epoch number.
    ///   - shuffle: `false` keeps `indices` in the given order (e.g. for evaluation).
    public init(indices: [Int], batchSize: Int, key: StreamKey, epoch: Int, shuffle: Bool = true) {
        precondition(batchSize >= 1, "BatchOrder: batchSize must be ≥ 1")
        var order = indices
        if shuffle {
            var rng = Philox(key.child(UInt64(truncatingIfNeeded: epoch)))
            RandomDraws.shuffle(&order, using: &rng)
        }
        self.order = order
        self.batchSize = batchSize
    }

    /// Batch positions run from 0 to ``endIndex`` = `ceil(order.count / batchSize)`.
    public var startIndex: Int { 0 }
    public var endIndex: Int { (order.count + batchSize - 1) / batchSize }

    /// The dataset indices of batch `i`.
    public subscript(i: Int) -> ArraySlice<Int> {
        precondition(i >= 0 && i < endIndex, "BatchOrder: batch \(i) out of range 0..<\(endIndex)")
        return order[i * batchSize..<Swift.min(order.count, (i + 1) * batchSize)]
    }
}
