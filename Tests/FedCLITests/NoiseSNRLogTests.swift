// NoiseSNRLogTests: `train` and `run` with noise infusion log the SNR at every active site per epoch / round.
import FedCLI
import FedData
import FedNN
import Foundation
import Testing

@Suite("SNR per epoch and round", .serialized)
struct NoiseSNRLogTests {
    func temporary() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("fednoise-snr-\(UUID().uuidString)")
    }

    /// Columns of a CSV by name, as numbers, per row.
    func table(_ url: URL) throws -> [[String: Double]] {
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        return lines.dropFirst().map { row in
            Dictionary(uniqueKeysWithValues: zip(lines[0], row).map { ($0, Double($1) ?? .nan) })
        }
    }

    /// mlp with M2 (activation σ = 0.2 after both hidden ReLUs): epochs.csv's SNR after the last epoch equals one
    /// computed here by a naive loop from the saved weights: h = ReLU(W₁x + b₁) on the first 256 training images,
    /// SNR = RMS(h)²/σ² (NoiseMetrics' SignalToNoise), and the dB forms are 10·log10 of it.
    @Test func trainLogsEpochSNRMatchingANaiveComputation() async throws {
        let dir = temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let weights = dir.appendingPathComponent("w.fnw").path
        let status = await FedCommandLine.run(["train", "--model", "mlp", "--noise", "M2", "--noise-level", "0.2",
                                               "--epochs", "2", "--train-limit", "300", "--test-limit", "100",
                                               "--output", dir.path, "--save-weights", weights])
        #expect(status == 0)
        let rows = try table(dir.appendingPathComponent("epochs.csv"))
        #expect(rows.count == 2)
        let last = try #require(rows.last)
        for site in ["m0_activation_L2", "m0_activation_L4"] {
            for form in ["sigma", "signal_rms", "snr_power", "snr_power_db", "snr_amplitude", "snr_amplitude_db"] {
                #expect(last["\(site)_\(form)"]?.isFinite == true, "\(site)_\(form)")
            }
        }
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: weights)))
        let w = try WeightsFile.decode(bytes, file: weights).parameters
        let train = DatasetSamples(try DatasetLoader.embeddedMNIST().train.subset(indices: 0..<256))
        var x = [Float](repeating: 0, count: 256 * 784)
        var labels = [Int32](repeating: 0, count: 256)
        Array(0..<256).withUnsafeBufferPointer { idx in
            x.withUnsafeMutableBufferPointer { xs in
                labels.withUnsafeMutableBufferPointer { train.gather(idx, inputs: xs.baseAddress!, labels: $0.baseAddress!) }
            }
        }
        var power = 0.0
        for n in 0..<256 {
            for o in 0..<200 {
                var s = Double(w[200 * 784 + o])
                for i in 0..<784 { s += Double(w[o * 784 + i]) * Double(x[n * 784 + i]) }
                power += max(s, 0) * max(s, 0)
            }
        }
        let rms = (power / Double(256 * 200)).squareRoot()
        let expected = SignalToNoise(signalRMS: rms, noiseStd: 0.2)
        #expect(abs(last["m0_activation_L2_signal_rms"]! - rms) <= 1e-5 * rms)
        #expect(last["m0_activation_L2_sigma"] == 0.2)
        #expect(abs(last["m0_activation_L2_snr_power"]! - expected.power) <= 1e-4 * expected.power)
        #expect(abs(last["m0_activation_L2_snr_power_db"]! - 10 * log10(expected.power)) <= 1e-4)
        #expect(abs(last["m0_activation_L2_snr_amplitude_db"]! - 20 * log10(expected.amplitude)) <= 1e-4)
        // Negative control: the second hidden layer's activation is another tensor, with another RMS.
        #expect(abs(last["m0_activation_L4_signal_rms"]! - rms) > 1e-3 * rms)
        // Without noise infusion there are no SNR columns.
        let clean = temporary()
        defer { try? FileManager.default.removeItem(at: clean) }
        #expect(await FedCommandLine.run(["train", "--model", "logistic", "--epochs", "1", "--train-limit", "100",
                                          "--test-limit", "50", "--output", clean.path]) == 0)
        let header = try String(contentsOf: clean.appendingPathComponent("epochs.csv"), encoding: .utf8)
            .prefix { $0 != "\n" }
        #expect(!header.contains("snr"))
    }

    /// A federation with M4 (client-model noise, λ = 0.1 relative to each layer's RMS) writes snr.csv with a row per
    /// evaluated round; relative noise has SNR = 1/λ² = 100 exactly (20 dB), measured against a positive RMS.
    @Test func runWritesSNRPerRound() async throws {
        let dir = temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let smoke = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../config/smoke.json").standardized.path
        #expect(await FedCommandLine.run(["run", smoke, "--quiet", "--set", "model=logistic", "--set", "rounds=3",
                                          "--set", "noiseInfusion={\"preset\": \"M4\", \"level\": 0.1}",
                                          "--set", "output=\(dir.path)"]) == 0)
        let rows = try table(dir.appendingPathComponent("snr.csv"))
        #expect(rows.map { $0["round"] } == [1, 2, 3])
        for r in rows {
            #expect(abs(r["m0_clientModel_snr_power"]! - 100) < 1e-9)
            #expect(abs(r["m0_clientModel_snr_power_db"]! - 20) < 1e-9)
            #expect(r["m0_clientModel_signal_rms"]! > 0)
            #expect(abs(r["m0_clientModel_sigma"]! - 0.1 * r["m0_clientModel_signal_rms"]!) < 1e-12)
        }
        // The model moves between rounds, so its RMS does too (the rows are not one measurement repeated).
        #expect(Set(rows.map { $0["m0_clientModel_signal_rms"]! }).count == 3)
    }
}
