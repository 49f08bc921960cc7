// RDPAccountantTests: compressed history, Codable round trip, pinned ε, and the never-overshooting σ search.
//
// Oracles: opacus' own pinned values (`opacus/tests/accountants_test.py`: ε = 7.32911117143; get_noise_multiplier
// 1.416 for 90 epochs and 1.3562 for 2,000 steps at ε = 8, δ = 1e-5, q = 0.04), reproduced exactly
// (1.416015625, 1.356201171875) by a Python transcription of opacus `accountants/utils.py`.
import Foundation
import Testing
import FedPrivacy

@Suite struct RDPAccountantTests {
    @Test("2,250 single steps compress to one run and give opacus' ε = 7.32911117143")
    func pinnedEpsilonAndCompression() throws {
        var accountant = RDPAccountant()
        for _ in 0..<Int(90 / 0.04) { try accountant.step(noiseMultiplier: 1.5, sampleRate: 0.04) }
        #expect(accountant.history == [.init(noiseMultiplier: 1.5, sampleRate: 0.04, steps: 2250)])
        #expect(accountant.steps == 2250)
        let (epsilon, order) = try accountant.epsilon(delta: 1e-5)
        expectClose(epsilon, 7.3291111714386545, relative: 1e-9)
        #expect(order == 3.9)
    }

    @Test("runs split when σ or q changes; ε is that of the summed RDP")
    func heterogeneousHistory() throws {
        var accountant = RDPAccountant()
        try accountant.step(noiseMultiplier: 1, sampleRate: 0.01, count: 300)
        try accountant.step(noiseMultiplier: 1, sampleRate: 0.01, count: 700)
        try accountant.step(noiseMultiplier: 2, sampleRate: 0.01)
        try accountant.step(noiseMultiplier: 2, sampleRate: 0.02)
        try accountant.step(noiseMultiplier: 1, sampleRate: 0.01)
        #expect(accountant.history.map(\.steps) == [1000, 1, 1, 1])
        let parts = try [(1.0, 0.01, 1001), (2.0, 0.01, 1), (2.0, 0.02, 1)].map {
            try RDP.sampledGaussian(noiseMultiplier: $0.0, sampleRate: $0.1, steps: $0.2)
        }
        let summed = RDP.defaultOrders.indices.map { k in parts.reduce(0) { $0 + $1[k] } }
        let expected = try RDP.epsilon(orders: RDP.defaultOrders, rdp: summed, delta: 1e-5).epsilon
        expectClose(try accountant.epsilon(delta: 1e-5).epsilon, expected, relative: 1e-12)
        // The first 1,000 steps alone: the second pinned value.
        let first = try RDPAccountant(history: [.init(noiseMultiplier: 1, sampleRate: 0.01, steps: 1000)])
        expectClose(try first.epsilon(delta: 1e-5).epsilon, 2.1013652716430564, relative: 1e-9)
    }

    @Test("Codable round trip keeps the history and ε; invalid histories do not decode")
    func codableRoundTrip() throws {
        var accountant = RDPAccountant()
        try accountant.step(noiseMultiplier: 1.1, sampleRate: 0.0123, count: 17)
        try accountant.step(noiseMultiplier: 0.7, sampleRate: 1)
        let data = try JSONEncoder().encode(accountant)
        let decoded = try JSONDecoder().decode(RDPAccountant.self, from: data)
        #expect(decoded == accountant)
        #expect(try decoded.epsilon(delta: 1e-6).epsilon == accountant.epsilon(delta: 1e-6).epsilon)

        let bad = Data(#"{"history":[{"noiseMultiplier":-1,"sampleRate":0.1,"steps":3}]}"#.utf8)
        #expect(throws: PrivacyError.self) { try JSONDecoder().decode(RDPAccountant.self, from: bad) }
        let uncompressed = Data(#"{"history":[{"noiseMultiplier":1,"sampleRate":0.1,"steps":3},{"noiseMultiplier":1,"sampleRate":0.1,"steps":2}]}"#.utf8)
        #expect(try JSONDecoder().decode(RDPAccountant.self, from: uncompressed).history.map(\.steps) == [5])
    }

    @Test("step validation names the parameter")
    func stepValidation() {
        var accountant = RDPAccountant()
        #expect(throws: PrivacyError.invalidParameter(name: "noiseMultiplier", value: -0.5, requirement: "finite and ≥ 0")) {
            try accountant.step(noiseMultiplier: -0.5, sampleRate: 0.1)
        }
        #expect(throws: PrivacyError.invalidParameter(name: "steps", value: 0, requirement: "≥ 1")) {
            try accountant.step(noiseMultiplier: 1, sampleRate: 0.1, count: 0)
        }
        #expect(accountant.history.isEmpty)
    }

    @Test("noise multiplier search reproduces opacus: 1.416015625 (2,250 steps) and 1.356201171875 (2,000 steps)")
    func pinnedNoiseMultipliers() throws {
        let epochs = try RDPAccountant.noiseMultiplier(targetEpsilon: 8, delta: 1e-5, sampleRate: 0.04, steps: Int(90 / 0.04))
        #expect(epochs == 1.416015625)
        let steps = try RDPAccountant.noiseMultiplier(targetEpsilon: 8, delta: 1e-5, sampleRate: 0.04, steps: 2000)
        #expect(steps == 1.356201171875)
    }

    @Test("the search meets each target ε within tolerance and never overshoots",
          arguments: [0.5, 1.0, 2.0, 4.0, 8.0])
    func noiseMultiplierNeverOvershoots(target: Double) throws {
        for (q, steps) in [(0.01, 1000), (0.04, 2000), (1.0, 10)] {
            let sigma = try RDPAccountant.noiseMultiplier(targetEpsilon: target, delta: 1e-5, sampleRate: q, steps: steps)
            let accountant = try RDPAccountant(history: [.init(noiseMultiplier: sigma, sampleRate: q, steps: steps)])
            let epsilon = try accountant.epsilon(delta: 1e-5).epsilon
            #expect(epsilon <= target, "q = \(q), steps = \(steps): σ = \(sigma)")
            #expect(target - epsilon <= 0.01, "q = \(q), steps = \(steps): σ = \(sigma)")
        }
    }

    @Test("an unreachable budget throws instead of returning a σ that does not meet it")
    func unreachableBudget() {
        // With α ≤ 63 and δ = 1e-5 the conversion alone costs ε ≈ 0.1 even at zero RDP.
        #expect(throws: PrivacyError.unreachableBudget(targetEpsilon: 0.05, delta: 1e-5,
                                                       maximumNoiseMultiplier: RDPAccountant.maximumNoiseMultiplier)) {
            try RDPAccountant.noiseMultiplier(targetEpsilon: 0.05, delta: 1e-5, sampleRate: 1, steps: 10)
        }
    }
}
