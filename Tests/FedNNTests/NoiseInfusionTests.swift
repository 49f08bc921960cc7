// NoiseInfusionTests: the noise laws' moments and tails, relative levels, train-only, schedules, sites, presets.
import FedNN
import FedTensor
import Foundation
import Testing

/// Sample mean, variance and P(|x − centre| > t) of a buffer.
private func moments(_ x: [Float], centre: Double = 0, tail t: Double) -> (mean: Double, variance: Double, tail: Double) {
    let n = Double(x.count)
    let mean = x.reduce(0.0) { $0 + Double($1) } / n
    let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / (n - 1)
    let tail = Double(x.filter { abs(Double($0) - centre) > t }.count) / n
    return (mean, variance, tail)
}

@Suite("Noise infusion")
struct NoiseInfusionTests {
    static let n = 200_000

    /// Additive laws at std σ: mean 0 ± 5σ/√n; variance σ² within 5·√((κ − 1)/n) relative (κ the law's kurtosis:
    /// 3, 6, 1.8); P(|η| > σ) = 2Φ(−1), e^{−√2}, 1 − 1/√3 within 5 binomial std. Negative controls: a variance off
    /// by 5% and the other laws' tail probabilities must be rejected by the same bounds.
    @Test(arguments: [(NoiseDistribution.gaussian, 3.0, 0.317310508), (.laplace, 6.0, exp(-2.0.squareRoot())),
                      (.uniform, 1.8, 1 - 1 / 3.0.squareRoot())])
    func additiveLawHasItsMeanVarianceAndTail(law: NoiseDistribution, kurtosis: Double, tail: Double) {
        let sigma: Float = 0.7
        var x = [Float](repeating: 0, count: Self.n)
        x.withUnsafeMutableBufferPointer {
            applyNoise($0.baseAddress!, count: Self.n, distribution: law, level: sigma, key: StreamKey(seed: 11))
        }
        let s = Double(sigma), n = Double(Self.n)
        let m = moments(x, tail: s)
        let varianceBound = 5 * ((kurtosis - 1) / n).squareRoot()
        let tailBound = 5 * (tail * (1 - tail) / n).squareRoot()
        #expect(abs(m.mean) < 5 * s / n.squareRoot())
        #expect(abs(m.variance / (s * s) - 1) < varianceBound)
        #expect(abs(m.tail - tail) < tailBound)
        // Negative controls.
        #expect(abs(m.variance / (1.05 * s * s) - 1) > varianceBound)
        for other in [0.317310508, exp(-2.0.squareRoot()), 1 - 1 / 3.0.squareRoot()] where abs(other - tail) > 1e-6 {
            #expect(abs(m.tail - other) > tailBound)
        }
    }

    /// x·(1 + η) on x = 2: mean 2, variance 4σ² (relative std √(2/n), 5 of them); speckle is the same law.
    @Test(arguments: [NoiseDistribution.multiplicativeGaussian, .speckle])
    func multiplicativeLawScalesWithTheSignal(law: NoiseDistribution) {
        let sigma: Float = 0.3
        var x = [Float](repeating: 2, count: Self.n)
        var factor = [Float](repeating: 0, count: Self.n)
        x.withUnsafeMutableBufferPointer { xb in
            factor.withUnsafeMutableBufferPointer { f in
                applyNoise(xb.baseAddress!, count: Self.n, distribution: law, level: sigma, key: StreamKey(seed: 12),
                           factor: f.baseAddress!)
            }
        }
        let n = Double(Self.n), m = moments(x, centre: 2, tail: 0.6)
        #expect(abs(m.mean - 2) < 5 * 0.6 / n.squareRoot())
        #expect(abs(m.variance / 0.36 - 1) < 5 * (2 / n).squareRoot())
        #expect(abs(m.variance / (0.36 * 1.05) - 1) > 5 * (2 / n).squareRoot())  // negative control
        #expect(zip(x, factor).allSatisfy { $0 == 2 * $1 })
    }

    /// A fraction p of entries replaced, half by the low value and half by the high one; the rest untouched.
    /// A tensor large enough to be noised on several threads gives the same bits on 1, 2 and 3 threads, and the
    /// same bits as noising it in small independent pieces (each piece its own call at its global start index,
    /// the oracle of "a pure function of (key, index)"); the factors of the multiplicative laws too. Negative
    /// control: another key changes most entries.
    @Test(arguments: NoiseDistribution.allCases)
    func largeTensorsAreThreadAndSplitInvariant(law: NoiseDistribution) {
        let n = 3 * 65_536 + 777
        let clean = (0..<n).map { Float(($0 % 97) - 48) / 16 }
        func noised(threads: Int, pieces: Int = 1, seed: UInt64 = 21) -> ([Float], [Float]) {
            var x = clean, f = [Float](repeating: 0, count: n)
            ComputeThreads.$taskLimit.withValue(threads) {
                x.withUnsafeMutableBufferPointer { xb in
                    f.withUnsafeMutableBufferPointer { fb in
                        for p in 0..<pieces {
                            let lo = n * p / pieces, hi = n * (p + 1) / pieces
                            applyNoise(xb.baseAddress! + lo, count: hi - lo, distribution: law, level: 0.3,
                                       key: StreamKey(seed: seed), startIndex: UInt64(lo),
                                       factor: fb.baseAddress! + lo, low: -3, high: 3)
                        }
                    }
                }
            }
            return (x, f)
        }
        let one = noised(threads: 1)
        #expect(one.0 != clean)
        for threads in [2, 3] { #expect(noised(threads: threads) == one) }
        #expect(noised(threads: 2, pieces: 97) == one)
        let other = noised(threads: 2, seed: 22).0
        #expect(zip(other, one.0).filter { $0 != $1 }.count > (law == .saltAndPepper ? n / 5 : n / 2))
    }

    @Test func saltAndPepperCorruptsTheGivenFraction() {
        let p: Float = 0.2
        var x = [Float](repeating: 0.5, count: Self.n)
        x.withUnsafeMutableBufferPointer {
            applyNoise($0.baseAddress!, count: Self.n, distribution: .saltAndPepper, level: p, key: StreamKey(seed: 13),
                       low: -1, high: 3)
        }
        let n = Double(Self.n), bound = 5 * (0.1 * 0.9 / n).squareRoot()
        let low = Double(x.filter { $0 == -1 }.count) / n, high = Double(x.filter { $0 == 3 }.count) / n
        #expect(abs(low - 0.1) < bound && abs(high - 0.1) < bound)
        #expect(abs(low - 0.12) > bound)  // negative control
        #expect(x.allSatisfy { $0 == -1 || $0 == 3 || $0 == 0.5 })
    }

    /// A noise layer after an identity: constant inputs c, so the output's spread is the noise's.
    private func layerOutput(_ layer: NoiseLayer, value: Float, training: Bool, step: UInt64 = 0,
                             time: Int = 0) throws -> [Float] {
        let n = 50_000
        let net = try Network(inputShape: [n], layers: [layer])
        let ws = Workspace(network: net, capacity: 1)
        ws.input.update(repeating: value, count: n)
        ws.forward(parameters: UnsafePointer(bitPattern: 8)!, batch: 1, training: training,
                   noise: NoiseSource(key: StreamKey(seed: 5), step: step, time: time))
        return Array(UnsafeBufferPointer(start: ws.output, count: n))
    }

    /// σ = λ·RMS(x): doubling the signal doubles the noise std. Bounds: relative std of a sample std ≈ 1/√(2n).
    @Test func relativeLevelFollowsTheRMSOfTheCleanTensor() throws {
        let layer = NoiseLayer(.gaussian, level: 0.5, relative: true)
        let bound = 5 / (2 * 50_000.0).squareRoot()
        for c: Float in [3, 6] {
            let out = try layerOutput(layer, value: c, training: true)
            let std = moments(out, centre: Double(c), tail: 1).variance.squareRoot()
            #expect(abs(std / (0.5 * Double(c)) - 1) < bound)
            #expect(abs(std / (0.5 * Double(c) * 1.05) - 1) > bound)  // negative control
        }
    }

    @Test func trainOnlyNoiseIsAbsentAtEvaluationAndFreshEachStep() throws {
        let layer = NoiseLayer(.gaussian, level: 0.5)
        #expect(try layerOutput(layer, value: 1, training: false).allSatisfy { $0 == 1 })
        let a = try layerOutput(layer, value: 1, training: true), b = try layerOutput(layer, value: 1, training: true)
        let c = try layerOutput(layer, value: 1, training: true, step: 1)
        #expect(a == b && a != c && a.contains { $0 != 1 })
        let always = NoiseLayer(.gaussian, level: 0.5, trainOnly: false)
        #expect(try layerOutput(always, value: 1, training: false).contains { $0 != 1 })
    }

    /// Exponential decay 0.5 at t = 2 and inverse decay 1 at t = 3 give σ/4: the output std says so.
    @Test(arguments: [(NoiseSchedule.exponential, 0.5, 2), (.inverse, 1.0, 3)])
    func scheduleScalesTheLevelOverTime(schedule: NoiseSchedule, decay: Double, t: Int) throws {
        let layer = NoiseLayer(.gaussian, level: 0.8, schedule: schedule, decay: decay)
        let out = try layerOutput(layer, value: 0, training: true, time: t)
        let std = moments(out, tail: 1).variance.squareRoot()
        let bound = 5 / (2 * 50_000.0).squareRoot()
        #expect(abs(std / 0.2 - 1) < bound)
        #expect(abs(std / 0.8 - 1) > bound)  // negative control: no decay
    }

    /// With `trainOnly: false` the noise is a fixed function at evaluation (same stream), so finite differences see
    /// x·m: the backward pass must multiply by the same m (and pass additive noise's gradient through).
    @Test(arguments: [NoiseDistribution.multiplicativeGaussian, .gaussian, .laplace])
    func noiseLayerGradientsMatchFiniteDifferences(law: NoiseDistribution) throws {
        expectGradientsMatchFiniteDifferences(try Network(inputShape: [6], layers: [
            Linear(6, 4), NoiseLayer(law, level: 0.3, trainOnly: false), Linear(4, 3),
        ]))
    }

    /// After a ReLU (whose backward reads its output, so `Workspace` cannot let the next layer overwrite it) a noise
    /// layer gets a buffer of its own: x̃ is written there from the ReLU's output in one pass, and additive noise's
    /// gradient is handed on without a `backward` call. The ReLU's mask must survive for the gradients to match.
    @Test(arguments: [NoiseDistribution.gaussian, .uniform, .multiplicativeGaussian])
    func noiseAfterAReLUHasItsOwnBufferAndRightGradients(law: NoiseDistribution) throws {
        let network = try Network(inputShape: [6], layers: [
            Linear(6, 5), ReLU(), NoiseLayer(law, level: 0.3, trainOnly: false), Linear(5, 3),
        ])
        #expect(NoiseLayer(law, level: 0.3).backwardIsIdentity == !law.isMultiplicative)
        expectGradientsMatchFiniteDifferences(network)
    }

    /// Relative parameter-vector noise is per layer: slices of RMS 1 and 10 get σ = λ and 10λ.
    @Test func relativeWeightNoiseIsPerLayer() {
        let half = 100_000
        let start = [Float](repeating: 1, count: half) + [Float](repeating: 10, count: half)
        var w = start
        let infusion = NoiseInfusion(mechanisms: [NoiseMechanism(site: .clientModel, level: 0.1, levelMode: .relative)])
        infusion.perturbClient(&w, start: start, ranges: [0..<half, half..<(2 * half)], key: StreamKey(seed: 3), time: 0)
        let bound = 5 / (2 * Double(half)).squareRoot()
        let s1 = moments(Array(w[..<half]), centre: 1, tail: 1).variance.squareRoot()
        let s2 = moments(Array(w[half...]), centre: 10, tail: 1).variance.squareRoot()
        #expect(abs(s1 / 0.1 - 1) < bound && abs(s2 / 1 - 1) < bound)
        #expect(abs(s2 / 0.1 - 1) > bound)  // negative control: one global σ
    }

    /// Client-update noise perturbs Δ = w_k − w_t relative to RMS(Δ), not to RMS(w).
    @Test func clientUpdateNoiseIsRelativeToTheUpdate() {
        let n = 100_000
        let start = [Float](repeating: 100, count: n)
        var w = [Float](repeating: 101, count: n)  // Δ = 1 everywhere
        let infusion = NoiseInfusion(mechanisms: [NoiseMechanism(site: .clientUpdate, level: 0.2, levelMode: .relative)])
        infusion.perturbClient(&w, start: start, ranges: [0..<n], key: StreamKey(seed: 4), time: 0)
        let std = moments(w, centre: 101, tail: 1).variance.squareRoot()
        #expect(abs(std / 0.2 - 1) < 5 / (2 * Double(n)).squareRoot())
    }

    /// Gradient noise: g̃ − g has std σ, and each step draws afresh.
    @Test func gradientTransformAddsFreshNoiseEachStep() throws {
        let net = try Network(inputShape: [1000], layers: [Linear(1000, 50)])
        let infusion = NoiseInfusion(mechanisms: [NoiseMechanism(site: .gradient, level: 0.3)])
        let transform = try #require(infusion.gradientTransform(network: net, key: StreamKey(seed: 9), time: 0))
        let p = [Float](repeating: 0, count: net.parameterCount)
        var g1 = [Float](repeating: 0, count: net.parameterCount), g2 = g1
        p.withUnsafeBufferPointer { pb in
            g1.withUnsafeMutableBufferPointer { transform(pb, $0) }
            g2.withUnsafeMutableBufferPointer { transform(pb, $0) }
        }
        let std = moments(g1, tail: 1).variance.squareRoot()
        #expect(abs(std / 0.3 - 1) < 5 / (2 * Double(g1.count)).squareRoot())
        #expect(g1 != g2)
    }

    /// M2 puts noise after the McMahan CNN's three ReLUs, `author` with σ 0.5, 0.3, 0.1, `keras` after the first
    /// only; the parameter count never changes.
    @Test func presetsInsertNoiseLayersWhereTheySay() throws {
        let cnn = try ModelKind.cnn.network(inputShape: [28, 28, 1], classes: 10)
        #expect(NoiseInfusion.hiddenActivations(cnn) == [1, 4, 8])
        func noiseLevels(_ preset: NoisePreset) throws -> [(Int, Float)] {
            let net = try NoiseInfusion(preset: preset).network(cnn)
            #expect(net.parameterCount == cnn.parameterCount)
            return net.layers.enumerated().compactMap { i, l in (l as? NoiseLayer).map { (i, $0.level) } }
        }
        #expect(try noiseLevels(.m2).map(\.0) == [2, 6, 11])
        #expect(try noiseLevels(.author).map(\.1) == [0.5, 0.3, 0.1])
        #expect(try noiseLevels(.keras).map(\.0) == [2])
        #expect(try noiseLevels(.m1).map(\.0) == [0])
        #expect(try noiseLevels(.m4).isEmpty)
        // A level override scales the depth profile: 0.25, 0.15, 0.05.
        let scaled = try NoiseInfusion(preset: .author, level: 0.25).network(cnn).layers.compactMap { $0 as? NoiseLayer }
        #expect(scaled.map(\.level) == [0.25, 0.15, 0.05].map { Float($0) })
    }

    @Test func invalidMechanismsAreRefusedNamingTheKeyPath() throws {
        func error(_ m: NoiseMechanism) -> String? {
            do {
                try NoiseInfusion(mechanisms: [m]).validate()
                return nil
            } catch {
                return error.keyPath
            }
        }
        #expect(error(NoiseMechanism(site: .activation, distribution: .saltAndPepper, level: 0.1))
                == "mechanisms[0].distribution")
        #expect(error(NoiseMechanism(site: .input, distribution: .saltAndPepper, level: 1.5)) == "mechanisms[0].level")
        #expect(error(NoiseMechanism(site: .gradient, level: -1)) == "mechanisms[0].level")
        #expect(error(NoiseMechanism(site: .gradient, distribution: .multiplicativeGaussian, level: 0.1,
                                     levelMode: .relative)) == "mechanisms[0].levelMode")
        #expect(error(NoiseMechanism(site: .input, level: 0.1, schedule: .exponential, decay: 1.5))
                == "mechanisms[0].decay")
        #expect(error(NoiseMechanism(site: .input, level: 0.1)) == nil)
        let cnn = try ModelKind.cnn.network(inputShape: [28, 28, 1], classes: 10)
        #expect(throws: NoiseInfusionError.self) {
            try NoiseInfusion(mechanisms: [NoiseMechanism(site: .activation, level: 0.1, afterLayers: [9])]).network(cnn)
        }
        let json = #"{"mechanisms": [{"site": "input", "level": 0.1, "sigma": 2}]}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(NoiseInfusion.self, from: Data(json.utf8)) }
        let ok = #"{"preset": "M3", "mechanisms": [{"site": "activation", "level": 0.2, "afterLayers": [1]}]}"#
        let decoded = try JSONDecoder().decode(NoiseInfusion.self, from: Data(ok.utf8))
        #expect(decoded.resolved.map(\.site) == [.gradient, .activation])
        #expect(decoded.privacyLine.contains("heuristic") && !decoded.privacyLine.contains("ε ="))
    }
}
