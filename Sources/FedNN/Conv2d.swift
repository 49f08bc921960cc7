// Conv2d: 2-D convolution over NHWC images: implicit GEMMs on padded images for stride 1, else im2col and GEMM.
import FedTensor

/// y = conv(x, W) + b for NHWC inputs. W is stored (out × k × k × in) so one output channel's filter is a
/// contiguous row matching an im2col patch; b has `outputChannels` values. Initialised by the network's
/// `Initialization` (default U(±1/√(in·k·k)), PyTorch's). The unfolded (im2col) or zero-padded (implicit path)
/// input is kept in the workspace for the weight gradient.
public struct Conv2d: Layer {
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    /// How DP-SGD computes this layer's per-example gradient norms (see `ConvNormRoute`).
    public var normRoute: ConvNormRoute = .automatic

    public init(_ inputChannels: Int, _ outputChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        precondition(kernel > 0 && stride > 0 && padding >= 0, "invalid convolution geometry")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    public var description: String {
        "Conv2d(\(inputChannels) → \(outputChannels), \(kernel)×\(kernel), stride \(stride), padding \(padding))"
    }

    func geometry(_ input: Shape) -> ConvGeometry {
        ConvGeometry(height: input[0], width: input[1], channels: inputChannels, kernel: kernel, stride: stride,
                     padding: padding)
    }

    public func parameterCount(input: Shape) -> Int { outputChannels * (kernel * kernel * inputChannels + 1) }

    public func outputShape(input: Shape) throws(ShapeError) -> Shape {
        guard input.count == 3, input[2] == inputChannels else {
            throw ShapeError("\(description) needs [height, width, \(inputChannels)] inputs, got \(input)")
        }
        let g = geometry(input)
        guard g.outputHeight > 0, g.outputWidth > 0 else {
            throw ShapeError("\(description) leaves no output on a \(input[0])×\(input[1]) input")
        }
        return [g.outputHeight, g.outputWidth, outputChannels]
    }

    /// Stride-1 layers with output channels in whole vectors run without im2col (see `implicitConvForward`).
    func isImplicit(_ g: ConvGeometry) -> Bool { implicitConvSupported(g, outputChannels: outputChannels) }

    public func workspaceSize(input: Shape) -> Int {
        let g = geometry(input)
        // im2col: the unfolded input (forward to the weight gradient), then the input gradient's scratch: the
        // unfolded input stays for a second backward pass on the same forward pass (DP-SGD runs two).
        let unfolded = g.positions * g.patchSize
        guard isImplicit(g) else {
            guard convInputGradientSupported(g) else { return 2 * unfolded }
            return unfolded + convInputGradientScratch(g, outputChannels: outputChannels, batch: 1)
        }
        // Implicit: the padded input, then per sample room for the padded dY (input gradient), then (counted per
        // sample, used once) the transposed or flipped filters. The input gradient falls back to a GEMM into
        // unfolded columns when the input channels are not whole vectors; they too go after the padded input, which
        // a second backward pass on the same forward pass reads.
        let dyFrame = (g.height + kernel - 1) * (g.width + kernel - 1) * outputChannels
        let afterPadded = dyFrame + g.patchSize * outputChannels
        return paddedInputSize(g) + (convInputGradientSupported(g) ? afterPadded : max(unfolded, afterPadded))
    }

    /// Implicit layout of the workspace: padded inputs, padded dY frames, filter scratch.
    func implicitLayout(_ g: ConvGeometry, _ c: UnsafeMutablePointer<Float>, batch: Int)
        -> (padded: UnsafeMutablePointer<Float>, frames: UnsafeMutablePointer<Float>,
            filters: UnsafeMutablePointer<Float>) {
        let dyFrame = (g.height + kernel - 1) * (g.width + kernel - 1) * outputChannels
        let padded = c, frames = c + batch * paddedInputSize(g)
        return (padded, frames, frames + batch * dyFrame)
    }

    public func initialize(_ parameters: UnsafeMutableBufferPointer<Float>, input: Shape, scheme: Initialization,
                           rng: inout Philox) {
        let w = outputChannels * kernel * kernel * inputChannels
        scheme.fill(weights: UnsafeMutableBufferPointer(rebasing: parameters[..<w]),
                    biases: UnsafeMutableBufferPointer(rebasing: parameters[w...]),
                    fanIn: kernel * kernel * inputChannels, fanOut: kernel * kernel * outputChannels, rng: &rng)
    }

    public func forward(_ c: ForwardContext, input: Shape) {
        forward(c, input: input, fusedReLU: false)
    }

    /// Whether `forward(…, fusedReLU: true)` can apply a following ReLU in the kernel's store (implicit path).
    public func canFuseReLU(input: Shape) -> Bool { isImplicit(geometry(input)) }

    /// The forward pass, with `fusedReLU` (only where `canFuseReLU`) also y = max(y, 0) in the same store: the
    /// bits of this pass followed by `ReLU.forward` in place.
    public func forward(_ c: ForwardContext, input: Shape, fusedReLU: Bool) {
        forward(c, input: input, fusedReLU: fusedReLU, perBand: nil)
    }

    /// `forward(…, fusedReLU:)`; on the implicit path (`canFuseReLU`) `perBand(n, first, rows)` runs as soon as
    /// rows `rows` of sample n's output (and the rows before them) are complete, `first` addressing row
    /// `rows.lowerBound`, every `band` rows, on the thread that computed them (a max pool fused after the
    /// convolution and its ReLU); with `outputInScratch` that output is in per-thread scratch and `c.output` is
    /// not written, and with `bandRowsOnly` too (`perBand` reads only `rows`) the scratch holds one band at a time
    /// (`implicitConvForward`).
    func forward(_ c: ForwardContext, input: Shape, fusedReLU: Bool, band: Int = .max,
                 perBand: ((Int, UnsafePointer<Float>, Range<Int>) -> Void)?, outputInScratch: Bool = false,
                 bandRowsOnly: Bool = false) {
        let g = geometry(input)
        let rows = c.batch * g.positions
        let bias = c.parameters + outputChannels * g.patchSize
        if isImplicit(g) {
            // The bias is added in the kernel's store (the same bits as the pass below).
            let l = implicitLayout(g, c.workspace, batch: c.batch)
            implicitConvForward(c.input, weights: c.parameters, c.output, g, outputChannels: outputChannels,
                                batch: c.batch, padded: l.padded, transposed: l.filters, bias: bias,
                                relu: fusedReLU, band: band, perBand: perBand, outputInScratch: outputInScratch,
                                bandRowsOnly: bandRowsOnly)
        } else {
            let inSize = g.height * g.width * g.channels, colSize = g.positions * g.patchSize
            parallelFor(c.batch, threads: c.batch * colSize >= 1 << 18 ? nil : 1) { i in
                im2col(c.input + i * inSize, c.workspace + i * colSize, g)
            }
            gemm(.none, .transposed, m: rows, n: outputChannels, k: g.patchSize, a: c.workspace, lda: g.patchSize,
                 b: c.parameters, ldb: g.patchSize, c: c.output, ldc: outputChannels)
            precondition(!fusedReLU && perBand == nil, "Conv2d: fusions run only on the implicit path")
            addRowVector(bias, to: c.output, rows: rows, n: outputChannels)
        }
    }

    /// Whether `forwardPooled` handles this layer on `input` (one input channel, 32 filters, k 3 or 5, an even
    /// output height and width: `oneChannelPooledConvSupported`).
    public func canForwardPooled(input: Shape) -> Bool {
        let g = geometry(input)
        return isImplicit(g) && oneChannelPooledConvSupported(g, outputChannels: outputChannels)
    }

    /// This convolution, its ReLU and a 2 × 2 max pool of stride 2 (`canForwardPooled`) in one pass that pools in
    /// the convolution's registers (`implicitConvForwardPooled`): `pooled` and `routes` get the bits of
    /// `forward(…, fusedReLU: true)` followed by `maxPoolForward(…, routes:, reluBefore: true)`, and `c.output`
    /// is not written; the padded input is left for the weight gradient as `forward` leaves it. With `noise`,
    /// additive Gaussian noise between the ReLU and the pool is drawn in the registers too: the bits of that noise
    /// layer and `maxPoolForward(…, routes:, reluBefore: true, reluOutput:)` on its output (`Workspace`).
    func forwardPooled(_ c: ForwardContext, input: Shape, pooled: UnsafeMutablePointer<Float>,
                       routes: UnsafeMutablePointer<UInt8>, noise: PooledTileNoise? = nil) {
        let g = geometry(input)
        let l = implicitLayout(g, c.workspace, batch: c.batch)
        implicitConvForwardPooled(c.input, weights: c.parameters, bias: c.parameters + outputChannels * g.patchSize,
                                  g, batch: c.batch, padded: l.padded, transposed: l.filters, pooled: pooled,
                                  routes: routes, noise: noise)
    }

    /// Whether `backward(…, outputGradientOf:)` handles this layer: the implicit path.
    func canTakeSampleGradients(input: Shape) -> Bool { isImplicit(geometry(input)) }

    /// The weight and bias gradients (no input gradient: `c.inputGradient` must be nil) where dY is never stored:
    /// `outputGradientOf(n, buffer)` writes sample n's dY into a per-worker buffer, called by every worker for every
    /// sample in order (a max pool's backward pass fused in: `Workspace`). The bits of `backward` on that dY.
    func backward(_ c: BackwardContext, input: Shape, outputGradientOf: (Int, UnsafeMutablePointer<Float>) -> Void) {
        let g = geometry(input)
        precondition(isImplicit(g) && c.inputGradient == nil, "Conv2d: sample gradients need the implicit path")
        guard let dw = c.parameterGradient else { return }
        let l = implicitLayout(g, c.workspace, batch: c.batch)
        let db = dw + outputChannels * g.patchSize
        if !c.accumulate { db.update(repeating: 0, count: outputChannels) }
        implicitConvWeightGradient(sampleGradient: outputGradientOf, padded: l.padded, dw, biasGradient: db, g,
                                   outputChannels: outputChannels, batch: c.batch, accumulate: c.accumulate,
                                   transposed: l.filters)
    }

    public func backward(_ c: BackwardContext, input: Shape) {
        let g = geometry(input)
        let rows = c.batch * g.positions
        let implicit = isImplicit(g)
        if let dw = c.parameterGradient {
            if implicit {
                let l = implicitLayout(g, c.workspace, batch: c.batch)
                implicitConvWeightGradient(c.outputGradient, padded: l.padded, dw, g, outputChannels: outputChannels,
                                           batch: c.batch, accumulate: c.accumulate, transposed: l.filters)
            } else {
                gemm(.transposed, .none, m: outputChannels, n: g.patchSize, k: rows,
                     a: c.outputGradient, lda: outputChannels, b: c.workspace, ldb: g.patchSize,
                     beta: c.accumulate ? 1 : 0, c: dw, ldc: g.patchSize)
            }
            if !c.accumulate { (dw + outputChannels * g.patchSize).update(repeating: 0, count: outputChannels) }
            accumulateColumnSums(c.outputGradient, into: dw + outputChannels * g.patchSize, rows: rows,
                                 n: outputChannels)
        }
        guard let dx = c.inputGradient else { return }
        // The input gradient's scratch starts after the padded inputs or unfolded columns, which stay: a second
        // backward pass on the same forward pass (DP-SGD runs two) reads them.
        let scratch = implicit ? implicitLayout(g, c.workspace, batch: c.batch).frames
            : c.workspace + c.batch * g.positions * g.patchSize
        if convInputGradientSupported(g) {
            // Straight from dY and the flipped filters.
            convInputGradient(c.outputGradient, weights: c.parameters, dx, g, outputChannels: outputChannels,
                              batch: c.batch, scratch: scratch)
        } else {
            // dcol = dY·W into the scratch, then folded back into dx.
            gemm(.none, .none, m: rows, n: g.patchSize, k: outputChannels,
                 a: c.outputGradient, lda: outputChannels, b: c.parameters, ldb: g.patchSize,
                 c: scratch, ldc: g.patchSize)
            let inSize = g.height * g.width * g.channels, colSize = g.positions * g.patchSize
            parallelFor(c.batch, threads: c.batch * colSize >= 1 << 18 ? nil : 1) { i in
                col2im(scratch + i * colSize, dx + i * inSize, g)
            }
        }
    }
}
