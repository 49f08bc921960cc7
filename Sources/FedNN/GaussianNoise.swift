// GaussianNoise: additive N(0, σ²) noise on activations during training only (Keras GaussianNoise semantics).
import FedTensor

/// y = x + σ·z with z ~ N(0, I) fresh at every training step; identity at inference. The gradient passes through
/// unchanged. Noise is drawn from the forward pass's `NoiseSource` (its key, refined by `stream` and the step
/// counter), so runs are reproducible. Heuristic regularisation ("noise infusion"), not differential privacy.
public struct GaussianNoise: Layer {
    public let std: Float
    /// Distinguishes several noise layers in one network.
    public let stream: UInt64

    public init(std: Float, stream: UInt64 = 0) {
        precondition(std >= 0, "noise std must be ≥ 0")
        self.std = std
        self.stream = stream
    }

    public var description: String { "GaussianNoise(σ = \(std))" }
    public var inPlace: InPlaceKind { .elementwise }
    public func outputShape(input: Shape) throws(ShapeError) -> Shape { input }

    public func forward(_ c: ForwardContext, input: Shape) {
        let n = c.batch * input.reduce(1, *)
        if c.output != UnsafeMutablePointer(mutating: c.input) { c.output.update(from: c.input, count: n) }
        guard c.training, std > 0 else { return }
        // Noise goes straight into the output: draw into it, then add the input back (no scratch buffer).
        let key = c.noise.key.child(0x6E6F_6973_65, stream, c.noise.step)
        if c.output == UnsafeMutablePointer(mutating: c.input) {
            var i = 0
            var chunk = [Float](repeating: 0, count: min(n, 4096))
            while i < n {
                let m = min(chunk.count, n - i)
                chunk.withUnsafeMutableBufferPointer { b in
                    fillGaussian(UnsafeMutableBufferPointer(rebasing: b[0..<m]), key: key, std: std,
                                 startIndex: UInt64(i))
                    axpy(1, b.baseAddress!, c.output + i, count: m)
                }
                i += m
            }
        } else {
            fillGaussian(UnsafeMutableBufferPointer(start: c.output, count: n), key: key, std: std)
            axpy(1, c.input, c.output, count: n)
        }
    }

    public func backward(_ c: BackwardContext, input: Shape) {
        guard let dx = c.inputGradient, dx != UnsafeMutablePointer(mutating: c.outputGradient) else { return }
        dx.update(from: c.outputGradient, count: c.batch * input.reduce(1, *))
    }
}
