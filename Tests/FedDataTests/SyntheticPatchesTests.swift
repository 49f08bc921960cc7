// SyntheticPatchesTests: feature norms, orthogonality, rotation, noise level and group frequencies of the patch data.
import FedData
import FedTensor
import Foundation
import Testing

@Suite struct SyntheticPatchesTests {
    func dot(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Double {
        zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
    }

    /// Patch 0 is the group's feature with its configured norm; features of different groups are orthogonal; the
    /// noise patches are orthogonal to every feature (source and rotated); the rotated feature is at cosine cos θ.
    @Test func featuresHaveTheirNormsAndAreOrthogonal() throws {
        var s = SyntheticPatchSettings()
        s.dimension = 64
        s.patches = 3
        s.featureNorms = [[5, 2], [4, 1]]
        s.rotation = 0.7
        let data = try SyntheticPatches(settings: s, count: 300, key: StreamKey(seed: 1))
        let x = data.samples.pixels, d = 64, size = 3 * d
        var seen = Set<Int>()
        for n in 0..<300 {
            let g = data.groups[n], i = g / 2, j = g % 2
            #expect(Int(data.samples.labels[n]) == i)
            let feature = x[(n * size)..<(n * size + d)]
            #expect(abs(dot(feature, feature).squareRoot() - s.norm(class: i, subgroup: j)) < 1e-5)
            #expect(Array(feature) == s.feature(class: i, subgroup: j))
            for p in 1..<3 {
                let noise = x[(n * size + p * d)..<(n * size + (p + 1) * d)]
                for i2 in 0..<2 { for j2 in 0..<2 {
                    var source = s
                    source.rotation = 0
                    #expect(dot(noise, s.feature(class: i2, subgroup: j2)[...]) == 0)
                    #expect(dot(noise, source.feature(class: i2, subgroup: j2)[...]) == 0)
                } }
            }
            seen.insert(g)
        }
        #expect(seen.count == 4)
        var source = s
        source.rotation = 0
        for g in 0..<4 {
            let u = s.feature(class: g / 2, subgroup: g % 2), u0 = source.feature(class: g / 2, subgroup: g % 2)
            let cosine = dot(u[...], u0[...]) / (dot(u[...], u[...]) * dot(u0[...], u0[...])).squareRoot()
            #expect(abs(cosine - cos(0.7)) < 1e-6)
            for h in 0..<4 where h != g {
                #expect(dot(u[...], s.feature(class: h / 2, subgroup: h % 2)[...]) == 0)
                #expect(dot(u[...], source.feature(class: h / 2, subgroup: h % 2)[...]) == 0)
            }
        }
    }

    /// Noise coordinates outside the feature directions have variance σ_p²: over n of them, the mean of ξ² has
    /// sd σ_p²·√(2/n); accept ±5 sd. A generator with σ_p 2% too large is rejected by the same bound.
    @Test func noiseHasTheConfiguredVariance() throws {
        var s = SyntheticPatchSettings()
        s.dimension = 200
        s.noiseStd = 1.5
        let data = try SyntheticPatches(settings: s, count: 500, key: StreamKey(seed: 2))
        var sum = 0.0, n = 0
        for e in 0..<500 {
            for k in (2 * s.groups)..<200 {
                let v = Double(data.samples.pixels[e * 400 + 200 + k])
                sum += v * v
                n += 1
            }
        }
        let variance = sum / Double(n), expected = 1.5 * 1.5, sd = expected * (2 / Double(n)).squareRoot()
        #expect(abs(variance - expected) <= 5 * sd, "mean ξ² \(variance), expected \(expected) ± \(5 * sd)")
        #expect(abs(variance - 1.53 * 1.53) > 5 * sd, "negative control not rejected")
    }

    /// Group frequencies match π_i·π_{j|i}: each within 5·√(p(1−p)/n) for n = 20,000; the priors swapped (a
    /// generator that ignored them) fall outside.
    @Test func groupFrequenciesFollowThePriors() throws {
        var s = SyntheticPatchSettings()
        s.dimension = 8
        s.classPriors = [0.7, 0.3]
        s.subgroupPriors = [0.9, 0.1]
        let n = 20_000
        let data = try SyntheticPatches(settings: s, count: n, key: StreamKey(seed: 3))
        var counts = [Int](repeating: 0, count: 4)
        for g in data.groups { counts[g] += 1 }
        let p = [0.7 * 0.9, 0.7 * 0.1, 0.3 * 0.9, 0.3 * 0.1]
        for g in 0..<4 {
            let f = Double(counts[g]) / Double(n), bound = 5 * (p[g] * (1 - p[g]) / Double(n)).squareRoot()
            #expect(abs(f - p[g]) <= bound, "group \(g): \(f) vs \(p[g]) ± \(bound)")
            let swapped = [0.3 * 0.9, 0.3 * 0.1, 0.7 * 0.9, 0.7 * 0.1][g]
            #expect(abs(f - swapped) > bound)
        }
    }

    @Test func prefixesAreStableAndSettingsAreChecked() throws {
        var s = SyntheticPatchSettings()
        s.dimension = 16
        let big = try SyntheticPatches(settings: s, count: 50, key: StreamKey(seed: 4))
        let small = try SyntheticPatches(settings: s, count: 10, key: StreamKey(seed: 4))
        #expect(Array(big.samples.pixels.prefix(10 * 32)) == small.samples.pixels)
        #expect(Array(big.groups.prefix(10)) == small.groups)
        s.dimension = 7  // fewer than 2·K·S = 8 coordinates for the features
        #expect(throws: DataError.self) { try SyntheticPatches(settings: s, count: 1, key: StreamKey(seed: 4)) }
        s.dimension = 16
        s.subgroupPriors = [1]
        #expect(throws: DataError.self) { try SyntheticPatches(settings: s, count: 1, key: StreamKey(seed: 4)) }
    }
}
