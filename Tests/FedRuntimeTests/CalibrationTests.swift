// CalibrationTests: strategy.dp.calibration = analytic gives the analytic Gaussian σ_k of `fednoise privacy`'s routine.
//
// Oracle: GaussianMechanism.analyticSigma / exactDelta (Balle & Wang 2018, Thm 8), checked there against published
// values; here σ_k must equal it for p_k·Δ, meet δ exactly, and the classical default must be unchanged.
import FedPrivacy
import FedStrategy
import Testing

@Suite struct CalibrationTests {
    @Test func analyticSigmaKIsTheAnalyticGaussianOfWeightedSensitivity() throws {
        for (epsilon, delta, weight) in [(0.5, 1e-5, 0.1), (2.0, 1e-4, 1.0 / 3), (10.0, 1e-4, 0.02)] {
            let dp = DPConfiguration(clippingThreshold: 3, epsilon: epsilon, delta: delta, calibration: .analytic)
            let sigma = try dp.noiseStd(client: 0, weight: weight, samples: 10, rounds: 7)
            let reference = try GaussianMechanism.analyticSigma(epsilon: epsilon, delta: delta, sensitivity: 3 * weight)
            #expect(abs(sigma - reference) <= 1e-12 * reference)
            // It meets δ, and 0.1% less noise would not.
            #expect(try GaussianMechanism.exactDelta(sigma: sigma, epsilon: epsilon, sensitivity: 3 * weight) <= delta)
            #expect(try GaussianMechanism.exactDelta(sigma: sigma * 0.999, epsilon: epsilon, sensitivity: 3 * weight)
                    > delta)
            // The ledger's z_k is σ_k/(p_k·Δ) whatever p_k.
            let z = try dp.noiseMultiplier(client: 0, samples: 10, rounds: 7)
            #expect(abs(z * 3 * weight - sigma) <= 1e-9 * sigma)
            // The classical default is the paper's formula, untouched.
            var classical = dp
            classical.calibration = .classical
            #expect(try classical.noiseStd(client: 0, weight: weight, samples: 10, rounds: 7)
                    == (try GaussianMechanism.sigma(epsilon: epsilon, delta: delta, sensitivity: 3 * weight)))
        }
        // Where the classical bound is proven (ε < 1) the analytic σ is smaller.
        let a = DPConfiguration(epsilon: 0.5, delta: 1e-5, calibration: .analytic)
        let c = DPConfiguration(epsilon: 0.5, delta: 1e-5)
        #expect(try a.noiseStd(client: 0, weight: 0.1, samples: 10, rounds: 1)
                < c.noiseStd(client: 0, weight: 0.1, samples: 10, rounds: 1))
        // NbAFL-linear: L releases as one of sensitivity Δ·√L.
        let linear = DPConfiguration(epsilon: 2, delta: 1e-5, composition: .nbaflLinear, calibration: .analytic)
        #expect(abs(try linear.noiseStd(client: 0, weight: 0.5, samples: 10, rounds: 9)
                    - GaussianMechanism.analyticSigma(epsilon: 2, delta: 1e-5, sensitivity: 1.5 * 3)) < 1e-12)
    }
}
