// Layer: the protocol every network layer implements, and the pointer contexts its passes receive.
import FedTensor

/// A per-sample shape: `[features]` for vectors or `[height, width, channels]` for NHWC images.
public typealias Shape = [Int]

/// What one layer's forward pass sees. All buffers are sample-major: sample `i` of a buffer starts at
/// `i × (per-sample size)`, so a pass over a sub-range of the batch is the same call with offset pointers.
public struct ForwardContext {
    public var input: UnsafePointer<Float>
    public var output: UnsafeMutablePointer<Float>
    /// This layer's slice of the model's flat parameter vector.
    public var parameters: UnsafePointer<Float>
    /// This layer's scratch (its `workspaceSize` per sample × batch), kept from forward to backward.
    public var workspace: UnsafeMutablePointer<Float>
    public var batch: Int
    public var training: Bool
    /// The stream and step for layers that draw noise during training.
    public var noise: NoiseSource
}

/// What one layer's backward pass sees, after its forward pass on the same batch.
public struct BackwardContext {
    public var input: UnsafePointer<Float>
    public var output: UnsafePointer<Float>
    public var outputGradient: UnsafePointer<Float>
    /// Where to write ∂L/∂input, or nil when nobody needs it (the first layer, unless input gradients are asked for).
    public var inputGradient: UnsafeMutablePointer<Float>?
    public var parameters: UnsafePointer<Float>
    /// Where ∂L/∂parameters go, or nil when the layer is frozen.
    public var parameterGradient: UnsafeMutablePointer<Float>?
    /// Add into `parameterGradient` (true) or overwrite it (false).
    public var accumulate: Bool
    public var workspace: UnsafeMutablePointer<Float>
    public var batch: Int
    /// Set only for layers with `supportsFusedUpdate`, when the caller wants a plain SGD step instead of the
    /// gradient: see `FusedUpdate`.
    public var fusedUpdate: FusedUpdate? = nil
}

/// A plain SGD step applied inside `backward`: the layer computes its input gradient from the old parameters first,
/// then sets every parameter of its slice to w − learningRate · ∂L/∂w, with the same arithmetic as `SGD.step`
/// (momentum 0, weight decay 0) on the unfused gradient. `parameterGradient` is then scratch: what it holds after
/// the pass is unspecified.
public struct FusedUpdate {
    /// This layer's slice of the parameter vector (the same memory as `BackwardContext.parameters`).
    public var parameters: UnsafeMutablePointer<Float>
    public var learningRate: Float

    public init(parameters: UnsafeMutablePointer<Float>, learningRate: Float) {
        self.parameters = parameters
        self.learningRate = learningRate
    }
}

/// Identifies the random stream a noisy layer draws from in one forward pass.
public struct NoiseSource: Sendable {
    public var key: StreamKey
    /// A counter that the caller advances every step, so each step draws fresh noise.
    public var step: UInt64
    /// Training time t (the epoch, or a federation's round) for noise layers with a decaying schedule.
    public var time: Int

    public init(key: StreamKey, step: UInt64, time: Int = 0) {
        self.key = key
        self.step = step
        self.time = time
    }

    public static let none = NoiseSource(key: StreamKey(key: 0, stream: 0), step: 0)
}

/// A differentiable layer. Layers are immutable descriptions: parameters live in the model's flat vector and
/// activations in a `Workspace`, so one layer value serves every client and thread.
public protocol Layer: Sendable, CustomStringConvertible {
    /// Trainable parameters for the given input shape.
    func parameterCount(input: Shape) -> Int
    /// The per-sample output shape, or an error naming what does not fit.
    func outputShape(input: Shape) throws(ShapeError) -> Shape
    /// Per-sample scratch floats kept from forward to backward.
    func workspaceSize(input: Shape) -> Int
    /// Fills this layer's parameter slice with its initial values, drawn by `scheme`.
    func initialize(_ parameters: UnsafeMutableBufferPointer<Float>, input: Shape, scheme: Initialization,
                    rng: inout Philox)
    func forward(_ context: ForwardContext, input: Shape)
    func backward(_ context: BackwardContext, input: Shape)
    /// Whether the output may share the input's buffer (saves a copy and memory).
    var inPlace: InPlaceKind { get }
    /// Whether `backward` reads this layer's forward output (then no later layer may overwrite it in place).
    var backwardReadsOutput: Bool { get }
    /// Whether the input gradient always equals the output gradient and the layer has no parameters (an additive
    /// noise layer): `Workspace` then hands the output gradient on without calling `backward` (no copy).
    var backwardIsIdentity: Bool { get }
    /// Whether `backward` honours `BackwardContext.fusedUpdate` (default false: the caller steps the gradient).
    var supportsFusedUpdate: Bool { get }
    /// Adds, for each example i of the batch, ‖∂ℓ_i/∂θ‖² over this layer's parameters θ to `norms[i]` (Float64),
    /// where row i of `context.outputGradient` is ∂ℓ_i/∂(output row i). Called after `forward` on the same batch
    /// and before this layer's `backward`; writes no gradient. The default (`PerExampleNorms.swift`) runs one
    /// single-example forward and backward per example: correct for any layer, slow. Linear and Conv2d compute
    /// the norms without materialising per-example gradients where that is cheaper (DP-SGD ghost clipping).
    func addPerExampleGradientNorms(_ context: BackwardContext, input: Shape, into norms: UnsafeMutablePointer<Double>)
    /// Whether a `backward` that writes the input gradient leaves this layer's workspace as `forward` left it, so a
    /// second `backward` on the same forward pass is valid (DP-SGD's reweighted pass). Default: true only for
    /// layers without a workspace.
    func inputGradientPreservesWorkspace(input: Shape) -> Bool
    /// Coordinate ranges of this layer's slice that never train (frozen filters, `Freezing.swift`): `backward`
    /// writes 0 to their gradient (or leaves it when accumulating) and the per-example norms leave them out.
    /// Default: none.
    func frozenParameters(input: Shape) -> [Range<Int>]
}

/// How a layer's output may share its input's buffer.
public enum InPlaceKind: Sendable {
    /// Output needs its own buffer.
    case never
    /// Output is the input reinterpreted (a reshape): always shared, values unchanged.
    case view
    /// Output is an element-wise function of the input: shared when nothing upstream still needs those values.
    case elementwise
}

extension Layer {
    public func parameterCount(input: Shape) -> Int { 0 }
    public func workspaceSize(input: Shape) -> Int { 0 }
    public func initialize(_ parameters: UnsafeMutableBufferPointer<Float>, input: Shape, scheme: Initialization,
                           rng: inout Philox) {}
    public var inPlace: InPlaceKind { .never }
    public var backwardReadsOutput: Bool { false }
    public var backwardIsIdentity: Bool { false }
    public var supportsFusedUpdate: Bool { false }
    public func inputGradientPreservesWorkspace(input: Shape) -> Bool { workspaceSize(input: input) == 0 }
}

/// A layer that cannot accept the shape it was given.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

