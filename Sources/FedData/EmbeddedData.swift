// EmbeddedData: locates the committed mnist-small folder without Bundle.module (whose accessor traps if missing).
import Foundation

extension DatasetLoader {
    /// The name of the resource bundle SwiftPM builds next to the executables of this package.
    static let resourceBundleName = "FedNoise_FedData.resources"
    /// The folder name of the embedded subset.
    static let embeddedFolderName = "mnist-small"
    /// Environment variable that, when set, names the folder holding the embedded subset's four files.
    public static let embeddedDataEnvironmentVariable = "FEDNOISE_EMBEDDED_DATA"

    /// The places searched for the embedded MNIST subset, in order:
    /// 1. `$FEDNOISE_EMBEDDED_DATA` (the folder itself),
    /// 2. `<directory of the running executable>/FedNoise_FedData.resources/mnist-small`
    ///    (executable from `/proc/self/exe`, else `Bundle.main.executableURL`),
    /// 3. the same under the directory of `Bundle.main.bundleURL` and under its parent (test bundles),
    /// 4. `Resources/mnist-small` next to this source file (`#filePath`), for runs from a source checkout.
    public static func embeddedCandidates(filePath: String = #filePath) -> [URL] {
        var out: [URL] = []
        if let env = ProcessInfo.processInfo.environment[embeddedDataEnvironmentVariable], !env.isEmpty {
            out.append(URL(fileURLWithPath: env, isDirectory: true))
        }
        func inBundle(_ dir: URL) -> URL {
            dir.appendingPathComponent(resourceBundleName, isDirectory: true)
                .appendingPathComponent(embeddedFolderName, isDirectory: true)
        }
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            out.append(inBundle(URL(fileURLWithPath: exe).deletingLastPathComponent()))
        } else if let exe = Bundle.main.executableURL {
            out.append(inBundle(exe.resolvingSymlinksInPath().deletingLastPathComponent()))
        }
        let bundle = Bundle.main.bundleURL
        out.append(inBundle(bundle))
        out.append(inBundle(bundle.deletingLastPathComponent()))
        out.append(
            URL(fileURLWithPath: filePath).deletingLastPathComponent()
                .appendingPathComponent("Resources", isDirectory: true)
                .appendingPathComponent(embeddedFolderName, isDirectory: true))
        var seen = Set<String>()
        return out.filter { seen.insert($0.standardizedFileURL.path).inserted }
    }

    /// The first of `candidates` (by default ``embeddedCandidates(filePath:)``) that holds the embedded subset's
    /// training images.
    /// - Throws: ``DataError`` listing every place searched when none does.
    public static func embeddedDirectory(searching candidates: [URL] = embeddedCandidates()) throws -> URL {
        let marker = "train-images-idx3-ubyte.gz"
        for dir in candidates where FileManager.default.fileExists(atPath: dir.appendingPathComponent(marker).path) {
            return dir
        }
        throw DataError(
            file: embeddedFolderName,
            "embedded MNIST subset not found; searched: \(candidates.map(\.path).joined(separator: ", ")) "
                + "(set \(embeddedDataEnvironmentVariable) to the folder holding its four IDX files)")
    }
}
