// GradientMatcher: the DLG objective D = dist(∇_w L(x, t; w), g*) and its gradients in the dummy input and label.
import FedNN
import FedTensor

/// How the dummy gradient is compared with the observed one.
public enum MatchingDistance: String, Sendable, Codable, CaseIterable {
    /// D = Σ_i (g_i − g*_i)², summed over every parameter (Zhu et al. 2019, `main.py`; pitfalls §1.4).
    case l2
    /// D = 1 − ⟨g, g*⟩ / (‖g‖·‖g*‖) over all parameters concatenated (Geiping et al. 2020; pitfalls §5).
    case cosine
}

/// One evaluation of the matching objective.
public struct MatchingEvaluation {
    /// D.
    public var value: Double
    /// ∂D/∂x, sample-major like the input.
    public var inputGradient: [Double]
    /// ∂D/∂t (batch × classes): how D changes with the soft target probabilities.
    public var targetGradient: [Double]
}

/// Evaluates the gradient-matching distance of a dummy batch and its gradient, with first-order backprop only.
///
/// The client loss is the batch mean of the soft-label cross-entropy Σ_c −t_c·log softmax(z)_c (`main.py`), so
/// g(x, t) = ∇_w L has ∂L/∂z_b = (softmax(z_b) − t_b)/B. With v = ∂D/∂g held fixed,
/// ∂D/∂x = ∇_x⟨∇_w L(x, w), v⟩ = d/dε ∇_x L(x, w + εv)|₀ (symmetry of mixed partials), computed by the central
/// difference ‖v‖·[∇_x L(x, w + h·v̂) − ∇_x L(x, w − h·v̂)]/(2h) with v̂ = v/‖v‖: two input-gradient passes.
/// The label part is exact up to the same difference: g is affine in t with ∂g/∂t_b = −J_bᵀ/B (J_b = ∂z_b/∂w), so
/// ∂D/∂t_b = −(J_b·v)/B = −‖v‖·[z_b(w + h·v̂) − z_b(w − h·v̂)]/(2hB), from the logits of the same two passes.
///
/// **Choice of h.** The difference's error is ≈ u·κ·‖∇_x L‖/h (Float32 rounding, u = 2⁻²⁴, κ the rounding growth of
/// one backward pass) plus h²·‖f‴‖/6 (truncation). Scaling v to unit norm makes both terms independent of how close
/// the match is (‖v‖ → 0 as D → 0 would otherwise push w ± h·v into the rounding of w itself); on the sigmoid LeNet
/// with U(−0.5, 0.5) weights, κ ~ 10² and ‖f‴‖ ~ ‖f‖ give h* = (3uκ)^{1/3} ≈ 1e-2 and relative error ≈ 1e-4.
/// `MixedDerivativeTests` sweeps h against finite differences in x and pins the default.
public final class GradientMatcher {
    public let network: Network
    public let batch: Int
    public let classes: Int
    /// w: the parameters the client's gradient was taken at.
    public let parameters: [Float]
    /// g*: the observed gradient.
    public let target: [Float]
    public let distance: MatchingDistance
    /// h of the central difference along the unit direction v̂.
    public var step: Double
    /// Loss+gradient evaluations so far (each is 3 forward and 3 backward passes).
    public private(set) var evaluations = 0

    private let workspace: Workspace
    private var plus: [Float], minus: [Float]
    private var direction: [Double]
    private let targetNorm: Double

    public static let defaultStep = 1e-2

    public init(network: Network, batch: Int, parameters: [Float], target: [Float], distance: MatchingDistance = .l2,
                step: Double = GradientMatcher.defaultStep) {
        precondition(parameters.count == network.parameterCount && target.count == network.parameterCount,
                     "parameters and target gradient must have the model's \(network.parameterCount) values")
        self.network = network
        self.batch = batch
        self.classes = network.outputSize
        self.parameters = parameters
        self.target = target
        self.distance = distance
        self.step = step
        self.workspace = Workspace(network: network, capacity: batch)
        self.plus = parameters
        self.minus = parameters
        self.direction = [Double](repeating: 0, count: parameters.count)
        var n = 0.0
        for t in target { n += Double(t) * Double(t) }
        self.targetNorm = n.squareRoot()
    }

    /// The client's gradient ∇_w L(x, t; w) for a batch `x` (batch × inputSize, NHWC per sample) and soft targets
    /// `t` (batch × classes, rows summing to 1).
    public func clientGradient(input x: [Float], targets t: [Double]) -> [Float] {
        runForwardBackward(x, t, parameters: parameters, wantParameters: true, logits: nil)
        return Array(workspace.gradient)
    }

    /// D(x, t) and its gradients in x and t.
    public func evaluate(input x: [Float], targets t: [Double]) -> MatchingEvaluation {
        precondition(x.count == batch * network.inputSize && t.count == batch * classes, "dummy batch size mismatch")
        evaluations += 1
        runForwardBackward(x, t, parameters: parameters, wantParameters: true, logits: nil)
        let g = UnsafeBufferPointer(workspace.gradient)
        // v = ∂D/∂g
        var value = 0.0
        switch distance {
        case .l2:
            for i in 0..<g.count {
                let r = Double(g[i]) - Double(target[i])
                value += r * r
                direction[i] = 2 * r
            }
        case .cosine:
            var dot = 0.0, gg = 0.0
            for i in 0..<g.count {
                dot += Double(g[i]) * Double(target[i])
                gg += Double(g[i]) * Double(g[i])
            }
            let gn = max(gg.squareRoot(), 1e-30), tn = max(targetNorm, 1e-30)
            value = 1 - dot / (gn * tn)
            for i in 0..<g.count {
                direction[i] = -(Double(target[i]) / (gn * tn) - dot * Double(g[i]) / (gn * gn * gn * tn))
            }
        }
        var norm = 0.0
        for d in direction { norm += d * d }
        norm = norm.squareRoot()
        let n = network.inputSize * batch
        guard norm > 0, norm.isFinite else {
            return MatchingEvaluation(value: value, inputGradient: [Double](repeating: 0, count: n),
                                      targetGradient: [Double](repeating: 0, count: t.count))
        }
        for i in 0..<parameters.count {
            let d = step * direction[i] / norm
            plus[i] = Float(Double(parameters[i]) + d)
            minus[i] = Float(Double(parameters[i]) - d)
        }
        var zPlus = [Float](repeating: 0, count: t.count), zMinus = zPlus
        runForwardBackward(x, t, parameters: plus, wantParameters: false, logits: &zPlus)
        var dx = (0..<n).map { Double(workspace.inputGradient[$0]) }
        runForwardBackward(x, t, parameters: minus, wantParameters: false, logits: &zMinus)
        let scale = norm / (2 * step)
        for i in 0..<n { dx[i] = (dx[i] - Double(workspace.inputGradient[i])) * scale }
        let labelScale = -scale / Double(batch)
        let dt = (0..<t.count).map { labelScale * (Double(zPlus[$0]) - Double(zMinus[$0])) }
        return MatchingEvaluation(value: value, inputGradient: dx, targetGradient: dt)
    }

    /// Forward at `parameters`, then backward of the soft-label loss: into `workspace.gradient` (wantParameters) or
    /// only to the input gradient. Copies the logits out when asked.
    private func runForwardBackward(_ x: [Float], _ t: [Double], parameters p: [Float], wantParameters: Bool,
                                    logits: UnsafeMutablePointer<[Float]>?) {
        x.withUnsafeBufferPointer { workspace.input.update(from: $0.baseAddress!, count: x.count) }
        p.withUnsafeBufferPointer { pp in
            workspace.forward(parameters: pp.baseAddress!, batch: batch, training: false)
            let z = workspace.output
            if let logits { for i in 0..<(batch * classes) { logits.pointee[i] = z[i] } }
            var dz = [Float](repeating: 0, count: batch * classes)
            softLabelCrossEntropyGradient(logits: z, targets: t, batch: batch, classes: classes, into: &dz)
            dz.withUnsafeBufferPointer { d in
                if wantParameters {
                    workspace.backward(parameters: pp.baseAddress!, outputGradient: d.baseAddress!, batch: batch,
                                       accumulate: false)
                } else {
                    workspace.backward(parameters: pp.baseAddress!, outputGradient: d.baseAddress!, batch: batch,
                                       frozen: Set(network.layers.indices), inputGradient: true)
                }
            }
        }
    }
}

/// ∂/∂z of the batch-mean soft-label cross-entropy: (softmax(z_b) − t_b)/B, in Double then rounded.
/// Returns the mean loss.
@discardableResult
public func softLabelCrossEntropyGradient(logits z: UnsafePointer<Float>, targets t: [Double], batch: Int,
                                          classes: Int, into dz: inout [Float]) -> Double {
    var loss = 0.0
    for b in 0..<batch {
        let row = z + b * classes
        var m = Double(row[0])
        for c in 1..<classes { m = max(m, Double(row[c])) }
        var sum = 0.0
        for c in 0..<classes { sum += exp(Double(row[c]) - m) }
        let logSum = log(sum)
        for c in 0..<classes {
            let logP = Double(row[c]) - m - logSum
            loss -= t[b * classes + c] * logP
            dz[b * classes + c] = Float((exp(logP) - t[b * classes + c]) / Double(batch))
        }
    }
    return loss / Double(batch)
}

/// softmax of each row of `logits` (batch × classes).
public func softmaxRows(_ logits: [Double], classes: Int) -> [Double] {
    var out = logits
    for b in 0..<(logits.count / classes) {
        let r = b * classes..<(b + 1) * classes
        let m = logits[r].max()!
        var s = 0.0
        for i in r { out[i] = exp(logits[i] - m); s += out[i] }
        for i in r { out[i] /= s }
    }
    return out
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
