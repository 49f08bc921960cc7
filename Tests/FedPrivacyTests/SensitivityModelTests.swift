// SensitivityModelTests: Δ under NbAFL and client-level DP, p_k weighting, and Codable.
//
// Oracle: spec B.4's worked table (Δ = 2C/d_k = 0.01 for C = 3, d_k = 600; 2C = 6).
import Foundation
import Testing
import FedPrivacy

@Suite struct SensitivityModelTests {
    @Test("NbAFL 2C/d_k, client-level C or 2C, weighting Δ·p_k")
    func values() throws {
        #expect(try SensitivityModel.nbafl.sensitivity(clippingNorm: 3, datasetSize: 600) == 0.01)
        #expect(try SensitivityModel.clientLevel(replace: true).sensitivity(clippingNorm: 3) == 6)
        #expect(try SensitivityModel.clientLevel(replace: false).sensitivity(clippingNorm: 3) == 3)
        #expect(try SensitivityModel.weighted(0.01, weight: 600.0 / 18_000) == 0.01 * 600.0 / 18_000)
        #expect(SensitivityModel.clientLevel(replace: false).isEnforcedByClipping)
        #expect(!SensitivityModel.nbafl.isEnforcedByClipping)
    }

    @Test("missing or bad inputs name the parameter")
    func validation() {
        #expect(throws: PrivacyError.self) { try SensitivityModel.nbafl.sensitivity(clippingNorm: 3) }
        #expect(throws: PrivacyError.invalidParameter(name: "datasetSize", value: 0, requirement: "≥ 1")) {
            try SensitivityModel.nbafl.sensitivity(clippingNorm: 3, datasetSize: 0)
        }
        #expect(throws: PrivacyError.invalidParameter(name: "clippingNorm", value: 0, requirement: "finite and > 0")) {
            try SensitivityModel.clientLevel(replace: true).sensitivity(clippingNorm: 0)
        }
        #expect(throws: PrivacyError.invalidParameter(name: "weight", value: 1.5, requirement: "in (0, 1]")) {
            try SensitivityModel.weighted(1, weight: 1.5)
        }
    }

    @Test("Codable round trip")
    func codable() throws {
        for model in [SensitivityModel.nbafl, .clientLevel(replace: true), .clientLevel(replace: false)] {
            let data = try JSONEncoder().encode(model)
            #expect(try JSONDecoder().decode(SensitivityModel.self, from: data) == model)
        }
    }
}
