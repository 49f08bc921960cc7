// swift-tools-version: 6.1
// Consumer: a package that depends on FedNoise as users add it, and runs the README's "Embedding a federation".
import Foundation
import PackageDescription

// CI (.ci/run) points FEDNOISE_PACKAGE_URL at a tagged clone, so FedNoise is a versioned dependency, as a release
// would be. Without it, the FedNoise checkout two folders up is a path dependency (quick local tries).
let env = ProcessInfo.processInfo.environment
let fedNoise: Package.Dependency
let fedNoiseName: String
if let url = env["FEDNOISE_PACKAGE_URL"], !url.isEmpty {
    fedNoise = .package(url: url, from: Version(env["FEDNOISE_PACKAGE_VERSION"] ?? "0.4.0") ?? "0.4.0")
    fedNoiseName = URL(string: url)?.deletingPathExtension().lastPathComponent ?? "FedNoise"
} else {
    let root = URL(fileURLWithPath: Context.packageDirectory).appendingPathComponent("../..").standardized
    fedNoise = .package(path: root.path)
    fedNoiseName = root.lastPathComponent
}

let package = Package(
    name: "Consumer",
    dependencies: [fedNoise],
    targets: [
        .executableTarget(
            name: "Consumer",
            dependencies: [
                .product(name: "FedData", package: fedNoiseName),
                .product(name: "FedRuntime", package: fedNoiseName),
                .product(name: "FedTensor", package: fedNoiseName),
            ])
    ],
    swiftLanguageModes: [.v6]
)
