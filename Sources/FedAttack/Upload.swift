// Upload: what the parameter server receives from the attacked client under each strategy, and the gradient it infers.
import FedNN
import FedPrivacy
import FedTensor

/// What the client sends, before any noise.
public enum UploadKind: Sendable, Equatable {
    /// ∇_w L on its batch (the DLG paper's setting).
    case gradient
    /// The update Δ = w_E − w after `steps` full-batch SGD steps at `learningRate` on its batch (E = 1: one step).
    case update(steps: Int, learningRate: Float)
}

/// The noise on an upload, in the update domain the server recovers (Δ̂ = u/p_k − w_t: it knows w_t and p_k).
public enum UploadNoise: Sendable, Equatable {
    /// FedAvg: none.
    case none
    /// DP-FedAvg (NISS Alg. 1): clip the upload to L2 ≤ `clip`, add N(0, σ_k²) in the p_k-weighted domain, so the
    /// server sees std σ_k/p_k per coordinate.
    case dp(clip: Double, sigma: Double, weight: Double)
    /// NISS (Alg. 2, spec B.3 correction, the runtime's share graph: each participant sends v shares and receives v).
    /// The upload's noise is Σᵢ nᵢ + Σⱼ sⱼ·rⱼ with nᵢ, rⱼ ~ N(0, σ_k²/v) and sⱼ ~ N(1, τ²). A fraction `rho` of the
    /// client's share partners collude: the server subtracts the ⌊ρv⌉ own shares it learns and the ⌊ρv⌉ received
    /// shares it learns (times E[s] = 1, since s is the client's secret).
    case niss(clip: Double, sigma: Double, weight: Double, tau2: Double, rho: Double, shares: Int)
}

/// One strategy the server attacks.
public struct Strategy: Sendable {
    public var name: String
    public var upload: UploadKind
    public var noise: UploadNoise

    public init(name: String, upload: UploadKind, noise: UploadNoise) {
        self.name = name
        self.upload = upload
        self.noise = noise
    }

    /// The per-coordinate std of the noise left in Δ̂ (in expectation over s; 0 for FedAvg).
    public var residualNoiseStd: Double {
        switch noise {
        case .none: return 0
        case let .dp(_, sigma, weight): return sigma / weight
        case let .niss(_, sigma, weight, tau2, rho, v):
            let k = Double((rho * Double(v)).rounded())
            let unit = sigma * sigma / Double(v)
            // unrevealed own + unrevealed received (each with E[s²] = 1 + τ²) + revealed received (s − 1)·r
            let variance = unit * ((Double(v) - k) + (Double(v) - k) * (1 + tau2) + k * tau2)
            return variance.squareRoot() / weight
        }
    }

    /// The gradient estimate the server derives from this client's upload: g itself, or −Δ̂/(E·η) for an update
    /// (exact for one step; for E > 1 steps on the same batch it is the mean gradient along the path, which the
    /// attack matches as if it were one gradient). `key` draws the noise.
    public func observedGradient(model: AttackModel, batch: ClientBatch, key: StreamKey) -> [Float] {
        let matcher = GradientMatcher(network: model.network, batch: batch.count, parameters: model.parameters,
                                      target: [Float](repeating: 0, count: model.parameters.count))
        let targets = batch.oneHot(classes: model.classes)
        var sent: [Float]
        var toGradient: Double = 1
        switch upload {
        case .gradient:
            sent = matcher.clientGradient(input: batch.images, targets: targets)
        case let .update(steps, lr):
            var w = model.parameters
            for _ in 0..<steps {
                let stepper = GradientMatcher(network: model.network, batch: batch.count, parameters: w,
                                              target: [Float](repeating: 0, count: w.count))
                let g = stepper.clientGradient(input: batch.images, targets: targets)
                for i in w.indices { w[i] -= lr * g[i] }
            }
            sent = (0..<w.count).map { w[$0] - model.parameters[$0] }
            toGradient = -1 / (Double(steps) * Double(lr))
        }
        switch noise {
        case .none: break
        case let .dp(clip, sigma, weight):
            Clipping.clip(&sent, maxNorm: clip)
            var rng = Philox(key.child(0))
            for i in sent.indices { sent[i] += Float(sigma * rng.nextGaussian() / weight) }
        case let .niss(clip, sigma, weight, tau2, rho, v):
            Clipping.clip(&sent, maxNorm: clip)
            let revealed = Int((rho * Double(v)).rounded())
            let unitStd = sigma / Double(v).squareRoot()
            var sRng = Philox(key.child(1))
            let s = (0..<v).map { _ in 1 + tau2.squareRoot() * sRng.nextGaussian() }
            var noise = [Double](repeating: 0, count: sent.count)
            for i in 0..<v {
                var own = Philox(key.child(2, UInt64(i))), received = Philox(key.child(3, UInt64(i)))
                for j in noise.indices {
                    let n = unitStd * own.nextGaussian(), r = unitStd * received.nextGaussian()
                    // What is left after the server subtracts what colluders revealed.
                    noise[j] += (i < revealed ? 0 : n) + (i < revealed ? (s[i] - 1) * r : s[i] * r)
                }
            }
            for j in sent.indices { sent[j] += Float(noise[j] / weight) }
        }
        return toGradient == 1 ? sent : sent.map { Float(Double($0) * toGradient) }
    }
}

/// iDLG (Zhao et al. 2020; pitfalls §2): for one sample, row i of the last layer's weight gradient is (p_i − y_i)·h
/// with h ≥ 0 after a sigmoid, so the true class is the row with the most negative sum.
public func inferLabelIDLG(gradient: [Float], model: AttackModel) -> Int32? {
    guard let (start, hidden) = model.lastWeightRange else { return nil }
    var best = 0, bestSum = Double.infinity
    for c in 0..<model.classes {
        var s = 0.0
        for j in 0..<hidden { s += Double(gradient[start + c * hidden + j]) }
        if s < bestSum { bestSum = s; best = c }
    }
    return Int32(best)
}
