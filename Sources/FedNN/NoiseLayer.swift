// NoiseLayer: noise infusion on the tensor flowing through one point of a network (input or hidden activation).
import FedTensor

/// x̃ = x + η or x·(1 + η) (see `NoiseDistribution`) with fresh noise at every training step; identity at
/// inference when `trainOnly` (Keras `GaussianNoise` semantics, spec A.1). With `relative`, σ = level·RMS(x) over
/// the whole batch tensor at this point, taken as a constant in the backward pass (the noise is not
/// differentiated). The level follows `schedule` over the training time `NoiseSource.time`.
/// Noise comes from the forward pass's `NoiseSource`: `key.child(tag, stream, step)`, so a seeded run is
/// bit-identical whatever the thread count. Adds no parameters, so inserting it leaves the model's flat vector
/// unchanged. Heuristic regularisation, not differential privacy.
public struct NoiseLayer: Layer {
    public let distribution: NoiseDistribution
    public let level: Float
    public let relative: Bool
    public let trainOnly: Bool
    public let schedule: NoiseSchedule
    public let decay: Double
    /// Distinguishes the noise layers of one network.
    public let stream: UInt64

    static let tag: UInt64 = 0x696E_6675_7365  // "infuse"

    public init(_ distribution: NoiseDistribution, level: Float, relative: Bool = false, trainOnly: Bool = true,
                schedule: NoiseSchedule = .constant, decay: Double = 1, stream: UInt64 = 0) {
        precondition(level >= 0 && level.isFinite, "noise level must be finite and ≥ 0")
        self.distribution = distribution
        self.level = level
        self.relative = relative
        self.trainOnly = trainOnly
        self.schedule = schedule
        self.decay = decay
        self.stream = stream
    }

    public var description: String {
        "Noise(\(distribution.rawValue), \(relative ? "λ" : "σ") = \(level)\(trainOnly ? "" : ", also at inference"))"
    }
    public var inPlace: InPlaceKind { .elementwise }
    public func outputShape(input: Shape) throws(ShapeError) -> Shape { input }
    /// Multiplicative laws keep the factor m of x̃ = x·m for the backward pass.
    public func workspaceSize(input: Shape) -> Int {
        distribution.isMultiplicative || distribution == .saltAndPepper ? input.reduce(1, *) : 0
    }

    /// The level actually applied to `x` at time t (σ, or λ·RMS(x) when relative), times the schedule's factor.
    public func effectiveLevel(_ x: UnsafePointer<Float>, count: Int, time: Int) -> Float {
        let base = relative ? level * Float(rootMeanSquare(x, count: count)) : level
        let m = NoiseMechanism(site: .activation, level: 1, schedule: schedule, decay: decay)
        return base * Float(m.scheduleFactor(at: time))
    }

    public func forward(_ c: ForwardContext, input: Shape) {
        let n = c.batch * input.reduce(1, *)
        let keepsFactor = workspaceSize(input: input) > 0
        let sigma = effectiveLevel(c.input, count: n, time: c.noise.time)
        guard c.training || !trainOnly, sigma > 0 else {
            if c.output != UnsafeMutablePointer(mutating: c.input) { c.output.update(from: c.input, count: n) }
            if keepsFactor { c.workspace.update(repeating: 1, count: n) }
            return
        }
        var low: Float = 0, high: Float = 1
        if distribution == .saltAndPepper {
            // The extremes of the clean batch: black and white for images in any normalisation.
            low = .infinity
            high = -.infinity
            for i in 0..<n {
                low = min(low, c.input[i])
                high = max(high, c.input[i])
            }
        }
        let key = c.noise.key.child(Self.tag, stream, c.noise.step)
        let level = distribution == .saltAndPepper ? min(sigma, 1) : sigma
        // One pass: x̃ = x + η read from the input and written to the output (the same buffer when in place).
        applyNoise(c.output, count: n, distribution: distribution, level: level, key: key,
                   factor: keepsFactor ? c.workspace : nil, low: low, high: high, source: c.input)
    }

    /// What `forward` applies at this step, for a pass that draws it piece by piece (`NoiseDraw`): nil where
    /// `forward` is the identity (train-only noise outside training, a level of 0) and for salt-and-pepper (whose
    /// replacement values are the whole batch's extremes).
    func draw(_ c: ForwardContext, input: Shape) -> NoiseDraw? {
        let n = c.batch * input.reduce(1, *)
        guard distribution != .saltAndPepper else { return nil }
        let sigma = effectiveLevel(c.input, count: n, time: c.noise.time)
        guard c.training || !trainOnly, sigma > 0 else { return nil }
        return NoiseDraw(distribution: distribution, level: sigma,
                         key: c.noise.key.child(Self.tag, stream, c.noise.step))
    }

    /// Additive noise passes the gradient through unchanged (∂x̃/∂x = 1): the network hands the output gradient
    /// on as the input gradient without a copy.
    public var backwardIsIdentity: Bool { !distribution.isMultiplicative && distribution != .saltAndPepper }

    public func backward(_ c: BackwardContext, input: Shape) {
        guard let dx = c.inputGradient else { return }
        let n = c.batch * input.reduce(1, *)
        if workspaceSize(input: input) > 0 {
            for i in 0..<n { dx[i] = c.outputGradient[i] * c.workspace[i] }
        } else if dx != UnsafeMutablePointer(mutating: c.outputGradient) {
            dx.update(from: c.outputGradient, count: n)
        }
    }
}

/// One step's noise of a `NoiseLayer` (its law, effective level and stream), applied to any span of the batch
/// tensor: element j of the span gets the noise of global index `startIndex + j`, the values `NoiseLayer.forward`
/// gives that element (the laws are chunk-invariant: `applyNoise`).
struct NoiseDraw {
    let distribution: NoiseDistribution
    let level: Float
    let key: StreamKey

    /// x[j] = source[j] with the noise of index `startIndex + j`, for j < count; `factor` (at the span's start)
    /// receives a multiplicative law's m. One thread.
    func apply(into x: UnsafeMutablePointer<Float>, count: Int, startIndex: Int, source: UnsafePointer<Float>,
               factor: UnsafeMutablePointer<Float>?) {
        applyNoiseChunks(x, count: count, chunks: 0..<((count + noiseChunk - 1) / noiseChunk),
                         distribution: distribution, level: level, key: key, startIndex: UInt64(startIndex),
                         factor: factor, low: 0, high: 1, source: source)
    }
}
