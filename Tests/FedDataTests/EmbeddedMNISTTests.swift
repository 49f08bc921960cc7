// EmbeddedMNISTTests: the committed 2,000/500 MNIST subset (and, when present, the full MNIST / Fashion-MNIST).
import FedData
import Foundation
import Testing

@Suite struct EmbeddedMNISTTests {
    @Test func countsHistogramsAndFirstLabels() throws {
        let (train, test) = try DatasetLoader.embeddedMNIST()
        #expect(train.count == 2000 && test.count == 500)
        #expect(train.sampleShape == [1, 28, 28] && train.classCount == 10)
        #expect(train.labelHistogram() == [191, 220, 198, 191, 214, 180, 200, 224, 172, 210])
        #expect(test.labelHistogram() == [42, 67, 55, 45, 55, 50, 43, 49, 40, 54])
        #expect(Array(train.labels.prefix(10)) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
        #expect(Array(test.labels.prefix(10)) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
        #expect(train.name == "MNIST-small train")
    }

    /// Raw pixel statistics of the subset (computed independently from the IDX bytes with Python):
    /// train mean 0.130178 / std 0.307698 of pixel/255, so the standard MNIST constants give
    /// mean −0.001694 and std 0.998694; test: mean −0.032796, std 0.962678.
    @Test func standardNormalisation() throws {
        let (train, test) = try DatasetLoader.embeddedMNIST(normalization: .standard)
        let s = train.channelStatistics()[0]
        #expect(abs(s.mean) < 0.05 && abs(s.std - 1) < 0.05)
        #expect(abs(s.mean - -0.001694) < 1e-4, "train mean \(s.mean)")
        #expect(abs(s.std - 0.998694) < 1e-4, "train std \(s.std)")
        let t = test.channelStatistics()[0]
        #expect(abs(t.mean - -0.032796) < 1e-4 && abs(t.std - 0.962678) < 1e-4, "test \(t)")
        let unit = try DatasetLoader.embeddedMNIST(normalization: .unit).train
        #expect(unit.images.min() == 0 && unit.images.max() == 1)
        #expect(abs(unit.channelStatistics()[0].mean - 0.130178) < 1e-4)
        let raw = try DatasetLoader.embeddedMNIST(normalization: .none).train
        #expect(raw.images.max() == 255)
    }

    @Test func embeddedFolderIsFoundAndCandidatesAreListed() throws {
        let dir = try DatasetLoader.embeddedDirectory()
        #expect(dir.lastPathComponent == "mnist-small")
        if ProcessInfo.processInfo.environment[DatasetLoader.embeddedDataEnvironmentVariable] == nil {
            // Found through the runner's build folder, not the source tree.
            #expect(dir.path.hasSuffix("FedNoise_FedData.resources/mnist-small"), "found at \(dir.path)")
        }
        let candidates = DatasetLoader.embeddedCandidates(filePath: "/nowhere/Sources/FedData/EmbeddedData.swift")
        #expect(candidates.last?.path == "/nowhere/Sources/FedData/Resources/mnist-small")
        #expect(candidates.contains { $0.path.hasSuffix("FedNoise_FedData.resources/mnist-small") })
        let nowhere = [URL(fileURLWithPath: "/nowhere/a"), URL(fileURLWithPath: "/nowhere/b")]
        expectDataError("mnist-small: embedded MNIST subset not found; searched: /nowhere/a, /nowhere/b") {
            _ = try DatasetLoader.embeddedDirectory(searching: nowhere)
        }
    }

    static let fullMNIST = URL(fileURLWithPath: "/work/shared/data/mnist")
    static let fullFashion = URL(fileURLWithPath: "/work/shared/data/fashion-mnist")

    @Test(.enabled(if: FileManager.default.fileExists(atPath: fullMNIST.path)))
    func fullMNISTWhenPresent() throws {
        let (train, test) = try DatasetLoader.load(kind: .mnist, directory: Self.fullMNIST)
        #expect(train.count == 60000 && test.count == 10000)
        #expect(train.labelHistogram() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
        #expect(test.labelHistogram() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        let s = train.channelStatistics()[0]
        #expect(abs(s.mean) < 0.001 && abs(s.std - 1) < 0.001, "full MNIST normalised train \(s)")
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: fullFashion.path)))
    func fullFashionMNISTWhenPresent() throws {
        let (train, test) = try DatasetLoader.load(kind: .fashionMNIST, directory: Self.fullFashion)
        #expect(train.count == 60000 && test.count == 10000)
        #expect(train.labelHistogram() == Array(repeating: 6000, count: 10))
        #expect(test.labelHistogram() == Array(repeating: 1000, count: 10))
        let s = train.channelStatistics()[0]
        #expect(abs(s.mean) < 0.001 && abs(s.std - 1) < 0.001, "full Fashion-MNIST normalised train \(s)")
    }
}
