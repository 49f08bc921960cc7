// SGD: stochastic gradient descent with momentum and weight decay over the flat parameter vector.
import FedTensor

/// PyTorch's SGD: g ← g + λ·w; v ← μ·v + g (v₀ = g); w ← w − η·v (or w − η·(g + μ·v) with Nesterov).
public struct SGD: Sendable {
    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    public var nesterov: Bool
    private var velocity: [Float] = []

    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0, nesterov: Bool = false) {
        precondition(learningRate >= 0 && momentum >= 0 && weightDecay >= 0, "SGD settings must be non-negative")
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    /// Momentum 0 and weight decay 0: the step is w ← w − η·g, which layers can apply inside their backward pass
    /// (`Workspace.backwardAndStep`).
    public var isPlain: Bool { momentum == 0 && weightDecay == 0 }

    /// Clears the momentum buffer (e.g. when a client starts a new round from fresh global weights).
    public mutating func reset() { velocity = [] }

    /// One update of `parameters` with `gradient` (same length), in a single fused pass over the vectors.
    public mutating func step(parameters: inout [Float], gradient: UnsafeMutableBufferPointer<Float>) {
        precondition(parameters.count == gradient.count, "gradient length \(gradient.count) ≠ \(parameters.count)")
        let n = parameters.count
        let g = UnsafePointer(gradient.baseAddress!)
        let first = velocity.isEmpty
        if momentum != 0 && first { velocity = [Float](repeating: 0, count: n) }
        parameters.withUnsafeMutableBufferPointer { w in
            if momentum == 0 {
                sgdStepParallel(w.baseAddress!, g, velocity: nil, count: n, learningRate: learningRate, momentum: 0,
                        dampening: 0, weightDecay: weightDecay, nesterov: false)
            } else {
                velocity.withUnsafeMutableBufferPointer { v in
                    // PyTorch: the first step sets v = g (no dampening of the first gradient).
                    sgdStepParallel(w.baseAddress!, g, velocity: v.baseAddress!, count: n, learningRate: learningRate,
                            momentum: first ? 0 : momentum, dampening: 0, weightDecay: weightDecay,
                            nesterov: nesterov, nesterovMomentum: momentum)
                }
            }
        }
    }
}
