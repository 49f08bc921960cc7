// RDPTests: sampled-Gaussian RDP and the (ε, δ) conversion against opacus and against numerical integration.
//
// Oracles:
// - "opacus": a transcription of opacus `accountants/analysis/rdp.py` run in Python with scipy, reproducing the
//   values opacus' own tests pin (7.32911117143 in `opacus/tests/accountants_test.py`; the docstring's (0.336, 23)).
// - "quadrature": mpmath (30 digits) integrating the definition A_α = ∫ N(z; 0, σ²)·((1 − q) + q·e^{(2z−1)/(2σ²)})^α dz
//   (Mironov, Talwar & Zhang 2019), RDP = log A_α/(α − 1). It shares no code path with the series.
import Testing
import FedPrivacy

@Suite struct RDPTests {
    @Test("default orders are opacus' [1 + x/10 for x in 1..<100] + 12..<64")
    func defaultOrders() {
        let orders = RDP.defaultOrders
        #expect(orders.count == 99 + 52)
        #expect(orders.first == 1.1 && orders[8] == 1.9 && orders[9] == 2.0 && orders[98] == 10.9)
        #expect(orders[99] == 12 && orders.last == 63)
        #expect(orders == orders.sorted())
    }

    @Test("q = 1 is the Gaussian mechanism's α/(2σ²)")
    func fullBatchClosedForm() throws {
        for sigma in [0.5, 1.0, 3.0] {
            for alpha in [1.5, 2, 7.3, 32, 63] {
                let rdp = try RDP.sampledGaussian(noiseMultiplier: sigma, sampleRate: 1, order: alpha)
                #expect(rdp == alpha / (2 * sigma * sigma))
            }
        }
        let composed = try RDP.sampledGaussian(noiseMultiplier: 2, sampleRate: 1, steps: 10, orders: [2, 4.5])
        let expected: [Double] = [2.5, 5.625]  // 10 · α/(2·2²)
        #expect(composed == expected)
    }

    @Test("one step matches opacus (q = 0.05, σ = 1.2) and quadrature, integer and fractional α",
          arguments: [
              (0.05, 1.2, 1.5, 0.0018250340180205305, 0.001825034018227589),
              (0.05, 1.2, 2.0, 0.0025033545202484825, 0.0025033545202485322),
              (0.05, 1.2, 4.4, 0.006497075426399607, 0.0064970754263786629),
              (0.05, 1.2, 8.0, 0.021782161012633073, 0.021782161012633107),
              (0.05, 1.2, 16.0, 2.360716814281843, 2.360716814281842),
              (0.05, 1.2, 32.0, 8.01874232137674, 8.0187423213767396),
              (0.01, 1.0, 1.1, 9.241470982855839e-05, 9.2414710846869575e-5),
              (0.01, 1.0, 2.5, 0.00021757533233085147, 0.00021757533228188045),
              (0.01, 1.0, 10.9, 0.3876114113003885, 0.38761141130038868),
          ])
    func singleStep(q: Double, sigma: Double, alpha: Double, opacus: Double, quadrature: Double) throws {
        let rdp = try RDP.sampledGaussian(noiseMultiplier: sigma, sampleRate: q, order: alpha)
        // log A_α is a log-space sum of terms near 1, so it carries ~1e-14 absolute rounding; RDP divides it by
        // α − 1 (0.1 at α = 1.1). Implementations that sum in a different order agree to ~2e-13 there.
        expectClose(rdp, opacus, relative: 1e-10, absolute: 1e-12, "vs opacus")
        expectClose(rdp, quadrature, relative: 1e-8, "vs quadrature")
    }

    @Test("opacus pinned ε: σ = 1.5, q = 0.04, 2,250 steps, δ = 1e-5 → 7.32911117143 at α = 3.9")
    func opacusAccountantTest() throws {
        let rdp = try RDP.sampledGaussian(noiseMultiplier: 1.5, sampleRate: 0.04, steps: 2250)
        let (epsilon, order) = try RDP.epsilon(orders: RDP.defaultOrders, rdp: rdp, delta: 1e-5)
        expectClose(epsilon, 7.3291111714386545, relative: 1e-9)
        expectClose(epsilon, 7.32911117143, absolute: 5e-7)  // opacus assertAlmostEqual: 7 places
        #expect(order == 3.9)
    }

    @Test("σ = 1.0, q = 0.01, 1,000 steps, δ = 1e-5 → ε = 2.1013652716430564 at α = 7.8")
    func secondPinnedEpsilon() throws {
        let rdp = try RDP.sampledGaussian(noiseMultiplier: 1.0, sampleRate: 0.01, steps: 1000)
        let (epsilon, order) = try RDP.epsilon(orders: RDP.defaultOrders, rdp: rdp, delta: 1e-5)
        expectClose(epsilon, 2.1013652716430564, relative: 1e-9)
        #expect(order == 7.8)
    }

    @Test("opacus analysis/rdp.py docstring: [(q 1e-5, σ 1, 10 steps), (q 1e-4, σ 3, 4 steps)], orders 2…32 → (0.336, 23)")
    func docstringExample() throws {
        let orders = (2...32).map(Double.init)
        let a = try RDP.sampledGaussian(noiseMultiplier: 1.0, sampleRate: 1e-5, steps: 10, orders: orders)
        let b = try RDP.sampledGaussian(noiseMultiplier: 3.0, sampleRate: 1e-4, steps: 4, orders: orders)
        let (epsilon, order) = try RDP.epsilon(orders: orders, rdp: zip(a, b).map(+), delta: 1e-5)
        expectClose(epsilon, 0.336, absolute: 5e-4)
        expectClose(epsilon, 0.33634406339259565, relative: 1e-9)
        #expect(order == 23)
    }

    @Test("edge cases: q = 0 is free, σ = 0 is infinite, all-NaN converts to ∞, bad input names its parameter")
    func edgeCases() throws {
        #expect(try RDP.sampledGaussian(noiseMultiplier: 1, sampleRate: 0, order: 5) == 0)
        #expect(try RDP.sampledGaussian(noiseMultiplier: 0, sampleRate: 0.1, order: 5) == .infinity)
        let none = try RDP.epsilon(orders: [2, 3], rdp: [.nan, .nan], delta: 1e-5)
        #expect(none.epsilon == .infinity && none.bestOrder.isNaN)
        let skip = try RDP.epsilon(orders: [2, 3], rdp: [.nan, 0.5], delta: 1e-5)
        #expect(skip.bestOrder == 3)
        #expect(throws: PrivacyError.invalidParameter(name: "orders", value: 1, requirement: "in (1, 10 000]")) {
            try RDP.sampledGaussian(noiseMultiplier: 1, sampleRate: 0.1, order: 1)
        }
        #expect(throws: PrivacyError.invalidParameter(name: "sampleRate", value: 1.5, requirement: "in [0, 1]")) {
            try RDP.sampledGaussian(noiseMultiplier: 1, sampleRate: 1.5, order: 2)
        }
        #expect(throws: PrivacyError.self) { try RDP.epsilon(orders: [2, 3], rdp: [1], delta: 1e-5) }
        #expect(throws: PrivacyError.self) { try RDP.epsilon(orders: [2], rdp: [1], delta: 0) }
    }

    @Test("ε grows with steps and falls as σ grows")
    func monotonicity() throws {
        var previous = 0.0
        for steps in [1, 10, 100, 1000, 5000] {
            let rdp = try RDP.sampledGaussian(noiseMultiplier: 1.1, sampleRate: 0.02, steps: steps)
            let epsilon = try RDP.epsilon(orders: RDP.defaultOrders, rdp: rdp, delta: 1e-5).epsilon
            #expect(epsilon > previous, "steps = \(steps)")
            previous = epsilon
        }
        previous = .infinity
        for sigma in [0.6, 0.8, 1.0, 1.5, 2.5, 5.0] {
            let rdp = try RDP.sampledGaussian(noiseMultiplier: sigma, sampleRate: 0.02, steps: 500)
            let epsilon = try RDP.epsilon(orders: RDP.defaultOrders, rdp: rdp, delta: 1e-5).epsilon
            #expect(epsilon < previous, "σ = \(sigma)")
            previous = epsilon
        }
    }
}
