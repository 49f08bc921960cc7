// BatchNorm: batch normalisation over the channels (last axis), with train/eval modes and running statistics.
import FedTensor

/// Ioffe & Szegedy 2015, Alg. 1–2, as PyTorch's `BatchNorm2d`/`BatchNorm1d`: per channel of the last axis (NHWC
/// images or feature vectors), over the batch and spatial positions (M values):
///   training: μ = mean, σ²_B = biased variance, x̂ = (x − μ)/√(σ²_B + ε), y = γ·x̂ + β, and the running
///             statistics r_μ ← (1 − m)·r_μ + m·μ, r_σ² ← (1 − m)·r_σ² + m·σ²_B·M/(M − 1) (unbiased);
///   evaluation: x̂ = (x − r_μ)/√(r_σ² + ε).
/// Layout of its slice of the flat parameter vector: γ (C), β (C), r_μ (C), r_σ² (C); init 1, 0, 0, 1.
/// The running statistics are **not trainable**: their gradient is 0, and a training forward pass writes them in
/// place (the parameter vector must be mutable there, as it is in `trainingStep`). In a federation they travel
/// with the weights and are averaged like them (FedAvg of the whole state, as PyTorch's `state_dict`);
/// `nonTrainable` tells noise infusion to leave them alone.
public struct BatchNorm: Layer {
    public let channels: Int
    public let momentum: Float
    public let epsilon: Float

    public init(_ channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        precondition(channels > 0 && momentum >= 0 && momentum <= 1 && epsilon > 0)
        self.channels = channels
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public var description: String { "BatchNorm(\(channels))" }
    public func parameterCount(input: Shape) -> Int { 4 * channels }
    /// The slice offsets (within this layer's parameters) of the running statistics: never trained or noised.
    public var nonTrainable: Range<Int> { (2 * channels)..<(4 * channels) }
    public func outputShape(input: Shape) throws(ShapeError) -> Shape {
        guard input.last == channels else { throw ShapeError("\(description) needs \(channels) channels last, got \(input)") }
        return input
    }
    /// x̂ per element, then (per batch) 1/√(σ² + ε) per channel and a mode flag (1: training statistics).
    public func workspaceSize(input: Shape) -> Int { input.reduce(1, *) + channels + 1 }

    public func initialize(_ parameters: UnsafeMutableBufferPointer<Float>, input: Shape, scheme: Initialization,
                           rng: inout Philox) {
        let c = channels
        for i in 0..<c {
            parameters[i] = 1
            parameters[c + i] = 0
            parameters[2 * c + i] = 0
            parameters[3 * c + i] = 1
        }
    }

    public func forward(_ ctx: ForwardContext, input: Shape) {
        let c = channels, n = ctx.batch * input.reduce(1, *), m = n / c
        let gamma = ctx.parameters, beta = ctx.parameters + c
        let xhat = ctx.workspace, invstd = ctx.workspace + n, mode = ctx.workspace + n + c
        var mean = [Double](repeating: 0, count: c), variance = [Double](repeating: 0, count: c)
        if ctx.training {
            for i in 0..<n { mean[i % c] += Double(ctx.input[i]) }
            for k in 0..<c { mean[k] /= Double(m) }
            for i in 0..<n {
                let d = Double(ctx.input[i]) - mean[i % c]
                variance[i % c] += d * d
            }
            for k in 0..<c { variance[k] /= Double(m) }
            let running = UnsafeMutablePointer(mutating: ctx.parameters) + 2 * c
            let mo = Double(momentum), unbiased = m > 1 ? Double(m) / Double(m - 1) : 1
            for k in 0..<c {
                running[k] = Float((1 - mo) * Double(running[k]) + mo * mean[k])
                running[c + k] = Float((1 - mo) * Double(running[c + k]) + mo * variance[k] * unbiased)
            }
            mode.pointee = 1
        } else {
            for k in 0..<c {
                mean[k] = Double(ctx.parameters[2 * c + k])
                variance[k] = max(0, Double(ctx.parameters[3 * c + k]))
            }
            mode.pointee = 0
        }
        for k in 0..<c { invstd[k] = Float(1 / (variance[k] + Double(epsilon)).squareRoot()) }
        let meanF = mean.map(Float.init)
        for i in 0..<n {
            let k = i % c
            let h = (ctx.input[i] - meanF[k]) * invstd[k]
            xhat[i] = h
            ctx.output[i] = gamma[k] * h + beta[k]
        }
    }

    public func backward(_ ctx: BackwardContext, input: Shape) {
        let c = channels, n = ctx.batch * input.reduce(1, *), m = n / c
        let xhat = ctx.workspace, invstd = ctx.workspace + n, training = ctx.workspace[n + c] == 1
        let dy = ctx.outputGradient, gamma = ctx.parameters
        var sumDy = [Double](repeating: 0, count: c), sumDyX = [Double](repeating: 0, count: c)
        for i in 0..<n {
            sumDy[i % c] += Double(dy[i])
            sumDyX[i % c] += Double(dy[i]) * Double(xhat[i])
        }
        if let g = ctx.parameterGradient {
            for k in 0..<c {
                if ctx.accumulate {
                    g[k] += Float(sumDyX[k])
                    g[c + k] += Float(sumDy[k])
                } else {
                    g[k] = Float(sumDyX[k])
                    g[c + k] = Float(sumDy[k])
                    g[2 * c + k] = 0
                    g[3 * c + k] = 0
                }
            }
        }
        guard let dx = ctx.inputGradient else { return }
        if training {
            // dx = γ·invstd/M · (M·dy − Σdy − x̂·Σ(dy·x̂)) (Ioffe & Szegedy 2015, §3 backward pass).
            for i in 0..<n {
                let k = i % c
                let scale = Double(gamma[k]) * Double(invstd[k]) / Double(m)
                dx[i] = Float(scale * (Double(m) * Double(dy[i]) - sumDy[k] - Double(xhat[i]) * sumDyX[k]))
            }
        } else {
            for i in 0..<n { dx[i] = dy[i] * gamma[i % c] * invstd[i % c] }
        }
    }
}
