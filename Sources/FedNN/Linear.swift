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

    public func backward(_ c: BackwardContext, input: Shape) {
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
            if bias {
                (g + weights).update(repeating: 0, count: outputFeatures)
                accumulateColumnSums(c.outputGradient, into: g + weights, rows: c.batch, n: outputFeatures)
                sgdStep(u.parameters + weights, g + weights, velocity: nil, count: outputFeatures,
                        learningRate: u.learningRate, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false)
            }
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
