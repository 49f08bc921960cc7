// IDXTests: IDX and gzip round trips and every malformed-file error path, with file names and offsets.
import FedData
import FedTestKit
import Foundation
import Testing

@Suite struct IDXTests {
    @Test(arguments: [false, true])
    func roundTrip(gzipped: Bool) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let train: [UInt8] = (0..<12).map { UInt8($0 % 10) }
        let test: [UInt8] = [3, 1, 4]
        try DataFixtures.writeMNISTStyle(in: dir, trainLabels: train, testLabels: test, gzipped: gzipped)
        let (tr, te) = try DatasetLoader.load(kind: .mnist, directory: dir.url, normalization: .none)
        #expect(tr.count == 12 && te.count == 3)
        #expect(tr.labels == train.map(Int32.init))
        #expect(te.labels == test.map(Int32.init))
        #expect(tr.sampleShape == [1, 28, 28] && tr.featureCount == 784)
        for i in [0, 5, 11] {
            for j in [0, 1, 300, 783] { #expect(tr.images[i * 784 + j] == Float((i + j) & 0xFF)) }
        }
        #expect(tr.name == "MNIST train")

        let unit = try DatasetLoader.load(kind: .fashionMNIST, directory: dir.url, normalization: .unit).train
        #expect(abs(unit.images[784 * 2 + 100] - Float(102) / 255) < 1e-7)
        let std = try DatasetLoader.load(kind: .fashionMNIST, directory: dir.url, normalization: .standard).train
        #expect(abs(std.images[784 * 2 + 100] - (Float(102) / 255 - 0.2860) / 0.3530) < 1e-5)
    }

    @Test func gzipRoundTripAndPassThrough() throws {
        let raw: [UInt8] = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 >> 3) }
        let gz = DataFixtures.gzip(raw)
        #expect(Gzip.isGzip(gz) && !Gzip.isGzip(raw))
        #expect(try Gzip.inflate(gz, name: "x.gz") == raw)
        // Two concatenated members, then zero padding.
        #expect(try Gzip.inflate(gz + DataFixtures.gzip([1, 2, 3]) + [0, 0, 0], name: "x.gz") == raw + [1, 2, 3])
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        #expect(try Gzip.readFile(dir.write(raw, to: "plain.bin")) == raw)
        #expect(try Gzip.readFile(dir.write(gz, to: "packed.bin.gz")) == raw)
        #expect(try Gzip.readFile(dir.write([], to: "empty.bin")) == [])
    }

    @Test func truncatedGzip() throws {
        let gz = DataFixtures.gzip(DataFixtures.idxImages(count: 50))
        let cut = Array(gz[..<(gz.count / 2)])
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let url = try dir.write(cut, to: "train-images-idx3-ubyte.gz")
        expectDataError("train-images-idx3-ubyte.gz: byte \(commas(cut.count)):", "truncated") {
            _ = try Gzip.readFile(url)
        }
        // Cut inside the 8-byte trailer and inside the 10-byte header too.
        expectDataError("truncated") { _ = try Gzip.inflate(Array(gz.dropLast(3)), name: "t.gz") }
        expectDataError("t.gz: byte 5:", "truncated") { _ = try Gzip.inflate(Array(gz[..<5]), name: "t.gz") }
    }

    @Test func corruptGzip() throws {
        let gz = DataFixtures.gzip(DataFixtures.idxImages(count: 50))
        var badMethod = gz
        badMethod[2] = 7  // compression method must be 8 (deflate)
        expectDataError("a.gz: byte ", "corrupt", "unknown compression method") {
            _ = try Gzip.inflate(badMethod, name: "a.gz")
        }
        var badCRC = gz
        badCRC[gz.count - 6] ^= 0xFF  // CRC-32 in the trailer
        expectDataError("b.gz: byte ", "corrupt", "incorrect data check") { _ = try Gzip.inflate(badCRC, name: "b.gz") }
        var flipped = gz
        for k in stride(from: 20, to: gz.count - 20, by: 7) { flipped[k] ^= 0x5A }
        expectDataError("c.gz: byte ") { _ = try Gzip.inflate(flipped, name: "c.gz") }
        expectDataError("d.gz: byte \(gz.count):", "trailing") { _ = try Gzip.inflate(gz + [9, 9, 9], name: "d.gz") }
    }

    @Test func badMagic() {
        var bytes = DataFixtures.idxImages(count: 2)
        bytes[0] = 0x12
        bytes[1] = 0x34
        expectDataError("x-images: byte 0: expected IDX magic 00 00, found 12 34") {
            _ = try IDX.parse(bytes, name: "x-images", rank: 3, role: "images")
        }
        expectDataError("tiny: byte 0:", "found a file of 3 bytes") {
            _ = try IDX.parse([0, 0, 8], name: "tiny", rank: 1, role: "labels")
        }
    }

    @Test func wrongTypeAndRank() {
        let floats = DataFixtures.idx(type: 0x0D, dimensions: [1, 1, 1], payload: [0])
        expectDataError("f: byte 2: expected type 0x08 (unsigned byte) for images, found 0x0D (float)") {
            _ = try IDX.parse(floats, name: "f", rank: 3, role: "images")
        }
        let labels = DataFixtures.idxLabels([1, 2, 3])
        expectDataError("train-images-idx3-ubyte.gz: byte 3: expected 3 dimensions for images, found 1") {
            _ = try IDX.parse(labels, name: "train-images-idx3-ubyte.gz", rank: 3, role: "images")
        }
        expectDataError("l: byte 3: expected 1 dimension for labels, found 3") {
            _ = try IDX.parse(DataFixtures.idxImages(count: 1), name: "l", rank: 1, role: "labels")
        }
        let zero = DataFixtures.idx(dimensions: [0, 28, 28], payload: [])
        expectDataError("z: byte 4: expected a positive size for dimension 0") {
            _ = try IDX.parse(zero, name: "z", rank: 3, role: "images")
        }
        let shortHeader = Array(DataFixtures.idxImages(count: 1)[..<10])
        expectDataError("s: byte 10: file ends inside the 16-byte header") {
            _ = try IDX.parse(shortHeader, name: "s", rank: 3, role: "images")
        }
    }

    @Test func truncatedPayload() throws {
        let bytes = DataFixtures.idx(dimensions: [1000, 28, 28], payload: [UInt8](repeating: 7, count: 1200))
        expectDataError(
            "train-images-idx3-ubyte.gz: byte 16: payload has 1,200 bytes after the 16-byte header, "
                + "784,000 expected for 1000×28×28"
        ) { _ = try IDX.parse(bytes, name: "train-images-idx3-ubyte.gz", rank: 3, role: "images") }
        // The same through a gzipped file on disk: offsets refer to the uncompressed bytes.
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let long = DataFixtures.idxLabels([1, 2, 3]) + [4]
        let url = try dir.write(DataFixtures.gzip(long), to: "train-labels-idx1-ubyte.gz")
        expectDataError("train-labels-idx1-ubyte.gz: byte 8: payload has 4 bytes after the 8-byte header, 3 expected for 3") {
            _ = try IDX.read(url, rank: 1, role: "labels")
        }
    }

    @Test func countMismatchAndBadLabel() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let images = try dir.write(DataFixtures.idxImages(count: 10), to: "i.idx")
        let nine = try dir.write(DataFixtures.idxLabels(Array(repeating: 1, count: 9)), to: "l9.idx")
        expectDataError("l9.idx: byte 4: expected 10 labels to match the images in i.idx, found 9") {
            _ = try IDX.readPair(images: images, labels: nine, classCount: 10)
        }
        let bad = try dir.write(DataFixtures.idxLabels([0, 1, 2, 10, 4, 5, 6, 7, 8, 9]), to: "bad.idx")
        expectDataError("bad.idx: byte 11: label 3 is 10, expected 0…9") {
            _ = try IDX.readPair(images: images, labels: bad, classCount: 10)
        }
    }

    @Test func wrongImageSizeForKind() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let images = try dir.write(DataFixtures.idxImages(count: 2, height: 32, width: 32), to: "big-images")
        let labels = try dir.write(DataFixtures.idxLabels([1, 2]), to: "big-labels")
        expectDataError("big-images: byte 8: expected 28×28 images for MNIST, found 32×32") {
            _ = try DatasetLoader.loadIDX(images: images, labels: labels, kind: .mnist, name: "x")
        }
    }

    @Test func missingFilesAreListed() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        expectDataError("train-images-idx3-ubyte: not found", dir.url.path, "train-images-idx3-ubyte.gz") {
            _ = try DatasetLoader.load(kind: .mnist, directory: dir.url)
        }
        expectDataError("data_batch_1.bin: not found", "data_batch_1.bin.gz") {
            _ = try DatasetLoader.load(kind: .cifar10, directory: dir.url)
        }
    }

    @Test func dottedUpstreamNamesAreAccepted() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        try dir.write(DataFixtures.idxImages(count: 4), to: "train-images.idx3-ubyte")
        try dir.write(DataFixtures.idxLabels([1, 2, 3, 4]), to: "train-labels.idx1-ubyte")
        try dir.write(DataFixtures.gzip(DataFixtures.idxImages(count: 2)), to: "t10k-images.idx3-ubyte.gz")
        try dir.write(DataFixtures.idxLabels([5, 6]), to: "t10k-labels-idx1-ubyte")
        let (tr, te) = try DatasetLoader.load(kind: .mnist, directory: dir.url)
        #expect(tr.count == 4 && te.count == 2 && te.labels == [5, 6])
    }
}
