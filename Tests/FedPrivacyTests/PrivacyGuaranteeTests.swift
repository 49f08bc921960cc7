// PrivacyGuaranteeTests: the honest report — no run-level ε for configurations that do not earn one.
//
// Oracles: mpmath for the ε a classical σ really earns, and the RDP accountant (an independent method, looser than
// the exact Gaussian-DP composition) for L releases.
import Foundation
import Testing
import FedPrivacy

@Suite struct PrivacyGuaranteeTests {
    @Test("an RDP history earns .dp with the accountant's ε")
    func accountedRun() throws {
        let accountant = try RDPAccountant(history: [.init(noiseMultiplier: 1.5, sampleRate: 0.04, steps: 2250)])
        let guarantee = try PrivacyGuarantee.accounted(by: accountant, delta: 1e-5)
        guard case let .dp(epsilon, delta, method) = guarantee else { Issue.record("\(guarantee)"); return }
        expectClose(epsilon, 7.3291111714386545, relative: 1e-9)
        #expect(delta == 1e-5 && method == .rdp)
        #expect(guarantee.description == "(ε = 7.329, δ = 1e-05)-DP [rdp]")
    }

    @Test("noise multiplier 0 earns no ε; an empty or never-sampling run earns ε = 0")
    func noNoiseNoEpsilon() throws {
        var accountant = RDPAccountant()
        try accountant.step(noiseMultiplier: 1, sampleRate: 0.01, count: 100)
        try accountant.step(noiseMultiplier: 0, sampleRate: 0.01)
        let guarantee = try PrivacyGuarantee.accounted(by: accountant, delta: 1e-5)
        #expect(guarantee.epsilon == nil && !guarantee.isDifferentiallyPrivate)
        #expect(guarantee.description.hasPrefix("no DP guarantee"))
        #expect(try PrivacyGuarantee.accounted(by: RDPAccountant(), delta: 1e-5) == .dp(epsilon: 0, delta: 0, accountant: .rdp))
        let unsampled = try RDPAccountant(history: [.init(noiseMultiplier: 0, sampleRate: 0, steps: 5)])
        #expect(try PrivacyGuarantee.accounted(by: unsampled, delta: 1e-5).epsilon == 0)
    }

    @Test("a classically calibrated σ at ε = 10 is reported with the ε it earns (10.62), not 10")
    func classicalSigmaReportedHonestly() throws {
        let sigma = try GaussianMechanism.sigma(epsilon: 10, delta: 1e-4, sensitivity: 0.01)
        let guarantee = try PrivacyGuarantee.gaussianReleases(noiseStd: sigma, sensitivity: 0.01, delta: 1e-4)
        expectClose(try #require(guarantee.epsilon), 10.620883169322806995, relative: 1e-9)
        #expect(try PrivacyGuarantee.gaussianReleases(noiseStd: 0, sensitivity: 1, delta: 1e-5).epsilon == nil)
    }

    @Test("L Gaussian releases compose exactly as one with Δ·√L, tighter than RDP with q = 1")
    func composedReleases() throws {
        for releases in [1, 4, 25, 100] {
            let guarantee = try PrivacyGuarantee.gaussianReleases(noiseStd: 8, sensitivity: 1, delta: 1e-5, releases: releases)
            let exact = try GaussianMechanism.analyticEpsilon(sigma: 8, delta: 1e-5, sensitivity: Double(releases).squareRoot())
            #expect(guarantee == .dp(epsilon: exact, delta: 1e-5, accountant: .analyticGaussian))
            let rdp = try RDPAccountant(history: [.init(noiseMultiplier: 8, sampleRate: 1, steps: releases)])
            #expect(exact <= (try rdp.epsilon(delta: 1e-5).epsilon), "L = \(releases)")
        }
    }

    @Test("per-release and heuristic configurations print no run-level ε")
    func perReleaseAndHeuristic() throws {
        let niss = try PrivacyGuarantee.perRelease(noiseStd: 4, sensitivity: 1, delta: 1e-5,
                                                   reason: "τ = 0: the shares cancel and the aggregate carries no noise")
        guard case let .perReleaseOnly(epsilon, _, method, _) = niss else { Issue.record("\(niss)"); return }
        expectClose(epsilon, try GaussianMechanism.analyticEpsilon(sigma: 4, delta: 1e-5, sensitivity: 1), relative: 0)
        #expect(method == .analyticGaussian && niss.epsilon == nil)
        #expect(niss.description.hasPrefix("per-release only"))
        let infusion = PrivacyGuarantee.heuristic("noise infusion without a sensitivity bound")
        #expect(infusion.epsilon == nil)
        #expect(infusion.description == "no DP guarantee: noise infusion without a sensitivity bound")
        for guarantee in [niss, infusion, .dp(epsilon: 1.5, delta: 1e-5, accountant: .rdp)] {
            let data = try JSONEncoder().encode(guarantee)
            #expect(try JSONDecoder().decode(PrivacyGuarantee.self, from: data) == guarantee)
        }
    }
}
