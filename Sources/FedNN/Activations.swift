// Activations: element-wise ReLU, sigmoid and tanh layers, all computed in place.
import FedTensor

/// y = max(x, 0). Backward uses the output only, so it runs in place.
public struct ReLU: Layer {
    public init() {}
    public var description: String { "ReLU" }
    public var inPlace: InPlaceKind { .elementwise }
    public var backwardReadsOutput: Bool { true }
    public func outputShape(input: Shape) throws(ShapeError) -> Shape { input }

    public func forward(_ c: ForwardContext, input: Shape) {
        reluForward(c.input, c.output, count: c.batch * input.reduce(1, *))
    }

    public func backward(_ c: BackwardContext, input: Shape) {
        guard let dx = c.inputGradient else { return }
        reluBackward(output: c.output, c.outputGradient, dx, count: c.batch * input.reduce(1, *))
    }
}

/// y = 1/(1 + e^(−x)); dy/dx = y(1 − y). Used by the DLG reference LeNet.
public struct Sigmoid: Layer {
    public init() {}
    public var description: String { "Sigmoid" }
    public var inPlace: InPlaceKind { .elementwise }
    public var backwardReadsOutput: Bool { true }
    public func outputShape(input: Shape) throws(ShapeError) -> Shape { input }

    public func forward(_ c: ForwardContext, input: Shape) {
        sigmoidForward(c.input, c.output, count: c.batch * input.reduce(1, *))
    }

    public func backward(_ c: BackwardContext, input: Shape) {
        guard let dx = c.inputGradient else { return }
        sigmoidBackward(output: c.output, c.outputGradient, dx, count: c.batch * input.reduce(1, *))
    }
}

/// y = tanh(x); dy/dx = 1 − y². The bounded activation of the tempered-sigmoid CNNs that train well under DP-SGD
/// (Papernot et al. 2021, "Tempered Sigmoid Activations for Deep Learning with Differential Privacy", Sec. 4).
public struct Tanh: Layer {
    public init() {}
    public var description: String { "Tanh" }
    public var inPlace: InPlaceKind { .elementwise }
    public var backwardReadsOutput: Bool { true }
    public func outputShape(input: Shape) throws(ShapeError) -> Shape { input }

    public func forward(_ c: ForwardContext, input: Shape) {
        tanhForward(c.input, c.output, count: c.batch * input.reduce(1, *))
    }

    public func backward(_ c: BackwardContext, input: Shape) {
        guard let dx = c.inputGradient else { return }
        tanhBackward(output: c.output, c.outputGradient, dx, count: c.batch * input.reduce(1, *))
    }
}
