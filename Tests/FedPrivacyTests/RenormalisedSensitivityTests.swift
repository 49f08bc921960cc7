// RenormalisedSensitivityTests: removing a client renormalises p_k: the aggregate moves up to 2·p_j·ζ (tight),
// while under the zero-out relation with public D_t one upload moves by at most p_k·ζ.
//
// Oracle: the two renormalised weightings computed directly (no formula), against the bound proved in
// RenormalisedSensitivity's comment; random updates as a check that nothing exceeds it.
import FedPrivacy
import FedTensor
import Testing

@Suite struct RenormalisedSensitivityTests {
    static let cohorts: [[Int]] = [[600, 600, 600], [10, 20, 30, 40, 5000], [1, 1], [7000, 3, 3, 3], [60, 600, 6000, 61]]

    @Test("worst-case neighbouring cohorts move the aggregate by exactly 2·p_j·ζ, and random ones never more")
    func aggregateShiftReachesTwicePJZeta() {
        let zeta = 3.0
        var rng = Philox(StreamKey(seed: 5))
        for samples in Self.cohorts {
            let total = Double(samples.reduce(0, +))
            for j in samples.indices {
                let pj = Double(samples[j]) / total
                let worst = RenormalisedSensitivity.worstCaseAggregateShift(samples: samples, removed: j, clip: zeta)
                #expect(abs(worst - 2 * pj * zeta) <= 1e-12 * zeta, "\(samples) j=\(j): \(worst) vs \(2 * pj * zeta)")
                // Negative control: the p_j·ζ the per-upload calibration uses is exceeded here (p_j < 1).
                #expect(worst > pj * zeta * 1.5)
                for _ in 0..<200 {
                    let u = samples.indices.map { _ in (2 * RandomDraws.uniformOpen(using: &rng) - 1) * zeta }
                    let shift = RenormalisedSensitivity.aggregateShift(samples: samples, removed: j, updates: u)
                    #expect(shift <= 2 * pj * zeta * (1 + 1e-12))
                }
            }
        }
    }

    @Test("zero-out with D_t public: only client k's upload p_k·u_k changes, by at most p_k·ζ")
    func zeroOutMovesOneUploadByPKZeta() throws {
        let zeta = 3.0
        for samples in Self.cohorts {
            let total = Double(samples.reduce(0, +))
            for k in samples.indices {
                let u = samples.indices.map { $0 == k ? zeta : -zeta }
                var zeroed = u
                zeroed[k] = 0
                // Same cohort, same D_t, same p_i: each upload p_i·u_i; only the k-th differs.
                let uploads = samples.indices.map { Double(samples[$0]) / total * u[$0] }
                let neighbour = samples.indices.map { Double(samples[$0]) / total * zeroed[$0] }
                let changed = samples.indices.filter { uploads[$0] != neighbour[$0] }
                #expect(changed == [k])
                let pk = Double(samples[k]) / total
                #expect(abs(uploads[k] - neighbour[k]) <= (try SensitivityModel.weighted(zeta, weight: pk)) * (1 + 1e-15))
            }
        }
    }
}
