// NoiseScaleTests: strategy.dp.noiseScale = s multiplies σ_k by s and the aggregate noise variance by s²; s = 1 is a no-op.
import FedCLI
import FedRuntime
import FedTestKit
import Foundation
import Testing

@Suite("strategy.dp.noiseScale", .serialized)
struct NoiseScaleTests {
    static let smoke = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../config/smoke.json").standardized.path

    /// Runs the smoke config with `overrides` and returns its summary and the FNV digest of its rounds.csv.
    static func run(_ overrides: [String]) async throws -> (FederationSummary, String) {
        var config = try RunCommand.loadConfiguration(smoke, overrides: overrides)
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        config.output = dir.file("run").path
        let summary = try await RunCommand.execute(config, quiet: true, allowDivergence: true)
        return (summary, try RoundsDigestTests.digest(dir.file("run").appendingPathComponent("rounds.csv")))
    }

    /// `ratio` is s² to `relative` precision.
    static func isSquare(_ ratio: Double, of s: Double, relative: Double) -> Bool {
        abs(ratio - s * s) <= relative * s * s
    }

    @Test func scaleMultipliesTheAggregateNoiseVarianceBySSquared() async throws {
        // One NISS round at X = τ² = 1 (the aggregate keeps Σ σ_k²): before the noise, both runs are the same
        // bits (same sample, same training, same clipping), so only σ_k differs.
        let sets = ["strategy.kind=niss", "strategy.niss.tau2=1", "model=logistic", "rounds=1"]
        let s = 0.1
        let base = try #require(try await Self.run(sets).0.rounds.first)
        let scaled = try #require(try await Self.run(sets + ["strategy.dp.noiseScale=\(s)"]).0.rounds.first)
        #expect(scaled.sampled == base.sampled)
        #expect(scaled.noiseStds.count == base.noiseStds.count && !base.noiseStds.isEmpty)
        for (a, b) in zip(scaled.noiseStds, base.noiseStds) { #expect(abs(a / b - s) <= 1e-12 * s) }
        // σ² = min σ_k²/16 scales with σ_k², so every v_k stays and Theorem 2's σ²·Σ v_l·τ_l² scales by s².
        let shares = try #require(base.niss?.shares)
        #expect(scaled.niss?.shares == shares)
        let expected = scaled.expectedNoiseVariance / base.expectedNoiseVariance
        #expect(Self.isSquare(expected, of: s, relative: 1e-9), "expected-variance ratio \(expected)")
        // The realised noise: the same Philox draws and distortions, every share s times as large, so the ratio is
        // s² up to the Float rounding of the shares (≈ 1e-7 relative; 1e-4 leaves a margin).
        let realised = try #require(scaled.realisedNoiseVariance) / #require(base.realisedNoiseVariance)
        #expect(Self.isSquare(realised, of: s, relative: 1e-4), "realised-variance ratio \(realised)")
        // Negative control: the same check rejects a scale 1% off, and a linear (not squared) scaling.
        #expect(!Self.isSquare(realised, of: s * 1.01, relative: 1e-4))
        #expect(!Self.isSquare(realised, of: s.squareRoot(), relative: 1e-4))
    }

    @Test func scaleOneKeepsThePinnedBits() async throws {
        // noiseScale = 1 given explicitly reproduces the pinned digests of RoundsDigestTests bit for bit.
        let niss = ["strategy.kind=niss", "strategy.niss.encoding=seeded", "deadlineSeconds=300"]
        let (_, nissOne) = try await Self.run(niss + ["strategy.dp.noiseScale=1"])
        #expect(nissOne == RoundsDigestTests.expected["smoke-niss-seeded"])
        let (_, dpOne) = try await Self.run(["strategy.kind=dpFedAvg", "strategy.dp.noiseScale=1"])
        #expect(dpOne == RoundsDigestTests.expected["smoke-dpfedavg"])
        // Negative control: the digest sees the key (a scale 0.1% off changes the run's bits).
        let (_, dpOff) = try await Self.run(["strategy.kind=dpFedAvg", "strategy.dp.noiseScale=0.999"])
        #expect(dpOff != dpOne)
    }

    @Test func badScalesNameTheKey() throws {
        for bad in ["0", "-1", "2e6", "1e-7"] {
            let message: String
            do {
                _ = try RunCommand.loadConfiguration(Self.smoke, overrides: ["strategy.kind=niss",
                                                                             "strategy.dp.noiseScale=\(bad)"])
                message = "accepted"
            } catch {
                message = "\(error)"
            }
            #expect(message.contains("strategy.dp.noiseScale: must be in [1e-06, 1000000.0]"), "\(bad): \(message)")
        }
        #expect(try RunCommand.loadConfiguration(Self.smoke, overrides: ["strategy.dp.noiseScale=1e-6"])
            .strategy.dp.noiseScale == 1e-6)
        #expect(FederationConfiguration().strategy.dp.noiseScale == 1)
    }
}
