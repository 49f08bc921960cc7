// DPTrainArgumentsTests: `fednoise train --dp` flags and config keys: what is accepted, and errors that name the input.
import FedNN
import FedCLI
import Foundation
import Testing

@Suite("train --dp arguments")
struct DPTrainArgumentsTests {
    func configuration(_ argv: [String]) -> String {
        do {
            var args = try Arguments(argv, booleanFlags: ["dp", "per-layer-clipping"])
            let c = try TrainCommand.configuration(&args).0
            return "dp=\(c.dp) z=\(c.noiseMultiplier ?? -1) e=\(c.targetEpsilon ?? -1) C=\(c.maxGradNorm) "
                + "d=\(c.delta) q=\(c.sampleRate ?? -1) B=\(c.expectedBatchSize ?? -1) layer=\(c.perLayerClipping)"
        } catch {
            return "\(error)"
        }
    }

    @Test func flagsAreReadAndCheckedByName() throws {
        #expect(configuration(["--dp", "--noise-multiplier", "1.1", "--sample-rate", "0.01", "--per-layer-clipping"])
            == "dp=true z=1.1 e=-1.0 C=1.0 d=1e-05 q=0.01 B=-1 layer=true")
        #expect(configuration(["--dp", "--target-epsilon", "3", "--expected-batch-size", "256", "--max-grad-norm", "0.5",
                               "--delta", "1e-6"])
            == "dp=true z=-1.0 e=3.0 C=0.5 d=1e-06 q=-1.0 B=256 layer=false")
        #expect(configuration(["--dp"]).hasPrefix("noiseMultiplier: give exactly one of noiseMultiplier"))
        #expect(configuration(["--dp", "--noise-multiplier", "1", "--target-epsilon", "3"])
            .hasPrefix("--target-epsilon: give exactly one"))
        #expect(configuration(["--dp", "--noise-multiplier", "1", "--delta", "1"]) == "--delta: must be in (0, 1), got 1.0")
        #expect(configuration(["--dp", "--noise-multiplier", "1", "--max-grad-norm", "0"])
            == "--max-grad-norm: must be > 0, got 0.0")
        #expect(configuration(["--dp", "--noise-multiplier", "1", "--sample-rate", "1.5"])
            == "--sample-rate: must be in (0, 1], got 1.5")
        #expect(configuration(["--dp", "--noise-multiplier", "1", "--sample-rate", "0.1", "--expected-batch-size", "5"])
            .hasPrefix("--sample-rate: give at most one"))
        #expect(configuration(["--noise-multiplier", "1"]) == "--noise-multiplier: only applies with dp (--dp)")
        #expect(configuration(["--dp", "--noise-multiplier", "1", "--sampling", "shuffle"])
            .hasPrefix("--sampling: 'shuffle' refused: DP-SGD's accountant"))
        #expect(configuration(["--dp", "--noise-multiplier", "-1"]).hasPrefix("--noise-multiplier must be a number"))
    }

    @Test func configKeysAreBlamedOnTheFile() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("dp-\(UInt64.random(in: 0...UInt64.max)).json")
        try #"{"dp": true, "targetEpsilon": 0, "expectedBatchSize": 64}"#.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        #expect(configuration(["--config", url.path]) == "\(url.path): key 'targetEpsilon': must be in (0, 10000], got 0.0")
        #expect(configuration(["--config", url.path, "--target-epsilon", "2"])
            == "dp=true z=-1.0 e=2.0 C=1.0 d=1e-05 q=-1.0 B=64 layer=false")
    }

    @Test func sampleRateAndTargetEpsilonBecomeSettings() throws {
        var c = TrainConfiguration()
        c.dp = true
        c.targetEpsilon = 8
        c.expectedBatchSize = 2400
        c.epochs = 90
        // q = 2400/60000 = 0.04, 90 epochs of 25 steps = 2,250 steps: Opacus' get_noise_multiplier gives 1.416015625.
        let dp = try TrainCommand.dpSettings(c, examples: 60_000)
        #expect(dp.sampleRate == 0.04 && dp.stepsPerEpoch == 25)
        #expect(dp.noiseMultiplier == 1.416015625)
        c.expectedBatchSize = 70_000
        #expect(throws: UsageError.self) { try TrainCommand.dpSettings(c, examples: 60_000) }
    }
}
