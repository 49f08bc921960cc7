// BatchOrderTests: seeded per-epoch batch orders, the kept last partial batch, gather, subset and the DataLoader.
import FedData
import FedTensor
import Testing

@Suite struct BatchOrderTests {
    static let key = StreamKey(seed: 99, 1, 2)

    @Test func batchesAreSeededAndKeepTheRemainder() {
        let indices = Array(stride(from: 0, to: 230, by: 10))  // 23 indices
        let order = BatchOrder(indices: indices, batchSize: 5, key: Self.key, epoch: 0)
        #expect(order.count == 5)
        #expect(order.map(\.count) == [5, 5, 5, 5, 3])
        #expect(order.flatMap { $0 }.sorted() == indices)
        #expect(order.order != indices)
        let again = BatchOrder(indices: indices, batchSize: 5, key: Self.key, epoch: 0)
        #expect(again.order == order.order)
        let nextEpoch = BatchOrder(indices: indices, batchSize: 5, key: Self.key, epoch: 1)
        #expect(nextEpoch.order != order.order)
        let otherKey = BatchOrder(indices: indices, batchSize: 5, key: StreamKey(seed: 98, 1, 2), epoch: 0)
        #expect(otherKey.order != order.order)
        let plain = BatchOrder(indices: indices, batchSize: 23, key: Self.key, epoch: 0, shuffle: false)
        #expect(plain.count == 1 && Array(plain[0]) == indices)
        #expect(BatchOrder(indices: [], batchSize: 4, key: Self.key, epoch: 0).isEmpty)
    }

    /// A 2-channel 2×3 dataset whose every pixel encodes (sample, element).
    static func tiny(count: Int) -> Dataset {
        let images = (0..<count * 12).map { Float($0) }
        return Dataset(
            name: "tiny", images: images, labels: (0..<count).map { Int32($0 % 4) }, channels: 2, height: 2,
            width: 3, classCount: 4)
    }

    @Test func gatherAndSubset() {
        let d = Self.tiny(count: 10)
        var images = [Float](repeating: -1, count: 3 * 12 + 1)
        var labels = [Int32](repeating: -1, count: 4)
        images.withUnsafeMutableBufferPointer { ip in
            labels.withUnsafeMutableBufferPointer { lp in
                d.gather(indices: [7, 2, 7], images: ip.baseAddress!, labels: lp.baseAddress!)
            }
        }
        #expect(Array(images[0..<12]) == (84..<96).map(Float.init))
        #expect(Array(images[12..<24]) == (24..<36).map(Float.init))
        #expect(Array(images[24..<36]) == (84..<96).map(Float.init))
        #expect(images[36] == -1 && labels == [3, 2, 3, -1])

        let s = d.subset(indices: [9, 0], name: "two")
        #expect(s.count == 2 && s.name == "two" && s.labels == [1, 0] && s.sampleShape == [2, 2, 3])
        #expect(Array(s.images[0..<12]) == (108..<120).map(Float.init) && Array(s.images[12...]) == (0..<12).map(Float.init))
        #expect(d.subset(indices: [Int]()).count == 0)
        #expect(d.labelHistogram() == [3, 3, 2, 2])
    }

    @Test func dataLoaderFeedsEveryClientSampleOncePerEpoch() {
        let d = Self.tiny(count: 50)
        let mine = [3, 8, 13, 21, 34, 40, 41]
        let loader = DataLoader(dataset: d, indices: mine, batchSize: 3, key: Self.key)
        #expect(loader.batchesPerEpoch == 3)
        var seen: [Int] = []
        var sizes: [Int] = []
        loader.forEachBatch(epoch: 2) { images, labels in
            sizes.append(labels.count)
            #expect(images.count == labels.count * 12)
            for k in 0..<labels.count {
                let sample = Int(images[k * 12]) / 12
                #expect(Int32(sample % 4) == labels[k])
                seen.append(sample)
            }
        }
        #expect(sizes == [3, 3, 1])
        #expect(seen == loader.batches(epoch: 2).order)
        #expect(seen.sorted() == mine)
    }
}
