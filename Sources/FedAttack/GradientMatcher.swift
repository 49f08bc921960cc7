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
    /// Loss+gradient evaluations so far (each is 3 forward and 3 backward passes, 3E with `localSteps`).
    public private(set) var evaluations = 0
    /// E > 1: match an E-step update instead of one gradient (`localTrajectory`). ∂D/∂x then treats the
    /// trajectory w_0 … w_{E−1} as fixed, (1/E)·Σ_k J_x g(x, w_k)ᵀv, dropping the terms through dw_k/dx, which are
    /// O(η·k·‖∂²L/∂w²‖) smaller; D itself is exact.
    public var localSteps = 1
    public var localLearningRate: Float = 0

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
        let trajectory = localTrajectory(x, t)
        let g = trajectory.matched
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
        var dx = [Double](repeating: 0, count: n), dt = [Double](repeating: 0, count: t.count)
        let scale = norm / (2 * step) / Double(trajectory.points.count)
        let labelScale = -scale / Double(batch)
        var zPlus = [Float](repeating: 0, count: t.count), zMinus = zPlus
        for w in trajectory.points {  // frozen trajectory: (1/E)·Σ_k J_x g(x, w_k)ᵀ v
            for i in 0..<w.count {
                let d = step * direction[i] / norm
                plus[i] = Float(Double(w[i]) + d)
                minus[i] = Float(Double(w[i]) - d)
            }
            runForwardBackward(x, t, parameters: plus, wantParameters: false, logits: &zPlus)
            for i in 0..<n { dx[i] += Double(workspace.inputGradient[i]) * scale }
            runForwardBackward(x, t, parameters: minus, wantParameters: false, logits: &zMinus)
            for i in 0..<n { dx[i] -= Double(workspace.inputGradient[i]) * scale }
            for i in 0..<t.count { dt[i] += labelScale * (Double(zPlus[i]) - Double(zMinus[i])) }
        }
        return MatchingEvaluation(value: value, inputGradient: dx, targetGradient: dt)
    }

    /// The matched quantity and the parameters it was taken at: ∇_w L at w for one step; for `localSteps` E > 1 the
    /// client's own E full-batch SGD steps from w on the dummy batch, read as the server reads an update,
    /// −(w_E − w)/(E·η) (the same Float arithmetic as `Strategy.observedGradient`), with the points w_0 … w_{E−1}.
    private func localTrajectory(_ x: [Float], _ t: [Double]) -> (matched: [Float], points: [[Float]]) {
        runForwardBackward(x, t, parameters: parameters, wantParameters: true, logits: nil)
        guard localSteps > 1 else { return (Array(workspace.gradient), [parameters]) }
        var w = parameters, points: [[Float]] = []
        for k in 0..<localSteps {
            if k > 0 { runForwardBackward(x, t, parameters: w, wantParameters: true, logits: nil) }
            points.append(w)
            for i in w.indices { w[i] -= localLearningRate * workspace.gradient[i] }
        }
        let toGradient = -1 / (Double(localSteps) * Double(localLearningRate))
        let matched = (0..<w.count).map { Float(Double(w[$0] - parameters[$0]) * toGradient) }
        return (matched, points)
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
