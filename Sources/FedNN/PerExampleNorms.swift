// PerExampleNorms: per-example gradient norms of a layer: the slow generic fallback and Linear's ghost norm.
import FedTensor

extension Layer {
    /// The generic fallback: for each example, a single-example `forward` and `backward` into private buffers, then
    /// ‖g_i‖². Correct for any layer whose gradient depends only on its own input and output gradient; costs one
    /// forward and backward per example plus allocations. Layers on hot paths override it.
    public func addPerExampleGradientNorms(_ c: BackwardContext, input: Shape,
                                           into norms: UnsafeMutablePointer<Double>) {
        let count = parameterCount(input: input)
        guard count > 0, c.batch > 0, let shape = try? outputShape(input: input) else { return }
        let inSize = input.reduce(1, *), outSize = shape.reduce(1, *)
        let output = UnsafeMutablePointer<Float>.allocate(capacity: max(outSize, 1))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(workspaceSize(input: input), 1))
        let gradient = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer {
            output.deallocate()
            scratch.deallocate()
            gradient.deallocate()
        }
        for i in 0..<c.batch {
            let x = c.input + i * inSize
            forward(ForwardContext(input: x, output: output, parameters: c.parameters, workspace: scratch, batch: 1,
                                   training: true, noise: .none), input: input)
            backward(BackwardContext(input: x, output: output, outputGradient: c.outputGradient + i * outSize,
                                     inputGradient: nil, parameters: c.parameters, parameterGradient: gradient,
                                     accumulate: false, workspace: scratch, batch: 1), input: input)
            norms[i] += sumOfSquares(gradient, count: count)
        }
    }
}

extension Linear {
    /// Ghost norm (Goodfellow 2015; Li et al. 2022, eq. 4; pitfalls §4): the example's weight gradient is the outer
    /// product δ_i a_iᵀ, so ‖∇W‖² = ‖a_i‖²·‖δ_i‖², and its bias gradient δ_i adds ‖δ_i‖². O(in + out) per example.
    public func addPerExampleGradientNorms(_ c: BackwardContext, input: Shape,
                                           into norms: UnsafeMutablePointer<Double>) {
        let extra = bias ? 1.0 : 0.0
        for i in 0..<c.batch {
            let a = sumOfSquares(c.input + i * inputFeatures, count: inputFeatures)
            let d = sumOfSquares(c.outputGradient + i * outputFeatures, count: outputFeatures)
            norms[i] += (a + extra) * d
        }
    }
}
