// AdversarialAttack: FGSM and PGD (L∞ and L2) input perturbations of any Network, in pixel units.
import FedNN
import FedTensor

/// Where an attack's budget lives. Models see normalised inputs x = (p − mean_c)/std_c of pixels p ∈ [lower, upper]
/// (channel c = element index mod channels, NHWC); ε and α are in pixel units and the box clamp is on p
/// (pitfalls-dpsgd-attacks §7: "attack in raw [0,1] pixel space").
public struct PixelSpace: Sendable, Equatable {
    /// One value, or one per channel.
    public var mean: [Float]
    public var std: [Float]
    public var lower: Float
    public var upper: Float

    public init(mean: [Float] = [0], std: [Float] = [1], lower: Float = 0, upper: Float = 1) {
        precondition(!mean.isEmpty && !std.isEmpty && std.allSatisfy { $0 > 0 }, "PixelSpace: bad mean or std")
        precondition(lower <= upper, "PixelSpace: lower > upper")
        self.mean = mean
        self.std = std
        self.lower = lower
        self.upper = upper
    }

    /// Inputs that are pixels already, in [0, 1].
    public static let unit = PixelSpace()

    @inline(__always) func channel(_ i: Int, _ list: [Float]) -> Float { list.count == 1 ? list[0] : list[i % list.count] }
}

/// The norm of the perturbation budget.
public enum AttackNorm: String, Sendable, Codable, CaseIterable {
    case linf
    case l2
}

/// FGSM or PGD (Madry et al. 2018) with the settings of pitfalls-dpsgd-attacks §7: optional uniform random start
/// inside the ε-ball, `steps` steps of size α (L∞: α·sign(∇ₓℓ) with sign(0) = 0; L2: α·∇/‖∇‖ per example), each
/// followed by projection onto the ε-ball around the ORIGINAL input and a clamp to the valid pixel range. The loss is
/// softmax cross-entropy on the logits against the true labels; the network runs in evaluation mode and no parameter
/// gradient is formed (every layer frozen). FGSM is one step of size ε without random start (L2: the "fast gradient
/// method" x + ε∇/‖∇‖).
public struct AdversarialAttack: Sendable, Equatable, CustomStringConvertible {
    public var norm: AttackNorm
    /// Budget ε ≥ 0, pixel units.
    public var epsilon: Float
    /// Step α ≥ 0, pixel units.
    public var stepSize: Float
    public var steps: Int
    public var randomStart: Bool
    /// Independent random starts; an example counts as robust only if it survives every one (per-example worst case).
    public var restarts: Int

    public init(norm: AttackNorm, epsilon: Float, stepSize: Float, steps: Int, randomStart: Bool = true,
                restarts: Int = 1) {
        precondition(epsilon >= 0 && stepSize >= 0 && steps >= 0 && restarts >= 1, "AdversarialAttack: bad settings")
        self.norm = norm
        self.epsilon = epsilon
        self.stepSize = stepSize
        self.steps = steps
        self.randomStart = randomStart
        self.restarts = restarts
    }

    /// FGSM (L∞) or FGM (L2): one step of size ε from the clean input.
    public static func fgsm(_ norm: AttackNorm = .linf, epsilon: Float) -> AdversarialAttack {
        AdversarialAttack(norm: norm, epsilon: epsilon, stepSize: epsilon, steps: 1, randomStart: false)
    }

    /// PGD-k; α defaults to ε/4 (spec C.2: α = ε_adv/4 for 10 steps).
    public static func pgd(_ norm: AttackNorm = .linf, epsilon: Float, steps: Int = 10, stepSize: Float? = nil,
                           randomStart: Bool = true, restarts: Int = 1) -> AdversarialAttack {
        AdversarialAttack(norm: norm, epsilon: epsilon, stepSize: stepSize ?? epsilon / 4, steps: steps,
                          randomStart: randomStart, restarts: restarts)
    }

    public var description: String {
        let kind = steps == 1 && !randomStart && stepSize == epsilon ? "FGSM" : "PGD-\(steps)"
        return "\(kind) \(norm == .linf ? "L∞" : "L2") ε=\(epsilon) α=\(stepSize)"
            + (randomStart ? " random start" : "") + (restarts > 1 ? " ×\(restarts) restarts" : "")
    }
}

/// Runs attacks on batches placed in a `Workspace`. Holds the per-batch buffers (δ, its bounds, the clean inputs),
/// sized for the workspace's capacity; not thread-safe.
public final class AdversarialAttacker {
    public let network: Network
    public let workspace: Workspace
    public let pixels: PixelSpace
    let frozen: Set<Int>
    // capacity × inputSize each: clean inputs (model units), δ and its per-coordinate bounds (pixel units).
    let clean, delta, low, high: UnsafeMutablePointer<Float>
    let inverseStd: UnsafeMutablePointer<Float>

    public init(network: Network, workspace: Workspace, pixels: PixelSpace) {
        precondition(workspace.network.parameterCount == network.parameterCount, "workspace of another network")
        self.network = network
        self.workspace = workspace
        self.pixels = pixels
        frozen = Set(network.layers.indices)
        let n = workspace.capacity * network.inputSize
        func allocate(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        (clean, delta, low, high) = (allocate(n), allocate(n), allocate(n), allocate(n))
        inverseStd = allocate(network.inputSize)
        for c in 0..<network.inputSize { inverseStd[c] = 1 / pixels.channel(c, pixels.std) }
    }

    deinit {
        for p in [clean, delta, low, high, inverseStd] { p.deallocate() }
    }

    /// Per-example cross-entropy and correctness of `batch` inputs already in `workspace.input`; with `gradient`,
    /// ∂ℓ_i/∂x (model units, per example, not divided by the batch) is left in `workspace.inputGradient`.
    public func lossAndInputGradient(parameters: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int,
                                     gradient: Bool, losses: UnsafeMutablePointer<Double>,
                                     correct: UnsafeMutablePointer<Bool>) {
        workspace.forward(parameters: parameters, batch: batch, training: false)
        let k = network.outputSize
        for r in 0..<batch {
            // One row at a time: the loss of example r alone, its gradient unscaled (it may alias the logits).
            let row = workspace.output + r * k
            let result = softmaxCrossEntropy(logits: row, labels: labels + r, batch: 1, classes: k,
                                             gradient: gradient ? row : nil)
            losses[r] = result.lossSum
            correct[r] = result.correct == 1
        }
        if gradient {
            workspace.backward(parameters: parameters, outputGradient: workspace.output, batch: batch, frozen: frozen,
                               inputGradient: true)
        }
    }

    /// Replaces the clean batch in `workspace.input` (model units) by its adversarial version under `attack`,
    /// restart `restart`; the random start of example r draws from `key.child(ids[r], restart)`, so results do not
    /// depend on how examples are batched. Ends with `workspace.input` holding the perturbed inputs (not yet
    /// evaluated).
    public func perturb(parameters: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int,
                        attack: AdversarialAttack, ids: UnsafePointer<Int>, restart: Int, key: StreamKey) {
        let d = network.inputSize, n = batch * d
        let x = workspace.input
        var losses = [Double](repeating: 0, count: batch)
        var correct = [Bool](repeating: false, count: batch)
        clean.update(from: x, count: n)
        // δ (pixel units) must keep p0 + δ in [lower, upper] (p0 clamped there, so δ = 0 is always feasible and
        // ε = 0 gives the clean input bit for bit) and, for L∞, in [−ε, ε].
        let eps = attack.epsilon
        let linf = attack.norm == .linf
        for i in 0..<n {
            let c = i % d
            let p0 = min(max(clean[i] * pixels.channel(c, pixels.std) + pixels.channel(c, pixels.mean),
                             pixels.lower), pixels.upper)
            low[i] = linf ? max(-eps, pixels.lower - p0) : pixels.lower - p0
            high[i] = linf ? min(eps, pixels.upper - p0) : pixels.upper - p0
            delta[i] = 0
        }
        if attack.randomStart && eps > 0 {
            for r in 0..<batch {
                var rng = Philox(key.child(UInt64(ids[r]), UInt64(restart)))
                randomStart(r * d, d, attack, &rng)
            }
        }
        for _ in 0..<attack.steps {
            apply(batch: batch)
            lossAndInputGradient(parameters: parameters, labels: labels, batch: batch, gradient: true,
                                 losses: &losses, correct: &correct)
            for r in 0..<batch { step(r * d, d, attack) }
        }
        apply(batch: batch)
    }

    /// workspace.input = x0 + δ / std.
    func apply(batch: Int) {
        let d = network.inputSize, x = workspace.input
        for i in 0..<(batch * d) { x[i] = clean[i] + delta[i] * inverseStd[i % d] }
    }

    /// Uniform in the L∞ box, or uniform in the volume of the L2 ball (Gaussian direction, radius ε·u^{1/D}), then
    /// clamped to the pixel range.
    func randomStart(_ start: Int, _ d: Int, _ attack: AdversarialAttack, _ rng: inout Philox) {
        let eps = attack.epsilon
        switch attack.norm {
        case .linf:
            for i in start..<(start + d) { delta[i] = Float((2 * Double(rng.nextUniform()) - 1) * Double(eps)) }
        case .l2:
            var norm2 = 0.0
            var g = [Double](repeating: 0, count: d)
            for j in 0..<d {
                g[j] = rng.nextGaussian()
                norm2 += g[j] * g[j]
            }
            let u = RandomDraws.uniformOpen(using: &rng)
            let radius = Double(eps) * pow(u, 1 / Double(d))
            let scale = norm2 > 0 ? radius / norm2.squareRoot() : 0
            for j in 0..<d { delta[start + j] = Float(g[j] * scale) }
        }
        for i in start..<(start + d) { delta[i] = min(max(delta[i], low[i]), high[i]) }
    }

    /// One ascent step on example starting at `start`, then projection and clamp.
    func step(_ start: Int, _ d: Int, _ attack: AdversarialAttack) {
        let g = workspace.inputGradient
        let alpha = attack.stepSize
        switch attack.norm {
        case .linf:
            for i in start..<(start + d) {
                let v = g[i]
                let s: Float = v > 0 ? 1 : (v < 0 ? -1 : 0)  // PyTorch's sign: 0 ↦ 0
                delta[i] = min(max(delta[i] + alpha * s, low[i]), high[i])
            }
        case .l2:
            // Gradient in pixel units: ∂ℓ/∂p = ∂ℓ/∂x / std.
            var norm2 = 0.0
            for i in start..<(start + d) {
                let v = Double(g[i] * inverseStd[i % d])
                norm2 += v * v
            }
            if norm2 > 0 {
                let scale = Double(alpha) / norm2.squareRoot()
                for i in start..<(start + d) { delta[i] += Float(Double(g[i] * inverseStd[i % d]) * scale) }
            }
            var dn = 0.0
            for i in start..<(start + d) { dn += Double(delta[i]) * Double(delta[i]) }
            let shrink = dn > 0 ? min(1, Double(attack.epsilon) / dn.squareRoot()) : 1
            // The box clamp only moves each coordinate toward 0, so it keeps δ inside the ball.
            for i in start..<(start + d) { delta[i] = min(max(Float(Double(delta[i]) * shrink), low[i]), high[i]) }
        }
    }

    /// The current perturbation of example r in pixel units (what the ε-ball bounds).
    public func perturbation(example r: Int) -> [Float] {
        let d = network.inputSize
        return Array(UnsafeBufferPointer(start: delta + r * d, count: d))
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
