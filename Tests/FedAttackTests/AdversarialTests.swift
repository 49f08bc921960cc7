// AdversarialTests: FGSM against its closed form on linear models, PGD's ball and box, PGD against FGSM on MNIST.
import FedAttack
import FedData
import FedNN
import FedTensor
import Foundation
import Testing

@Suite struct AdversarialTests {
    /// A logistic-regression network on d = 36 inputs with `classes` outputs, weights N(0, 1), inputs (pixels)
    /// U(0.2, 0.8) so that an ε ≤ 0.2 step never reaches the [0, 1] box.
    func linearProblem(classes: Int, batch: Int, seed: UInt64)
        throws -> (Network, [Float], pixels: [Float], labels: [Int32]) {
        let network = try ModelKind.logistic.network(inputShape: [6, 6, 1], classes: classes)
        var rng = Philox(StreamKey(seed: seed, 1))
        let parameters = (0..<network.parameterCount).map { _ in Float(rng.nextGaussian()) }
        let pixels = (0..<(batch * 36)).map { _ in 0.2 + 0.6 * rng.nextUniform() }
        let labels = (0..<batch).map { Int32($0 % classes) }
        return (network, parameters, pixels, labels)
    }

    /// Runs `attack` on the batch and returns the adversarial model inputs.
    func attacked(_ network: Network, _ parameters: [Float], inputs: [Float], labels: [Int32], pixels: PixelSpace,
                  attack: AdversarialAttack) -> (inputs: [Float], attacker: AdversarialAttacker) {
        let batch = labels.count
        let workspace = Workspace(network: network, capacity: batch)
        let attacker = AdversarialAttacker(network: network, workspace: workspace, pixels: pixels)
        workspace.input.update(from: inputs, count: inputs.count)
        let ids = Array(0..<batch)
        parameters.withUnsafeBufferPointer { p in
            attacker.perturb(parameters: p.baseAddress!, labels: labels, batch: batch, attack: attack, ids: ids,
                             restart: 0, key: StreamKey(seed: 5))
        }
        return (Array(UnsafeBufferPointer(start: workspace.input, count: inputs.count)), attacker)
    }

    /// Closed form in Float64 for z = Wx + b: ∇ₓℓ = Wᵀ(softmax(z) − e_y); FGSM moves each pixel by ε·sign(∇) (the
    /// model input is (p − m)/s, so the pixel gradient has the same sign) and clamps to [0, 1].
    func closedFormFGSM(_ parameters: [Float], pixels: [Float], labels: [Int32], classes: Int, epsilon: Double,
                        mean: Double, std: Double, flip: Bool = false) -> [Double] {
        let d = 36
        var out: [Double] = []
        for (r, y) in labels.enumerated() {
            let x = (0..<d).map { (Double(pixels[r * d + $0]) - mean) / std }
            let z = (0..<classes).map { j in
                (0..<d).reduce(Double(parameters[classes * d + j])) { $0 + Double(parameters[j * d + $1]) * x[$1] }
            }
            let zmax = z.max()!
            let e = z.map { exp($0 - zmax) }
            let s = e.reduce(0, +)
            for i in 0..<d {
                let g = (0..<classes).reduce(0.0) { $0 + Double(parameters[$1 * d + i]) * (e[$1] / s - ($1 == Int(y) ? 1 : 0)) }
                let sign: Double = (g > 0 ? 1 : (g < 0 ? -1 : 0)) * (flip ? -1 : 1)
                let p = min(max(Double(pixels[r * d + i]) + epsilon * sign, 0), 1)
                out.append((p - mean) / std)
            }
        }
        return out
    }

    @Test(arguments: [(0.0, 1.0), (0.1307, 0.3081)])
    func fgsmOnLinearModelMatchesClosedForm(mean: Double, std: Double) throws {
        let (network, parameters, pixels, labels) = try linearProblem(classes: 3, batch: 12, seed: 1)
        let space = PixelSpace(mean: [Float(mean)], std: [Float(std)])
        let inputs = pixels.map { Float((Double($0) - mean) / std) }
        for epsilon in [0.05, 0.3] {  // 0.3 reaches the [0, 1] clamp for some pixels
            let (x, _) = attacked(network, parameters, inputs: inputs, labels: labels, pixels: space,
                                  attack: .fgsm(epsilon: Float(epsilon)))
            let expected = closedFormFGSM(parameters, pixels: pixels, labels: labels, classes: 3, epsilon: epsilon,
                                          mean: mean, std: std)
            let worst = zip(x, expected).map { abs(Double($0) - $1) }.max()!
            // Float32 rounding of (p − m)/s and of x0 + δ/s: a few ulps of values ≤ 3.3.
            #expect(worst < 1e-5, "ε \(epsilon): max |x − closed form| = \(worst)")
            // Negative control: the descent direction (sign flipped) must be told apart.
            let flipped = closedFormFGSM(parameters, pixels: pixels, labels: labels, classes: 3, epsilon: epsilon,
                                         mean: mean, std: std, flip: true)
            #expect(zip(x, flipped).map { abs(Double($0) - $1) }.max()! > epsilon / std * 0.99)
        }
    }

    /// Two classes: ℓ depends on x only through the margin (w_y − w_o)·x, so the L∞ maximiser inside the ball (when
    /// the box does not bind) is the FGSM vertex, with ℓ* = log(1 + e^{−(margin − ε‖w_y − w_o‖₁)}). PGD from a random
    /// start must reach the same loss (α·k = 2.5ε ≥ 2ε covers the ball's diameter).
    @Test func pgdOnBinaryLinearModelReachesTheClosedFormMaximum() throws {
        let (network, parameters, pixels, labels) = try linearProblem(classes: 2, batch: 10, seed: 2)
        let eps: Float = 0.1
        let workspace = Workspace(network: network, capacity: 10)
        let attacker = AdversarialAttacker(network: network, workspace: workspace, pixels: .unit)
        let data = ArraySamples(pixels: pixels, labels: labels, sampleShape: [6, 6, 1], classCount: 2)
        var fgsm: [Double] = [], pgd: [Double] = []
        _ = attacker.evaluate(parameters: parameters, on: data, attack: .fgsm(epsilon: eps), key: StreamKey(seed: 3)) {
            fgsm.append($0.adversarialLoss)
        }
        _ = attacker.evaluate(parameters: parameters, on: data, attack: .pgd(epsilon: eps, steps: 10),
                              key: StreamKey(seed: 3)) { pgd.append($0.adversarialLoss) }
        for r in 0..<10 {
            let y = Int(labels[r]), o = 1 - y
            var margin = Double(parameters[72 + y] - parameters[72 + o]), l1 = 0.0
            for i in 0..<36 {
                let w = Double(parameters[y * 36 + i]) - Double(parameters[o * 36 + i])
                margin += w * Double(pixels[r * 36 + i])
                l1 += abs(w)
            }
            let best = log1p(exp(-(margin - Double(eps) * l1)))
            let clean = log1p(exp(-margin))
            #expect(abs(fgsm[r] - best) <= 1e-4 * max(1, best), "FGSM \(fgsm[r]) vs closed form \(best)")
            #expect(abs(pgd[r] - best) <= 1e-4 * max(1, best), "PGD \(pgd[r]) vs closed form \(best)")
            // Negative control: the attack moved the loss by more than the tolerance.
            #expect(best - clean > 1e-2 * max(1, best))
        }
    }

    /// Every PGD iterate ends inside the ε-ball around the ORIGINAL input and inside the pixel box, for both norms and
    /// a normalised input space; the attack uses its budget (some example reaches ≥ 0.9ε, so the check is not
    /// passed by δ = 0).
    @Test(arguments: AttackNorm.allCases)
    func pgdStaysInTheBallAndTheBox(norm: AttackNorm) throws {
        let network = try ModelKind.cnn.network(inputShape: [8, 8, 1], classes: 4)
        let parameters = network.initialParameters(key: StreamKey(seed: 4))
        var rng = Philox(StreamKey(seed: 4, 2))
        let batch = 6
        let pixels = (0..<(batch * 64)).map { _ in rng.nextUniform() < 0.3 ? 0 : rng.nextUniform() }
        let space = PixelSpace(mean: [0.1307], std: [0.3081])
        let inputs = pixels.map { ($0 - 0.1307) / 0.3081 }
        let eps: Float = norm == .linf ? 0.1 : 1.5
        let (x, attacker) = attacked(network, parameters, inputs: inputs, labels: (0..<batch).map { Int32($0 % 4) },
                                     pixels: space, attack: .pgd(norm, epsilon: eps, steps: 7, stepSize: eps / 3))
        var largest: Float = 0
        for r in 0..<batch {
            let delta = attacker.perturbation(example: r)
            let size: Float = norm == .linf ? delta.map { abs($0) }.max()!
                : delta.reduce(0) { $0 + $1 * $1 }.squareRoot()
            largest = max(largest, size)
            #expect(size <= eps * (1 + 1e-5), "example \(r): ‖δ‖ = \(size) > ε = \(eps)")
            for i in 0..<64 {
                let p = x[r * 64 + i] * 0.3081 + 0.1307
                #expect(p >= -1e-6 && p <= 1 + 1e-6, "pixel \(p) outside [0, 1]")
                #expect(abs(p - pixels[r * 64 + i] - delta[i]) < 1e-5)
            }
        }
        #expect(largest >= 0.9 * eps, "the attack never used its budget: largest ‖δ‖ \(largest)")
    }

    /// Per-example ∂ℓ/∂x of `lossAndInputGradient` against central differences of the same per-example loss, on
    /// the sigmoid LeNet at its DLG initialisation U(−0.5, 0.5) (smooth: no ReLU kink inside the difference step;
    /// large enough weights for gradients well above the differences' rounding).
    @Test func inputGradientMatchesFiniteDifferences() throws {
        let model = try AttackModel(imageShape: [8, 8, 1], classes: 3, key: StreamKey(seed: 6))
        let network = model.network, parameters = model.parameters
        var rng = Philox(StreamKey(seed: 6, 1))
        let x = (0..<128).map { _ in Float(rng.nextGaussian()) }
        let labels: [Int32] = [2, 0]
        let workspace = Workspace(network: network, capacity: 2)
        let attacker = AdversarialAttacker(network: network, workspace: workspace, pixels: .unit)
        func run(_ x: [Float], gradient: Bool) -> [Double] {
            workspace.input.update(from: x, count: 128)
            var losses = [0.0, 0.0], correct = [false, false]
            parameters.withUnsafeBufferPointer {
                attacker.lossAndInputGradient(parameters: $0.baseAddress!, labels: labels, batch: 2, gradient: gradient,
                                              losses: &losses, correct: &correct)
            }
            return losses
        }
        _ = run(x, gradient: true)
        let analytic = Array(UnsafeBufferPointer(start: workspace.inputGradient, count: 128))
        let h: Float = 1e-2
        var largest = 0.0
        for i in 0..<128 {
            var up = x, down = x
            up[i] += h
            down[i] -= h
            let numeric = (run(up, gradient: false)[i / 64] - run(down, gradient: false)[i / 64]) / (2 * Double(h))
            largest = max(largest, abs(numeric))
            // Float32 forward: the difference quotient carries ≈ 1e-7/h of rounding, plus O(h²) truncation.
            #expect(abs(numeric - Double(analytic[i])) <= 1e-3 * max(0.1, abs(numeric)),
                    "x[\(i)]: numeric \(numeric), analytic \(analytic[i])")
        }
        #expect(largest > 1e-3, "gradients too small for the check to mean anything")
    }
}
