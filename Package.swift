// swift-tools-version: 6.1
// FedNoise: a Swift runtime for private federated learning. No package dependencies: toolchain, system zlib and OpenSSL.
import Foundation
import PackageDescription

// Kernels need a real CPU target: without one, SIMD16 FMAs become library calls (see README, "Building").
// FEDNOISE_TARGET_CPU picks it (default "native"; e.g. "znver4" for reproducible builds, "generic" to disable).
let targetCPU = ProcessInfo.processInfo.environment["FEDNOISE_TARGET_CPU"] ?? "native"
// Not -cross-module-optimization: with Swift 6.3.1 it made an inlined SGD step on a literal array lose its writes
// (ModelTests.sgdMomentumAndWeightDecayByHand catches it). Hot cross-module generics are @inlinable instead.
var kernelFlags: [String] = ["-Xcc", "-fno-math-errno"]
if targetCPU != "generic" { kernelFlags += ["-target-cpu", targetCPU] }
#if arch(x86_64)
kernelFlags += ["-Xcc", "-mno-scatter", "-Xcc", "-mno-gather"]
#endif

// SwiftPM refuses unsafe flags in a package depended upon by version, whatever their condition: a trait-gated
// `.unsafeFlags` is refused too, even with the trait off (tried with Swift 6.3.1). Version and branch dependencies
// are checked out into a folder named `checkouts` (`.build/checkouts`, Xcode's `SourcePackages/checkouts`), so
// there the flags are left out and the consumer picks the CPU for its whole binary
// (`-Xswiftc -target-cpu -Xswiftc native`); FedTensor warns once on stderr when its kernels were built without FMA
// on a CPU that has it (`KernelTarget`). The root package and path dependencies keep the flags.
let isDependencyCheckout = URL(fileURLWithPath: Context.packageDirectory)
    .deletingLastPathComponent().lastPathComponent == "checkouts"

let common: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]
    + (isDependencyCheckout ? [] : [.unsafeFlags(kernelFlags)])

let package = Package(
    name: "FedNoise",
    products: [
        .executable(name: "fednoise", targets: ["fednoise"]),
        .library(name: "FedTensor", targets: ["FedTensor"]),
        .library(name: "FedNN", targets: ["FedNN"]),
        .library(name: "FedData", targets: ["FedData"]),
        .library(name: "FedPrivacy", targets: ["FedPrivacy"]),
        .library(name: "FedTransport", targets: ["FedTransport"]),
        .library(name: "FedStrategy", targets: ["FedStrategy"]),
        .library(name: "FedRuntime", targets: ["FedRuntime"]),
        .library(name: "FedAttack", targets: ["FedAttack"]),
        .library(name: "FedTestKit", targets: ["FedTestKit"]),
        .library(name: "FedMPI", targets: ["FedMPI"]),
    ],
    // `swift build --traits MPI` links the system MPI (Open MPI's or MPICH's development package) and turns on the
    // MPI transport; without the trait FedMPI is an empty module and nothing needs MPI.
    traits: [.trait(name: "MPI", description: "An MPI transport over the system's MPI library (issue 17).")],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]),
        .target(name: "CFedCPU"),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "mpi",
                       providers: [.apt(["libopenmpi-dev"]), .brew(["open-mpi"])]),
        .target(name: "FedTensor", dependencies: ["CFedCPU"], swiftSettings: common),
        .target(name: "FedNN", dependencies: ["FedTensor", "FedPrivacy"], swiftSettings: common),
        .target(name: "FedData", dependencies: ["FedTensor", "CZlib"],
                resources: [.copy("Resources/mnist-small")], swiftSettings: common),
        .target(name: "FedPrivacy", dependencies: ["FedTensor"], swiftSettings: common),
        .target(name: "FedTransport", dependencies: ["COpenSSL"], swiftSettings: common),
        .target(name: "FedStrategy", dependencies: ["FedPrivacy"], swiftSettings: common),
        .target(name: "FedMPI",
                dependencies: ["FedTransport", .target(name: "CMPI", condition: .when(traits: ["MPI"]))],
                swiftSettings: common),
        .target(name: "FedRuntime",
                dependencies: ["FedTensor", "FedNN", "FedData", "FedPrivacy", "FedStrategy", "FedTransport"],
                swiftSettings: common),
        .target(name: "FedAttack", dependencies: ["FedTensor", "FedNN", "FedPrivacy", "CZlib"], swiftSettings: common),
        .target(name: "FedCLI",
                dependencies: ["FedTensor", "FedNN", "FedData", "FedPrivacy", "FedStrategy", "FedRuntime",
                               "FedAttack", "FedTransport", "FedMPI"],
                swiftSettings: common),
        .executableTarget(name: "fednoise", dependencies: ["FedCLI"], swiftSettings: common),
        .target(name: "FedTestKit",
                dependencies: ["FedNN", "FedPrivacy", "FedTransport", "FedRuntime", "CZlib"],
                swiftSettings: common),
        .testTarget(name: "FedTensorTests", dependencies: ["FedTensor"], swiftSettings: common),
        .testTarget(name: "FedNNTests", dependencies: ["FedNN", "FedTestKit"], swiftSettings: common),
        .testTarget(name: "FedDataTests", dependencies: ["FedData", "FedTestKit"], swiftSettings: common),
        .testTarget(name: "FedPrivacyTests", dependencies: ["FedPrivacy", "FedTensor"], swiftSettings: common),
        .testTarget(name: "FedTransportTests", dependencies: ["FedTransport", "FedTestKit", "FedMPI", "COpenSSL"], swiftSettings: common),
        .testTarget(name: "FedStrategyTests", dependencies: ["FedStrategy"], swiftSettings: common),
        .testTarget(name: "FedRuntimeTests",
                    dependencies: ["FedRuntime", "FedTestKit", "FedTransport", "FedStrategy", "FedNN", "FedData",
                                   "FedTensor", "FedPrivacy"],
                    swiftSettings: common),
        // Strategies written from outside, with the public API only (FedProx, FedAvgM).
        .testTarget(name: "CustomStrategyTests",
                    dependencies: ["FedRuntime", "FedTestKit", "FedNN", "FedData", "FedTensor"],
                    swiftSettings: common),
        .testTarget(name: "FedAttackTests", dependencies: ["FedAttack", "FedNN", "FedData", "CZlib"],
                    swiftSettings: common),
        .testTarget(name: "FedCLITests", dependencies: ["FedCLI", "FedTestKit"], swiftSettings: common),
    ],
    swiftLanguageModes: [.v6]
)
