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

    /// The update of `step(parameters:gradient:)`, bit for bit, made block by block: `prepare(block)` runs just
    /// before a block's update and may rewrite that block of `gradient` (DP-SGD adds its noise and divides there,
    /// while the block is in cache, instead of in passes of its own over the whole vector). Blocks are ranges of
    /// `blockSize` coordinates (a multiple of 64) from 0, the last one ending at the vector's end, so every
    /// coordinate takes the same SIMD or scalar path as in `step`; they run over the compute threads, each block on
    /// one thread.
    public mutating func step(parameters: inout [Float], gradient: UnsafeMutableBufferPointer<Float>,
                              blockSize: Int = 4096, preparing prepare: (Range<Int>) -> Void) {
        precondition(parameters.count == gradient.count, "gradient length \(gradient.count) ≠ \(parameters.count)")
        precondition(blockSize > 0 && blockSize % 64 == 0, "block size must be a positive multiple of 64")
        let n = parameters.count
        let g = gradient.baseAddress!
        let first = velocity.isEmpty
        if momentum != 0 && first { velocity = [Float](repeating: 0, count: n) }
        let blocks = (n + blockSize - 1) / blockSize
        // One block per task, as `sgdStepParallel` would split it: worth a second thread only for long vectors.
        let threads = n >= 1 << 15 ? ComputeThreads.count : 1
        let (lr, mu, wd, nesterov) = (learningRate, first ? 0 : momentum, weightDecay, self.nesterov)
        let nesterovMomentum = momentum
        parameters.withUnsafeMutableBufferPointer { w in
            velocity.withUnsafeMutableBufferPointer { v in
                let wBase = w.baseAddress!, vBase = momentum == 0 ? nil : v.baseAddress
                parallelFor(blocks, threads: threads) { b in
                    let lo = b * blockSize, hi = min(n, lo + blockSize)
                    prepare(lo..<hi)
                    sgdStep(wBase + lo, g + lo, velocity: vBase.map { $0 + lo }, count: hi - lo, learningRate: lr,
                            momentum: mu, dampening: 0, weightDecay: wd, nesterov: nesterov,
                            nesterovMomentum: vBase == nil ? 0 : nesterovMomentum)
                }
            }
        }
    }
}
