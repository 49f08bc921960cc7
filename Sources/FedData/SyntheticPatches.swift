// SyntheticPatches: multi-patch feature/noise data with class × subpopulation features (spec C.1 item 3, C.2).
import FedTensor

/// Settings of the feature/noise patch model. Example of class i and subpopulation j: patch 0 is the feature
/// u_{i,j} ∈ ℝ^d, the other P − 1 patches are noise ξ ~ N(0, σ_p²·I_d), optionally with the feature directions
/// removed (ξ ⟂ every u). Features are orthogonal: u_{i,j} = ‖u_{i,j}‖·(cos θ·e_{g} + sin θ·e_{G+g}) with
/// g = i·S + j and G = K·S groups, so a source set (θ = 0) and a target set (θ > 0) have features at cosine cos θ
/// (the pre-training shift of spec C.1 item 7, parameterised by the angle as C.4 resolves). Defaults: spec C.2.
public struct SyntheticPatchSettings: Sendable, Codable, Equatable {
    public var classes = 2
    public var subgroups = 2
    public var patches = 2
    public var dimension = 1000
    /// π_i (nil: uniform). Normalised before use.
    public var classPriors: [Double]?
    /// π_{j|i}, the same in every class (default: a common and a 10% long-tail subpopulation).
    public var subgroupPriors: [Double] = [0.9, 0.1]
    /// ‖u_{i,j}‖ by [class][subgroup] (nil: 5 for subgroup 0, 1 for the others: spec C.2's common 5, tail 1).
    public var featureNorms: [[Double]]?
    /// σ_p.
    public var noiseStd = 1.0
    public var orthogonalNoise = true
    /// θ in radians (0: the source features).
    public var rotation = 0.0

    public init() {}

    public var groups: Int { classes * subgroups }

    /// ‖u_{i,j}‖ with the defaults filled in.
    public func norm(class i: Int, subgroup j: Int) -> Double {
        featureNorms?[i][j] ?? (j == 0 ? 5 : 1)
    }

    /// Checks sizes; the error names the setting.
    public func validate() throws(DataError) {
        func check(_ ok: Bool, _ what: String) throws(DataError) { if !ok { throw DataError(file: "synthetic data", what) } }
        try check(classes >= 2 && classes <= 1000, "classes must be in 2…1000, got \(classes)")
        try check(subgroups >= 1 && subgroups <= 1000, "subgroups must be in 1…1000, got \(subgroups)")
        try check(patches >= 1 && patches <= 64, "patches must be in 1…64, got \(patches)")
        try check(dimension >= 2 * groups && dimension <= 1_000_000,
                  "dimension must be in 2·classes·subgroups (\(2 * groups))…1000000, got \(dimension)")
        try check(classPriors.map { $0.count == classes && $0.allSatisfy { $0 >= 0 } && $0.reduce(0, +) > 0 } ?? true,
                  "classPriors needs \(classes) non-negative values with a positive sum")
        try check(subgroupPriors.count == subgroups && subgroupPriors.allSatisfy { $0 >= 0 }
                  && subgroupPriors.reduce(0, +) > 0,
                  "subgroupPriors needs \(subgroups) non-negative values with a positive sum")
        try check(featureNorms.map { $0.count == classes && $0.allSatisfy { $0.count == subgroups && $0.allSatisfy { $0 >= 0 } } } ?? true,
                  "featureNorms needs \(classes) rows of \(subgroups) non-negative norms")
        try check(noiseStd >= 0 && noiseStd.isFinite, "noiseStd must be ≥ 0, got \(noiseStd)")
        try check(rotation.isFinite, "rotation must be finite")
    }

    /// The feature of group g = i·S + j, as a dense vector.
    public func feature(class i: Int, subgroup j: Int) -> [Float] {
        var u = [Float](repeating: 0, count: dimension)
        let g = i * subgroups + j, n = norm(class: i, subgroup: j)
        u[g] = Float(n * cos(rotation))
        u[groups + g] += Float(n * sin(rotation))
        return u
    }
}

/// A generated set: the samples (shape [P, d]), each example's group g = class·S + subgroup, and the settings.
public struct SyntheticPatches: Sendable {
    public let samples: ArraySamples
    public let groups: [Int]
    public let settings: SyntheticPatchSettings

    /// `count` examples; example n draws its class, subgroup and noise from `key.child(n)`, so a prefix of a larger
    /// set is the smaller set.
    public init(settings: SyntheticPatchSettings, count: Int, key: StreamKey) throws(DataError) {
        try settings.validate()
        let (d, P, S) = (settings.dimension, settings.patches, settings.subgroups)
        guard count >= 1 && count <= 10_000_000 && count * P * d <= 500_000_000 else {
            throw DataError(file: "synthetic data",
                            "count × patches × dimension must be ≤ 500,000,000 floats (2 GB), got \(count) × \(P) × \(d)")
        }
        let classCDF = cumulative(settings.classPriors ?? Array(repeating: 1, count: settings.classes))
        let subgroupCDF = cumulative(settings.subgroupPriors)
        let features = (0..<settings.classes).map { i in (0..<S).map { settings.feature(class: i, subgroup: $0) } }
        // Coordinates any feature (source or rotated) can use: 0..<2G. Orthogonal noise leaves them 0.
        let featureCoordinates = 2 * settings.groups
        var pixels = [Float](repeating: 0, count: count * P * d)
        var labels = [Int32](repeating: 0, count: count)
        var groups = [Int](repeating: 0, count: count)
        for n in 0..<count {
            var rng = Philox(key.child(UInt64(n)))
            let i = pick(classCDF, RandomDraws.uniformOpen(using: &rng))
            let j = pick(subgroupCDF, RandomDraws.uniformOpen(using: &rng))
            labels[n] = Int32(i)
            groups[n] = i * S + j
            let base = n * P * d
            for k in 0..<d { pixels[base + k] = features[i][j][k] }
            for p in 1..<max(P, 1) {
                for k in 0..<d {
                    let v = Float(rng.nextGaussian() * settings.noiseStd)
                    pixels[base + p * d + k] = settings.orthogonalNoise && k < featureCoordinates ? 0 : v
                }
            }
        }
        samples = ArraySamples(pixels: pixels, labels: labels, sampleShape: [P, d], classCount: settings.classes)
        self.groups = groups
        self.settings = settings
    }
}

func cumulative(_ w: [Double]) -> [Double] {
    let total = w.reduce(0, +)
    var s = 0.0
    return w.map { s += $0 / total; return s }
}

/// The first index whose cumulative probability exceeds u (the last one if rounding leaves u above them all).
func pick(_ cdf: [Double], _ u: Double) -> Int {
    cdf.firstIndex { u < $0 } ?? cdf.count - 1
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
