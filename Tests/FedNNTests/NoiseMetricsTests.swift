// NoiseMetricsTests: SNR on a tensor of known RMS, PoS/PoA on the spec's D.2 values, stability figures by hand.
import FedNN
import FedTensor
import Foundation
import Testing

@Suite("Noise metrics")
struct NoiseMetricsTests {
    /// ±3 has RMS 3; with σ = 0.3: power 100 (20 dB), amplitude 10 (20 dB).
    @Test func snrFormsOnAKnownTensor() {
        let s = SignalToNoise(signalRMS: 3, noiseStd: 0.3)
        #expect(abs(s.power - 100) < 1e-9 && abs(s.amplitude - 10) < 1e-12)
        #expect(abs(s.powerDB - 20) < 1e-9 && abs(s.amplitudeDB - 20) < 1e-9)
        #expect(SignalToNoise(signalRMS: 1, noiseStd: 0).power == .infinity)
    }

    /// Measured on real noise: the power SNR of N(0, 0.3²) on ±3 is 100 within the sample variance's relative std
    /// √(2/n) (5 of them); a 10% wrong σ is rejected.
    @Test func measuredSNROfRealNoise() {
        let n = 100_000
        let clean = (0..<n).map { Float($0 % 2 == 0 ? 3 : -3) }
        var noisy = clean
        noisy.withUnsafeMutableBufferPointer {
            applyNoise($0.baseAddress!, count: n, distribution: .gaussian, level: 0.3, key: StreamKey(seed: 21))
        }
        let m = SignalToNoise.measured(clean: clean, noisy: noisy)
        let bound = 5 * (2 / Double(n)).squareRoot()
        #expect(abs(m.power / 100 - 1) < bound)
        #expect(abs(m.power / (100 / 1.21) - 1) > bound)  // negative control: σ = 0.33
    }

    /// Spec D.2: A_opt = 0.90, admissible {0.92, 0.85, 0.80}: PoS = 0.90/0.92 = 0.978 (< 1, not clamped) and
    /// PoA = 0.90/0.80 = 1.125. Loss form on made-up losses 0.3 vs {0.25, 0.4, 0.6}: 0.8333 and 2.
    @Test func pricesOnTheSpecValues() throws {
        let p = try #require(NoisePrices(baselineAccuracy: 0.90, baselineLoss: 0.3,
                                         admissible: [(0.92, 0.25), (0.85, 0.4), (0.80, 0.6)]))
        #expect(abs(p.stabilityAccuracy - 0.978) < 5e-4)
        #expect(abs(p.stabilityAccuracy - 0.90 / 0.92) < 1e-12)
        #expect(abs(p.anarchyAccuracy - 1.125) < 1e-12)
        #expect(abs(p.stabilityLoss - 0.25 / 0.3) < 1e-12 && abs(p.anarchyLoss - 2) < 1e-12)
        #expect(p.stabilityAccuracy < 1)
        #expect(NoisePrices(baselineAccuracy: 0.9, baselineLoss: 0.3, admissible: []) == nil)
        #expect(Admissibility.snrAtMost(10).admits(snrDB: 9.9, level: 0) && !Admissibility.snrAtMost(10).admits(snrDB: 10.1, level: 0))
        #expect(Admissibility.levelAtLeast(0.1).admits(snrDB: 0, level: 0.1))
    }

    @Test func stabilityFiguresByHand() {
        // 0.90, 0.92, 0.91, 0.95: |Δ| = 0.02, 0.01, 0.04 → mean 0.07/3; last 3 {0.92, 0.91, 0.95}: mean 0.9267,
        // sample variance (0.0067² + 0.0167² + 0.0233²)/2 = 0.000433 → std 0.020817.
        let series = [0.90, 0.92, 0.91, 0.95]
        #expect(abs(StabilityMetrics.meanAbsoluteChange(series) - 0.07 / 3) < 1e-12)
        #expect(abs(StabilityMetrics.lastWindowStd(series, window: 3) - 0.0208167) < 1e-6)
        #expect(abs(StabilityMetrics.generalizationGap(train: 0.99, test: 0.97) - 0.02) < 1e-12)
        let points = [(0.0, 0.90), (0.1, 0.905), (0.3, 0.892), (0.5, 0.85)]
        #expect(StabilityMetrics.optimalLevel(points, baseline: 0.90) == 0.3)
        #expect(StabilityMetrics.optimalLevel(points, baseline: 0.99) == nil)
    }
}
