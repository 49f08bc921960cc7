// Pooling: k×k max pooling (stride k, or any stride) and Flatten, the shape-changing layers of the CNNs.
import FedTensor

/// Max over k×k windows of NHWC images taken every `stride` pixels (default k: non-overlapping; stride 1 is the
/// overlapping pooling of the tanh CNN, Papernot et al. 2021). Floor mode: output ⌊(H − k)/s⌋ + 1 per side.
public struct MaxPool2d: Layer {
    public let size: Int
    public let stride: Int
    public init(_ size: Int = 2, stride: Int? = nil) {
        precondition(size > 0 && (stride ?? size) > 0)
        self.size = size
        self.stride = stride ?? size
    }

    public var description: String { stride == size ? "MaxPool2d(\(size))" : "MaxPool2d(\(size), stride \(stride))" }
    public var backwardReadsOutput: Bool { true }

    public func outputShape(input: Shape) throws(ShapeError) -> Shape {
        guard input.count == 3, input[0] >= size, input[1] >= size else {
            throw ShapeError("\(description) needs [height ≥ \(size), width ≥ \(size), channels], got \(input)")
        }
        return [(input[0] - size) / stride + 1, (input[1] - size) / stride + 1, input[2]]
    }

    func outputSize(_ input: Shape) -> Int {
        ((input[0] - size) / stride + 1) * ((input[1] - size) / stride + 1) * input[2]
    }

    /// Threads for a pass over `floats` input floats: large batches split over threads by sample (each sample's
    /// output is written by one thread), small ones stay on the caller's.
    static func threads(_ floats: Int) -> Int? { floats >= 1 << 17 ? nil : 1 }

    public func forward(_ c: ForwardContext, input: Shape) {
        let inSize = input.reduce(1, *)
        parallelFor(c.batch, threads: Self.threads(c.batch * inSize)) { i in
            forwardSample(i, input: c.input + i * inSize, output: c.output, shape: input)
        }
    }

    /// The forward pass of sample n alone, from that sample's input `sample` into its place in the batch's
    /// `output`: what `forward` runs for each sample.
    func forwardSample(_ n: Int, input sample: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                       shape: Shape) {
        maxPoolForward(sample, output + n * outputSize(shape),
                       height: shape[0], width: shape[1], channels: shape[2], k: size, stride: stride)
    }

    /// Whether `forwardRows(…, routes:…)` can record this pool's routes (one byte names a window position).
    var recordsRoutes: Bool { size * size < Int(maxPoolNoRoute) }

    /// `forwardSample` for part of sample n of `batch`, whose input rows before `inputRows.upperBound` are complete:
    /// the output rows whose windows end in `inputRows`, i.e. those the rows before `inputRows.lowerBound` did not
    /// complete. Calls over consecutive row ranges covering the input compute every output row once, with the bits
    /// of one `forwardSample`: a pool that runs band by band inside the convolution before it, while each band is
    /// in L1 (`Workspace.forward`). With `routes`, this pool's input is a ReLU's output and the rows' routes are
    /// written too (`maxPoolForward(…, routes:, reluBefore: true)`, one byte per output element, batch-major, in
    /// their place in `routes`) for `backwardSample(_:routes:…)`. `band` addresses input row `inputRows.lowerBound`;
    /// the rows before it are read at their places before it only where windows overlap (`size > stride`).
    func forwardRows(_ n: Int, of batch: Int, input band: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                     routes: UnsafeMutablePointer<UInt8>?, shape: Shape, inputRows: Range<Int>) {
        let (w, c) = (shape[1], shape[2])
        let oh = (shape[0] - size) / stride + 1, ow = (w - size) / stride + 1
        // Output row a needs input rows a·s ..< a·s + k: after r input rows, rows a < (r − k)/s + 1 are complete.
        func complete(_ rows: Int) -> Int { rows < size ? 0 : min(oh, (rows - size) / stride + 1) }
        let first = complete(inputRows.lowerBound), last = complete(inputRows.upperBound)
        guard last > first else { return }
        let x = band + (first * stride - inputRows.lowerBound) * w * c, out = n * oh * ow * c + first * ow * c
        let height = (last - first - 1) * stride + size
        if let routes {
            maxPoolForward(x, output + out, routes: routes + out, reluBefore: true,
                           height: height, width: w, channels: c, k: size, stride: stride)
        } else {
            maxPoolForward(x, output + out, height: height, width: w, channels: c, k: size, stride: stride)
        }
        // The next band's outputs (the next sample's first rows after the last band), requested now so that their
        // lines are ready for writing when it is pooled, instead of each store waiting on memory (McMahan CNN,
        // first convolution at batch 64: its outputs and routes are 2 MB a pass). A hint: no value depends on it.
        let next = out + (last - first) * ow * c, end = batch * oh * ow * c
        let rowFloats = min(next + (last - first) * ow * c, end) - next
        guard rowFloats > 0 else { return }
        prefetchForWriting(output + next, bytes: rowFloats * MemoryLayout<Float>.stride)
        if let routes { prefetchForWriting(routes + next, bytes: rowFloats) }
    }

    /// `forward` that also writes the routes (`maxPoolForward(…, routes:, reluBefore: true, reluOutput:)`) where
    /// this pool's input is additive noise on the ReLU output `reluOutput` (the whole batch), for
    /// `backward(_:input:routes:)`.
    func forward(_ c: ForwardContext, input: Shape, routes: UnsafeMutablePointer<UInt8>,
                 reluOutput: UnsafePointer<Float>) {
        let inSize = input.reduce(1, *), outSize = outputSize(input)
        parallelFor(c.batch, threads: Self.threads(c.batch * inSize)) { n in
            maxPoolForward(c.input + n * inSize, c.output + n * outSize, routes: routes + n * outSize,
                           reluBefore: true, reluOutput: reluOutput + n * inSize, height: input[0],
                           width: input[1], channels: input[2], k: size, stride: stride)
        }
    }

    /// `forward(_:input:routes:reluOutput:)` after the noise layer between that ReLU and this pool, without the
    /// noisy tensor: for each output row, the noise (`draw`, nil for the identity) is applied to the window rows of
    /// the ReLU output `reluOutput` into a buffer of k rows that stays in L1, and pooled from there. The same
    /// pooled values and routes, bit for bit; the noise layer's output is never written (nothing reads it in
    /// training: the backward pass takes the routes). With `routedFactor` (a multiplicative law), m is drawn into
    /// an L1 buffer beside the noisy rows and only m at each window's max element is kept, one float per pooled
    /// output (`maxPoolForward(…, factor:, routedFactor:)`; 1 where the noise is the identity): the backward pass
    /// reads it (`backward(…, routedFactor:)`) instead of a factor tensor of the pool's input size. Windows must
    /// not overlap (each input row is drawn once).
    func forwardAcrossNoise(_ c: ForwardContext, input: Shape, routes: UnsafeMutablePointer<UInt8>,
                            reluOutput: UnsafePointer<Float>, draw: NoiseDraw?,
                            routedFactor: UnsafeMutablePointer<Float>?) {
        precondition(stride >= size, "forwardAcrossNoise: windows must not overlap")
        let (w, ch) = (input[1], input[2]), inSize = input.reduce(1, *), outSize = outputSize(input)
        let oh = (input[0] - size) / stride + 1, ow = (w - size) / stride + 1
        let rowFloats = size * w * ch
        parallelFor(c.batch, threads: Self.threads(c.batch * inSize)) { n in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * rowFloats) { buffer in
                let noisy = buffer.baseAddress!, factorRows = noisy + rowFloats
                for oy in 0..<oh {
                    let start = n * inSize + oy * stride * w * ch, out = n * outSize + oy * ow * ch
                    let clean = reluOutput + start
                    guard let draw else {
                        routedFactor.map { ($0 + out).update(repeating: 1, count: ow * ch) }
                        maxPoolForward(clean, c.output + out, routes: routes + out, reluBefore: true,
                                       reluOutput: clean, height: size, width: w, channels: ch, k: size,
                                       stride: stride)
                        continue
                    }
                    draw.apply(into: noisy, count: rowFloats, startIndex: start, source: clean,
                               factor: routedFactor == nil ? nil : factorRows)
                    maxPoolForward(noisy, c.output + out, routes: routes + out, reluBefore: true, reluOutput: clean,
                                   height: size, width: w, channels: ch, k: size, stride: stride,
                                   factor: routedFactor == nil ? nil : UnsafePointer(factorRows),
                                   routedFactor: routedFactor.map { $0 + out })
                }
            }
        }
    }

    /// The backward pass of sample n alone (`x`, `y` and `dy` hold the whole batch) into `dx`, that sample's input
    /// gradient: what `backward(…, reluBefore:)` computes for it, for a pool fused into the weight gradient of the
    /// convolution before it (`Workspace`).
    func backwardSample(_ n: Int, input x: UnsafePointer<Float>, output y: UnsafePointer<Float>,
                        outputGradient dy: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, shape: Shape,
                        reluBefore: Bool, reluOutput: UnsafePointer<Float>? = nil,
                        factor: UnsafePointer<Float>? = nil) {
        let inSize = shape.reduce(1, *), outSize = outputSize(shape)
        maxPoolBackward(x + n * inSize, output: y + n * outSize, dy + n * outSize, dx, height: shape[0],
                        width: shape[1], channels: shape[2], k: size, stride: stride, reluBefore: reluBefore,
                        reluOutput: reluOutput.map { $0 + n * inSize }, factor: factor.map { $0 + n * inSize })
    }

    /// What `backwardSample(…, reluBefore: true)` writes, the same bits, from the routes the forward pass recorded
    /// (`forwardRows(…, routes:…)`) instead of this layer's input and output: a byte per output element read
    /// instead of k·k + 1 floats.
    /// With `factor` (the m of multiplicative noise between the ReLU and this pool), each routed gradient is
    /// multiplied by m, the noise layer's backward pass folded in: `.perElement` is the noise layer's own factor
    /// tensor (the whole batch, the pool's input size), `.perOutput` the m at each output's routed element that
    /// `forwardAcrossNoise` kept (the pool's output size). The same products either way.
    func backwardSample(_ n: Int, of batch: Int, routes: UnsafePointer<UInt8>, outputGradient dy: UnsafePointer<Float>,
                        into dx: UnsafeMutablePointer<Float>, shape: Shape, factor: PoolFactor? = nil) {
        let inSize = shape.reduce(1, *), outSize = outputSize(shape)
        var perElement: UnsafePointer<Float>? = nil, perOutput: UnsafePointer<Float>? = nil
        switch factor {
        case .perElement(let f)?: perElement = f + n * inSize
        case .perOutput(let f)?: perOutput = f + n * outSize
        case nil: break
        }
        // Sample n + 1's dy and routes are requested row by row as this sample's are read (a hint, no value changes).
        maxPoolBackward(routes: routes + n * outSize, dy + n * outSize, dx, height: shape[0], width: shape[1],
                        channels: shape[2], k: size, stride: stride, prefetchAhead: n + 1 < batch ? outSize : 0,
                        factor: perElement, routedFactor: perOutput)
    }

    /// `backward(…, reluBefore: true)`, or with `reluOutput` (and `factor`) when the routes were recorded with it,
    /// from recorded routes (`backwardSample(_:routes:…)`).
    func backward(_ c: BackwardContext, input: Shape, routes: UnsafePointer<UInt8>, factor: PoolFactor? = nil) {
        guard let dx = c.inputGradient else { return }
        let inSize = input.reduce(1, *)
        parallelFor(c.batch, threads: Self.threads(c.batch * inSize)) { i in
            backwardSample(i, of: c.batch, routes: routes, outputGradient: c.outputGradient, into: dx + i * inSize,
                           shape: input, factor: factor)
        }
    }

    public func backward(_ c: BackwardContext, input: Shape) {
        backward(c, input: input, reluBefore: false)
    }

    /// The backward pass; with `reluBefore` (this layer's input is a ReLU's output) the gradient written is the one
    /// at that ReLU's input, the bits of this pass followed by `ReLU.backward` (`maxPoolBackward(…, reluBefore:)`).
    /// With `reluOutput` too (this layer's input is additive noise on that ReLU output: `maxPoolBackward(…,
    /// reluOutput:)`), the gradient written is the one at that ReLU's input, the noise layer's identity backward
    /// pass and the ReLU's both included; with `factor` as well (multiplicative noise x̃ = r·m, m in `factor`), the
    /// noise layer's dx = dy·m too.
    public func backward(_ c: BackwardContext, input: Shape, reluBefore: Bool,
                         reluOutput: UnsafePointer<Float>? = nil, factor: UnsafePointer<Float>? = nil) {
        guard let dx = c.inputGradient else { return }
        let inSize = input.reduce(1, *)
        parallelFor(c.batch, threads: Self.threads(c.batch * inSize)) { i in
            backwardSample(i, input: c.input, output: c.output, outputGradient: c.outputGradient,
                           into: dx + i * inSize, shape: input, reluBefore: reluBefore, reluOutput: reluOutput,
                           factor: factor)
        }
    }
}

/// The factor m of multiplicative noise folded into a max pool's routed backward pass (`MaxPool2d.backwardSample`).
enum PoolFactor {
    /// The noise layer's factor tensor, laid out like the pool's input.
    case perElement(UnsafePointer<Float>)
    /// m at each output's routed element, laid out like the pool's output (`MaxPool2d.forwardAcrossNoise`).
    case perOutput(UnsafePointer<Float>)

    /// The factor tensor, for a backward pass without routes (whose pool drew no noise, so kept no m per output).
    var elementwise: UnsafePointer<Float> {
        guard case .perElement(let f) = self else {
            preconditionFailure("a pool that kept m per output recorded its routes: use them")
        }
        return f
    }
}

/// Reshapes any per-sample shape to one feature vector. No data moves (NHWC order is kept).
public struct Flatten: Layer {
    public init() {}
    public var description: String { "Flatten" }
    public var inPlace: InPlaceKind { .view }
    public func outputShape(input: Shape) throws(ShapeError) -> Shape { [input.reduce(1, *)] }

    public func forward(_ c: ForwardContext, input: Shape) {
        if c.output != UnsafeMutablePointer(mutating: c.input) {
            c.output.update(from: c.input, count: c.batch * input.reduce(1, *))
        }
    }

    public func backward(_ c: BackwardContext, input: Shape) {
        guard let dx = c.inputGradient, dx != UnsafeMutablePointer(mutating: c.outputGradient) else { return }
        dx.update(from: c.outputGradient, count: c.batch * input.reduce(1, *))
    }
}
