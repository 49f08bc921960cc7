// DatasetLoader: the entry point that turns a dataset directory (or the embedded subset) into train/test Datasets.
import Foundation

/// Loads datasets from disk.
///
/// MNIST-style directories (`.mnist`, `.fashionMNIST`) hold the four standard IDX files
/// `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`,
/// each raw or with `.gz` (the dotted upstream spelling `train-images.idx3-ubyte` is accepted too).
/// CIFAR-10 directories hold `data_batch_1.bin`…`data_batch_5.bin` and `test_batch.bin`, raw or `.gz`.
public enum DatasetLoader {
    /// Loads the training and test sets of `kind` from `directory`.
    /// - Throws: ``DataError`` naming the missing or malformed file.
    public static func load(
        kind: DatasetKind, directory: URL, normalization: Normalization = .standard
    ) throws -> (train: Dataset, test: Dataset) {
        guard let names = kind.idxFileNames else {
            return try CIFAR10.load(directory: directory, normalization: normalization)
        }
        let train = try loadIDX(
            images: locateIDX(names.trainImages, in: directory), labels: locateIDX(names.trainLabels, in: directory),
            kind: kind, name: "\(kind.displayName) train", normalization: normalization)
        let test = try loadIDX(
            images: locateIDX(names.testImages, in: directory), labels: locateIDX(names.testLabels, in: directory),
            kind: kind, name: "\(kind.displayName) test", normalization: normalization)
        return (train, test)
    }

    /// Loads one IDX image file and its label file (raw or gzipped) as a ``Dataset``.
    ///
    /// `kind` supplies the class count, the image size (``DatasetKind/height`` × ``DatasetKind/width``, checked
    /// against the file) and the ``Normalization/standard`` constants.
    /// - Throws: ``DataError`` for a malformed file, mismatched counts, a bad label or a wrong image size.
    public static func loadIDX(
        images: URL, labels: URL, kind: DatasetKind, name: String, normalization: Normalization = .standard
    ) throws -> Dataset {
        let (img, lab) = try IDX.readPair(images: images, labels: labels, classCount: kind.classCount)
        let n = img.dimensions[0], h = img.dimensions[1], w = img.dimensions[2]
        guard h == kind.height, w == kind.width, kind.channels == 1 else {
            throw DataError(
                file: img.name, offset: 8,
                "expected \(kind.height)×\(kind.width) images for \(kind.displayName), found \(h)×\(w)")
        }
        let floats = img.bytes.withUnsafeBufferPointer { p in
            normalization.convert(
                UnsafeBufferPointer(rebasing: p[img.payloadOffset...]), records: n, channels: 1, plane: h * w,
                stride: h * w, skip: 0, kind: kind)
        }
        let labelValues = lab.bytes[lab.payloadOffset...].map { Int32($0) }
        return Dataset(
            name: name, images: floats, labels: labelValues, channels: 1, height: h, width: w,
            classCount: kind.classCount)
    }

    /// The committed MNIST subset (first 2,000 training and first 500 test images), found by
    /// ``embeddedDirectory()``.
    public static func embeddedMNIST(normalization: Normalization = .standard) throws -> (train: Dataset, test: Dataset) {
        let (train, test) = try load(kind: .mnist, directory: embeddedDirectory(), normalization: normalization)
        return (rename(train, "MNIST-small train"), rename(test, "MNIST-small test"))
    }

    /// Finds an IDX file named `base` in `directory`: `base`, `base.gz`, or the dotted upstream spelling of either.
    static func locateIDX(_ base: String, in directory: URL) throws -> URL {
        var names = [base, base + ".gz"]
        if let idx = base.range(of: "-idx") {
            let dotted = base.replacingCharacters(in: idx, with: ".idx")
            names += [dotted, dotted + ".gz"]
        }
        let candidates = names.map { directory.appendingPathComponent($0) }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) { return found }
        throw DataError(file: base, "not found; looked for \(candidates.map(\.path).joined(separator: ", "))")
    }

    private static func rename(_ d: Dataset, _ name: String) -> Dataset {
        var d = d
        d.name = name
        return d
    }
}
