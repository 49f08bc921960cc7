// InitializationTests: each scheme's weight moments against its closed form, zero biases, and the default's stream.
import FedNN
import FedTensor
import Testing

@Suite("Weight initialisation schemes")
struct InitializationTests {
    /// (fan_in, fan_out, weight count, bias count) of the CNN's four weighted layers on MNIST, in layout order.
    static let cnnLayers = [(25, 800, 800, 32), (800, 1_600, 51_200, 64), (3_136, 512, 1_605_632, 512),
                            (512, 10, 5_120, 10)]

    /// Var w of each scheme in closed form: U(±b) has variance b²/3.
    static func variance(_ scheme: Initialization, fanIn: Int, fanOut: Int) -> Double {
        switch scheme {
        case .uniform: 1 / (3 * Double(fanIn))
        case .he: 2 / Double(fanIn)
        case .glorot: 2 / Double(fanIn + fanOut)
        }
    }

    /// The kurtosis κ decides the sample variance's spread: Var(s²)/σ⁴ ≈ (κ − 1)/n, with κ = 3 for a normal and
    /// 1.8 for a uniform distribution.
    static func kurtosis(_ scheme: Initialization) -> Double { scheme == .he ? 3 : 1.8 }

    @Test(arguments: Initialization.allCases)
    func weightMomentsMatchTheClosedForm(scheme: Initialization) throws {
        let net = try ModelKind.cnn.network(inputShape: [28, 28, 1], classes: 10)
        let p = net.initialParameters(key: StreamKey(seed: 11), scheme: scheme)
        #expect(p.count == 1_663_370)
        var offset = 0
        for (fanIn, fanOut, weights, biases) in Self.cnnLayers {
            let w = p[offset..<(offset + weights)].map(Double.init)
            let b = p[(offset + weights)..<(offset + weights + biases)]
            offset += weights + biases
            let n = Double(w.count)
            let mean = w.reduce(0, +) / n
            let sampleVariance = w.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
            let expected = Self.variance(scheme, fanIn: fanIn, fanOut: fanOut)
            // 5 standard errors: the mean's is √(σ²/n), the variance's σ²·√((κ−1)/n).
            #expect(abs(mean) < 5 * (expected / n).squareRoot(), "\(scheme) fan_in \(fanIn): mean \(mean)")
            let relative = abs(sampleVariance / expected - 1)
            #expect(relative < 5 * ((Self.kurtosis(scheme) - 1) / n).squareRoot(),
                    "\(scheme) fan_in \(fanIn): variance \(sampleVariance), expected \(expected)")
            switch scheme {
            case .uniform:
                let bound = 1 / Float(fanIn).squareRoot()
                #expect(w.allSatisfy { abs($0) <= Double(bound) })
                #expect(b.allSatisfy { abs($0) <= bound } && b.contains { $0 != 0 })
            case .glorot:
                let bound = (6 / Double(fanIn + fanOut)).squareRoot()
                #expect(w.allSatisfy { abs($0) <= bound * (1 + 1e-6) })
                #expect(b.allSatisfy { $0 == 0 })
            case .he:
                #expect(b.allSatisfy { $0 == 0 })
            }
        }
        #expect(offset == p.count)
    }

    @Test func uniformIsTheDefaultAndDrawsWeightsThenBiasesFromOneStreamPerLayer() throws {
        // Rebuilt by hand from the Philox stream: layer i draws from key.child(i), weights first, then biases.
        let net = try Network(inputShape: [4], layers: [Linear(4, 3), ReLU(), Linear(3, 2)])
        let key = StreamKey(seed: 5)
        let p = net.initialParameters(key: key)
        #expect(p == net.initialParameters(key: key, scheme: .uniform))
        var expected: [Float] = []
        for (layer, fanIn, count) in [(0, 4, 15), (2, 3, 8)] {
            var rng = Philox(key.child(UInt64(layer)))
            let bound = 1 / Float(fanIn).squareRoot()
            for _ in 0..<count { expected.append((rng.nextUniform() * 2 - 1) * bound) }
        }
        #expect(p == expected)
        #expect(p != net.initialParameters(key: key, scheme: .he))
    }

    @Test func schemeRoundTripsByName() throws {
        #expect(Initialization(rawValue: "he") == .he)
        #expect(Initialization.allCases.map(\.rawValue) == ["uniform", "he", "glorot"])
    }
}
