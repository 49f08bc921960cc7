// CIFARTests: CIFAR-10 binary batches: channel-plane layout, gzipped batches, partial records and bad labels.
import FedData
import FedTestKit
import Foundation
import Testing

@Suite struct CIFARTests {
    /// The fixture's pixel pattern (DataFixtures.cifarRecords' default).
    static func pixel(_ r: Int, _ c: Int, _ j: Int) -> UInt8 { UInt8((r &* 7 &+ c &* 50 &+ j) & 0xFF) }

    /// Writes five training batches (3 records each; even-numbered batches gzipped) and a 2-record test batch.
    static func writeDirectory(_ dir: TemporaryDirectory) throws {
        for b in 1...5 {
            let labels = (0..<3).map { UInt8((b * 3 + $0) % 10) }
            let bytes = DataFixtures.cifarRecords(labels: labels) { r, c, j in pixel(b * 3 + r, c, j) }
            if b % 2 == 0 {
                try dir.write(DataFixtures.gzip(bytes), to: "data_batch_\(b).bin.gz")
            } else {
                try dir.write(bytes, to: "data_batch_\(b).bin")
            }
        }
        try dir.write(DataFixtures.cifarRecords(labels: [9, 0]), to: "test_batch.bin")
    }

    @Test func layoutIsChannelPlanes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.writeDirectory(dir)
        let (train, test) = try DatasetLoader.load(kind: .cifar10, directory: dir.url, normalization: .none)
        #expect(train.count == 15 && test.count == 2)
        #expect(train.sampleShape == [3, 32, 32] && train.featureCount == 3072)
        #expect(train.labels == (0..<15).map { Int32((3 + $0) % 10) })
        #expect(test.labels == [9, 0])
        // Sample n, channel c, row y, column x sits at ((n·3 + c)·32 + y)·32 + x and equals the file's plane byte.
        for n in [0, 4, 14] {
            for c in 0..<3 {
                for (y, x) in [(0, 0), (0, 31), (17, 5), (31, 31)] {
                    let j = y * 32 + x
                    #expect(train.images[((n * 3 + c) * 32 + y) * 32 + x] == Float(Self.pixel(3 + n, c, j)))
                }
            }
        }
        #expect(test.images[1 * 3072 + 2 * 1024 + 10] == Float(Self.pixel(1, 2, 10)))
    }

    @Test func standardNormalisationIsPerChannel() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try Self.writeDirectory(dir)
        let test = try DatasetLoader.load(kind: .cifar10, directory: dir.url, normalization: .standard).test
        let mean: [Float] = [0.4914, 0.4822, 0.4465], std: [Float] = [0.2470, 0.2435, 0.2616]
        for c in 0..<3 {
            let raw = Float(Self.pixel(0, c, 77))
            #expect(abs(test.images[c * 1024 + 77] - (raw / 255 - mean[c]) / std[c]) < 1e-5)
        }
        let custom = try DatasetLoader.load(
            kind: .cifar10, directory: dir.url, normalization: .custom(mean: [0.5], std: [0.25])
        ).test
        #expect(abs(custom.images[2 * 1024 + 3] - (Float(Self.pixel(0, 2, 3)) / 255 - 0.5) / 0.25) < 1e-5)
    }

    @Test func partialRecord() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let bytes = DataFixtures.cifarRecords(labels: [1, 2]) + [UInt8](repeating: 3, count: 100)
        let url = try dir.write(bytes, to: "data_batch_3.bin")
        expectDataError("data_batch_3.bin: byte 6,146: incomplete record 2: 100 of 3,073 bytes") {
            _ = try CIFAR10.readBatch(url)
        }
        let gz = try dir.write(DataFixtures.gzip(Array(bytes.dropLast(99))), to: "test_batch.bin.gz")
        expectDataError("test_batch.bin.gz: byte 6,146: incomplete record 2: 1 of 3,073 bytes") {
            _ = try CIFAR10.readBatch(gz)
        }
        let empty = try dir.write([], to: "data_batch_4.bin")
        expectDataError("data_batch_4.bin: byte 0:", "empty file") { _ = try CIFAR10.readBatch(empty) }
    }

    @Test func badLabel() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = try dir.write(DataFixtures.cifarRecords(labels: [0, 9, 10, 3]), to: "data_batch_2.bin")
        expectDataError("data_batch_2.bin: byte 6,146: record 2 has label 10, expected 0…9") {
            _ = try CIFAR10.readBatch(url)
        }
        // Through the directory loader, the bad file is named.
        let full = try TemporaryDirectory()
        defer { full.remove() }
        try Self.writeDirectory(full)
        try full.write(DataFixtures.cifarRecords(labels: [0, 255]), to: "test_batch.bin")
        expectDataError("test_batch.bin: byte 3,073: record 1 has label 255") {
            _ = try DatasetLoader.load(kind: .cifar10, directory: full.url)
        }
    }
}
