// Linear: a fully connected layer, y = x·Wᵀ + b.
import FedTensor

/// y = x·Wᵀ + b with W (out × in) and b (out), initialised by the network's `Initialization`
/// (default U(±1/√in), as in PyTorch).
/// Parameters are stored W (row-major) then b.
public struct Linear: Layer {
    public let inputFeatures: Int
    public let outputFeatures: Int
    public let bias: Bool

    public init(_ inputFeatures: Int, _ outputFeatures: Int, bias: Bool = true) {
        self.inputFeatures = inputFeatures
        self.outputFeatures = outputFeatures
        self.bias = bias
    }

    public var description: String { "Linear(\(inputFeatures) → \(outputFeatures))" }

    public func parameterCount(input: Shape) -> Int { outputFeatures * inputFeatures + (bias ? outputFeatures : 0) }

    public func outputShape(input: Shape) throws(ShapeError) -> Shape {
        guard input.reduce(1, *) == inputFeatures, input.count == 1 else {
            throw ShapeError("\(description) needs [\(inputFeatures)] inputs, got \(input)")
        }
        return [outputFeatures]
    }

    public func initialize(_ parameters: UnsafeMutableBufferPointer<Float>, input: Shape, scheme: Initialization,
                           rng: inout Philox) {
        let w = outputFeatures * inputFeatures
        scheme.fill(weights: UnsafeMutableBufferPointer(rebasing: parameters[..<w]),
                    biases: UnsafeMutableBufferPointer(rebasing: parameters[w...]),
                    fanIn: inputFeatures, fanOut: outputFeatures, rng: &rng)
    }

    public func forward(_ c: ForwardContext, input: Shape) {
        let w = c.parameters
        gemm(.none, .transposed, m: c.batch, n: outputFeatures, k: inputFeatures,
             a: c.input, lda: inputFeatures, b: w, ldb: inputFeatures, c: c.output, ldc: outputFeatures)
        if bias { addRowVector(w + outputFeatures * inputFeatures, to: c.output, rows: c.batch, n: outputFeatures) }
    }

    public var supportsFusedUpdate: Bool { true }

    /// Weights from this many floats up are updated panel by panel with dX (`backward`): four times a 1 MiB L2.
    static let panelledUpdateFloats = 1 << 20

    public func backward(_ c: BackwardContext, input: Shape) {
        if let dx = c.inputGradient, let u = c.fusedUpdate, c.parameterGradient != nil,
           outputFeatures * inputFeatures >= Self.panelledUpdateFloats {
            panelledBackward(c, dx: dx, update: u)
            return
        }
        // dX first: a fused update below overwrites W.
        if let dx = c.inputGradient {
            gemm(.none, .none, m: c.batch, n: inputFeatures, k: outputFeatures,
                 a: c.outputGradient, lda: outputFeatures, b: c.parameters, ldb: inputFeatures,
                 c: dx, ldc: inputFeatures)
        }
        guard let g = c.parameterGradient else { return }
        let weights = outputFeatures * inputFeatures
        if let u = c.fusedUpdate {
            // W ← W − η·dYᵀ·X straight into the weights: no gradient write, no second pass over W.
            gemm(.transposed, .none, m: outputFeatures, n: inputFeatures, k: c.batch, alpha: -u.learningRate,
                 a: c.outputGradient, lda: outputFeatures, b: c.input, ldb: inputFeatures,
                 beta: 1, c: u.parameters, ldc: inputFeatures)
            fusedBiasStep(c, update: u)
            return
        }
        // dW (+)= dYᵀ·X ; db (+)= Σ_rows dY
        gemm(.transposed, .none, m: outputFeatures, n: inputFeatures, k: c.batch,
             a: c.outputGradient, lda: outputFeatures, b: c.input, ldb: inputFeatures,
             beta: c.accumulate ? 1 : 0, c: g, ldc: inputFeatures)
        if bias {
            if !c.accumulate { (g + weights).update(repeating: 0, count: outputFeatures) }
            accumulateColumnSums(c.outputGradient, into: g + weights, rows: c.batch, n: outputFeatures)
        }
    }
}

extension Linear {
    /// `backward` with a fused update for a large W: dX = dY·W and W ← W − η·dYᵀ·X over one column panel of W at
    /// a time (256 columns, 512 KB of a 3136 → 512 layer), dX's columns from the panel's old values and then the
    /// panel updated while it is in L2, so that W comes from memory once a step instead of twice. Each panel is a
    /// GEMM over whole K, so every element gets the bits of the two whole products (GEMM tilings never change a
    /// result); panels are split over the compute threads.
    func panelledBackward(_ c: BackwardContext, dx: UnsafeMutablePointer<Float>, update u: FusedUpdate) {
        let panel = 256, panels = (inputFeatures + panel - 1) / panel
        let flops = 4.0 * Double(c.batch) * Double(outputFeatures) * Double(inputFeatures)
        let workers = flops >= 2e7 ? min(panels, ComputeThreads.count) : 1
        nonisolated(unsafe) let dy = c.outputGradient, x = c.input, w = c.parameters, dx = dx
        let batch = c.batch, out = outputFeatures, inputs = inputFeatures
        parallelFor(workers, threads: workers) { worker in
            ComputeThreads.$taskLimit.withValue(1) {
                for q in (panels * worker / workers)..<(panels * (worker + 1) / workers) {
                    let j0 = q * panel, width = min(panel, inputs - j0)
                    gemm(.none, .none, m: batch, n: width, k: out, a: dy, lda: out, b: w + j0, ldb: inputs,
                         c: dx + j0, ldc: inputs)
                    gemm(.transposed, .none, m: out, n: width, k: batch, alpha: -u.learningRate, a: dy, lda: out,
                         b: x + j0, ldb: inputs, beta: 1, c: u.parameters + j0, ldc: inputs)
                }
            }
        }
        fusedBiasStep(c, update: u)
    }

    /// The bias's part of a fused update: db = Σ_rows dY into the gradient's bias slice, then b ← b − η·db.
    func fusedBiasStep(_ c: BackwardContext, update u: FusedUpdate) {
        guard bias, let g = c.parameterGradient else { return }
        let weights = outputFeatures * inputFeatures
        (g + weights).update(repeating: 0, count: outputFeatures)
        accumulateColumnSums(c.outputGradient, into: g + weights, rows: c.batch, n: outputFeatures)
        sgdStep(u.parameters + weights, g + weights, velocity: nil, count: outputFeatures,
                learningRate: u.learningRate, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false)
    }
}
