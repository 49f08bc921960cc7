// Dropout: inverted dropout (Srivastava et al. 2014): zero each unit with probability p while training.
import FedTensor

/// y = x·mask/(1 − p) with mask ~ Bernoulli(1 − p) fresh at every training step; identity at evaluation
/// (PyTorch's `nn.Dropout`). The mask comes from the forward pass's `NoiseSource` (`key.child(tag, stream,
/// step)`), so a seeded run is bit-identical whatever the thread count, and is kept for the backward pass.
public struct Dropout: Layer {
    public let rate: Float
    public let stream: UInt64
    static let tag: UInt64 = 0x6472_6F70  // "drop"

    public init(_ rate: Float, stream: UInt64 = 0) {
        precondition(rate >= 0 && rate < 1, "dropout rate must be in [0, 1)")
        self.rate = rate
        self.stream = stream
    }

    public var description: String { "Dropout(\(rate))" }
    public var inPlace: InPlaceKind { .elementwise }
    public func outputShape(input: Shape) throws(ShapeError) -> Shape { input }
    /// The scaled mask, 0 or 1/(1 − p), per element.
    public func workspaceSize(input: Shape) -> Int { input.reduce(1, *) }

    public func forward(_ c: ForwardContext, input: Shape) {
        let n = c.batch * input.reduce(1, *)
        let mask = c.workspace
        guard c.training, rate > 0 else {
            if c.output != UnsafeMutablePointer(mutating: c.input) { c.output.update(from: c.input, count: n) }
            mask.update(repeating: 1, count: n)
            return
        }
        fillUniform(UnsafeMutableBufferPointer(start: mask, count: n), key: c.noise.key.child(Self.tag, stream, c.noise.step))
        let keep = 1 / (1 - rate)
        for i in 0..<n {
            mask[i] = mask[i] < rate ? 0 : keep
            c.output[i] = c.input[i] * mask[i]
        }
    }

    public func backward(_ c: BackwardContext, input: Shape) {
        guard let dx = c.inputGradient else { return }
        for i in 0..<(c.batch * input.reduce(1, *)) { dx[i] = c.outputGradient[i] * c.workspace[i] }
    }
}
