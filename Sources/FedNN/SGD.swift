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

    /// Clears the momentum buffer (e.g. when a client starts a new round from fresh global weights).
    public mutating func reset() { velocity = [] }

    /// One update of `parameters` with `gradient` (same length). The gradient buffer is used as scratch.
    public mutating func step(parameters: inout [Float], gradient: UnsafeMutableBufferPointer<Float>) {
        precondition(parameters.count == gradient.count, "gradient length \(gradient.count) ≠ \(parameters.count)")
        let n = parameters.count
        let g = gradient.baseAddress!
        parameters.withUnsafeMutableBufferPointer { w in
            if weightDecay != 0 { axpy(weightDecay, w.baseAddress!, g, count: n) }
            guard momentum != 0 else {
                axpy(-learningRate, g, w.baseAddress!, count: n)
                return
            }
            if velocity.isEmpty {
                velocity = Array(UnsafeBufferPointer(gradient))
            } else {
                velocity.withUnsafeMutableBufferPointer { v in
                    scale(v.baseAddress!, by: momentum, count: n)
                    axpy(1, g, v.baseAddress!, count: n)
                }
            }
            velocity.withUnsafeBufferPointer { v in
                if nesterov {
                    axpy(momentum, v.baseAddress!, g, count: n)
                    axpy(-learningRate, g, w.baseAddress!, count: n)
                } else {
                    axpy(-learningRate, v.baseAddress!, w.baseAddress!, count: n)
                }
            }
        }
    }
}
