// GaussianMechanismTests: classical c(δ)/σ against the spec's worked numbers, analytic σ and ε against mpmath.
//
// Oracles: the classical values are spec D.2 (and Python `math.sqrt(2*math.log(1.25/delta))`). The analytic values
// were computed independently with mpmath at 40 digits, bisecting Φ(Δ/(2σ) − εσ/Δ) − e^ε Φ(−Δ/(2σ) − εσ/Δ) = δ
// (Balle & Wang 2018, Thm 8) in σ, or in ε for the inverse; scipy's brentq agrees to 1e-15.
import Testing
import FedPrivacy

@Suite struct GaussianMechanismTests {
    @Test("c(δ) = √(2 ln(1.25/δ)) matches spec D.2")
    func classicalConstant() throws {
        expectClose(try GaussianMechanism.c(delta: 1e-4), 4.343612, absolute: 1e-6)
        expectClose(try GaussianMechanism.c(delta: 1e-5), 4.844805, absolute: 1e-6)
    }

    @Test("NbAFL single release: d_k = 600, C = 3, ε = 10, δ = 1e-4 gives σ = 4.343612e-3; L = 100 gives 0.4343612")
    func nbaflWorkedNumbers() throws {
        let delta = try SensitivityModel.nbafl.sensitivity(clippingNorm: 3, datasetSize: 600)
        expectClose(delta, 0.01, relative: 1e-15)
        let sigma = try GaussianMechanism.sigma(epsilon: 10, delta: 1e-4, sensitivity: delta)
        expectClose(sigma, 4.343612e-3, absolute: 1e-9)
        let linear = try GaussianMechanism.sigma(epsilon: 10, delta: 1e-4, sensitivity: delta, exposures: 100)
        expectClose(linear, 0.4343612, absolute: 1e-7)
        expectClose(linear, 100 * sigma, relative: 1e-15)
    }

    @Test("invalid inputs throw an error naming the parameter")
    func validation() {
        func name(_ body: () throws -> Double) -> String? {
            do { _ = try body() } catch let PrivacyError.invalidParameter(name, _, _) { return name } catch {}
            return nil
        }
        #expect(name { try GaussianMechanism.c(delta: 0) } == "delta")
        #expect(name { try GaussianMechanism.c(delta: 1) } == "delta")
        #expect(name { try GaussianMechanism.sigma(epsilon: 0, delta: 1e-5, sensitivity: 1) } == "epsilon")
        #expect(name { try GaussianMechanism.sigma(epsilon: 1, delta: 1.5, sensitivity: 1) } == "delta")
        #expect(name { try GaussianMechanism.sigma(epsilon: 1, delta: 1e-5, sensitivity: -1) } == "sensitivity")
        #expect(name { try GaussianMechanism.sigma(epsilon: 1, delta: 1e-5, sensitivity: 1, exposures: 0) } == "exposures")
        #expect(name { try GaussianMechanism.analyticSigma(epsilon: -1, delta: 1e-5, sensitivity: 1) } == "epsilon")
        #expect(name { try GaussianMechanism.analyticSigma(epsilon: 1, delta: .nan, sensitivity: 1) } == "delta")
        #expect(name { try GaussianMechanism.analyticSigma(epsilon: 1, delta: 1e-5, sensitivity: 0) } == "sensitivity")
        #expect(name { try GaussianMechanism.analyticEpsilon(sigma: -1, delta: 1e-5, sensitivity: 1) } == "sigma")
    }

    @Test("analytic σ matches mpmath", arguments: [
        (1.0, 1e-5, 1.0, 3.7306316348159418322),
        (0.1, 1e-5, 1.0, 30.749566131977448681),
        (3.0, 1e-6, 2.0, 3.0877228355512801386),
        (10.0, 1e-4, 0.01, 0.0045526513054676528388),
    ])
    func analyticSigmaKnownValues(epsilon: Double, delta: Double, sensitivity: Double, expected: Double) throws {
        let sigma = try GaussianMechanism.analyticSigma(epsilon: epsilon, delta: delta, sensitivity: sensitivity)
        expectClose(sigma, expected, relative: 1e-9)
        #expect(sigma >= expected * (1 - 1e-12), "never under-noises beyond rounding")
    }

    @Test("at the returned σ the exact condition equals δ, and σ_analytic < σ_classical for ε < 1")
    func analyticSigmaMeetsConditionAndBeatsClassical() throws {
        for delta in [1e-3, 1e-5, 1e-8] {
            for epsilon in [0.05, 0.1, 0.3, 0.5, 0.9, 0.99] {
                let analytic = try GaussianMechanism.analyticSigma(epsilon: epsilon, delta: delta, sensitivity: 1)
                let classical = try GaussianMechanism.sigma(epsilon: epsilon, delta: delta, sensitivity: 1)
                #expect(analytic < classical, "ε = \(epsilon), δ = \(delta)")
                let achieved = try GaussianMechanism.exactDelta(sigma: analytic, epsilon: epsilon, sensitivity: 1)
                #expect(achieved <= delta * (1 + 1e-12))
                expectClose(achieved, delta, relative: 1e-9, "ε = \(epsilon)")
            }
        }
    }

    @Test("analytic ε inverts analytic σ; classical σ at ε = 10 earns ε ≈ 10.62, not 10")
    func analyticEpsilon() throws {
        expectClose(try GaussianMechanism.analyticEpsilon(sigma: 1, delta: 1e-5, sensitivity: 1),
                    4.3771780956812246277, relative: 1e-9)
        let classical = try GaussianMechanism.sigma(epsilon: 10, delta: 1e-4, sensitivity: 0.01)
        expectClose(try GaussianMechanism.analyticEpsilon(sigma: classical, delta: 1e-4, sensitivity: 0.01),
                    10.620883169322806995, relative: 1e-9)
        for epsilon in [0.2, 1, 4, 12] {
            let sigma = try GaussianMechanism.analyticSigma(epsilon: epsilon, delta: 1e-6, sensitivity: 0.5)
            expectClose(try GaussianMechanism.analyticEpsilon(sigma: sigma, delta: 1e-6, sensitivity: 0.5),
                        epsilon, relative: 1e-9)
        }
        #expect(try GaussianMechanism.analyticEpsilon(sigma: 0, delta: 1e-5, sensitivity: 1) == .infinity)
        #expect(try GaussianMechanism.analyticEpsilon(sigma: 1e6, delta: 1e-5, sensitivity: 1) == 0)
    }

    @Test("exact δ falls as σ grows and as ε grows")
    func exactDeltaMonotone() throws {
        var previous = 1.0
        for sigma in stride(from: 0.25, through: 8, by: 0.25) {
            let d = try GaussianMechanism.exactDelta(sigma: sigma, epsilon: 1, sensitivity: 1)
            #expect(d < previous)
            previous = d
        }
        previous = 1
        for epsilon in stride(from: 0.0, through: 6, by: 0.5) {
            let d = try GaussianMechanism.exactDelta(sigma: 1, epsilon: epsilon, sensitivity: 1)
            #expect(d < previous)
            previous = d
        }
    }

    @Test("large ε: e^ε overflows and Φ underflows, the log-space condition still solves (mpmath)")
    func extremeEpsilon() throws {
        // ε = 800: e^800 is not a Double and Φ(−40.5) ≈ 1e-360 is below the smallest one; both live in log space.
        expectClose(try GaussianMechanism.analyticSigma(epsilon: 800, delta: 1e-10, sensitivity: 1),
                    0.029270607423398165413, relative: 1e-9)
        expectClose(try GaussianMechanism.analyticSigma(epsilon: 50, delta: 1e-5, sensitivity: 1),
                    0.14976060756083601935, relative: 1e-9)
    }
}
