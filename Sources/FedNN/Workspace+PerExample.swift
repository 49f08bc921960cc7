// Workspace+PerExample: DP-SGD's backward passes: per-example gradient norms, and per-layer clipped gradients.
import FedTensor

extension Workspace {
    /// Pass 1 of ghost clipping (Li et al. 2022, Sec. 4): back-propagates `outputGradient`, whose row i is
    /// ∂ℓ_i/∂output_i (a per-example, sum-reduced loss gradient), through the last forward pass, computing input
    /// gradients only. Each trainable layer i (not in `frozen`, with parameters) adds its examples' squared
    /// gradient norms to `norms[i · batch + e]` (layer-major, `layers.count × batch`; the caller zeroes it) before
    /// its input gradient is formed. `gradient` is not touched.
    /// - Returns: whether every trainable layer still holds its forward state, so that an ordinary `backward` on
    ///   the same forward pass is valid (else run `forward` again first).
    ///
    /// With `saving`, each trainable layer's output gradient is also copied to `saving + savedOffset(i) · batch`
    /// for `addClippedGradients` (book-keeping: Bu et al. 2023), which then needs no second pass through the input
    /// gradients.
    @discardableResult
    public func addPerExampleGradientNorms(parameters: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                                           batch: Int, frozen: Set<Int> = [],
                                           into norms: UnsafeMutablePointer<Double>,
                                           saving: UnsafeMutablePointer<Float>? = nil) -> Bool {
        var intact = true
        reverseLayers(parameters: parameters, outputGradient: outputGradient, batch: batch, frozen: frozen) { i, c in
            let layer = network.layers[i], shape = network.shapes[i]
            if c.parameterGradient != nil {
                if let saving {
                    (saving + savedOffset(i, frozen: frozen) * batch).update(
                        from: c.outputGradient, count: batch * network.shapes[i + 1].reduce(1, *))
                }
                layer.addPerExampleGradientNorms(c, input: shape, into: norms + i * batch)
                if c.inputGradient != nil && !layer.inputGradientPreservesWorkspace(input: shape) { intact = false }
            }
            if c.inputGradient != nil {
                var dxOnly = c
                dxOnly.parameterGradient = nil
                layer.backward(dxOnly, input: shape)
            }
        }
        return intact
    }

    /// Floats per example before trainable layer `i`'s saved output gradient (trainable layers' outputs, in
    /// layer order); `savedSize` is the total per example.
    public func savedOffset(_ i: Int, frozen: Set<Int>) -> Int {
        network.layers.indices.prefix(i).reduce(0) { total, j in
            frozen.contains(j) || network.parameterRanges[j].isEmpty ? total : total + network.shapes[j + 1].reduce(1, *)
        }
    }

    public func savedSize(frozen: Set<Int>) -> Int { savedOffset(network.layers.count, frozen: frozen) }

    /// Pass 2 of book-keeping ghost clipping: scales row e of every trainable layer's output gradient that
    /// `addPerExampleGradientNorms(… saving:)` kept by `factors[e]` (in place) and adds that layer's parameter
    /// gradient of the scaled rows to `gradient`: Σ_e c_e ∂ℓ_e/∂θ, since each layer's parameter gradient is linear
    /// in its per-example output gradients. Valid only when that pass returned true (forward state intact).
    ///
    /// With `step` (w, s), the sums are not added to `gradient`: each layer's slice of the parameters `w` (the same
    /// vector as `parameters`) takes the plain SGD step w ← w − s·Σ_e c_e ∂ℓ_e/∂θ instead, inside the layer's own
    /// backward where it supports `FusedUpdate` (one GEMM straight into its weights), else through its slice of
    /// `gradient` (then scratch). A layer's sum reads only its input activations and kept rows, never another
    /// layer's parameters, so updating layer by layer gives the same sums.
    public func addClippedGradients(parameters: UnsafePointer<Float>, saved: UnsafeMutablePointer<Float>, batch: Int,
                                    frozen: Set<Int> = [], factors: UnsafePointer<Float>,
                                    step: (parameters: UnsafeMutablePointer<Float>, stepSize: Float)? = nil) {
        var offset = 0
        for (i, layer) in network.layers.enumerated() {
            let range = network.parameterRanges[i]
            guard !frozen.contains(i) && !range.isEmpty else { continue }
            let width = network.shapes[i + 1].reduce(1, *)
            let rows = saved + offset * batch
            for e in 0..<batch where factors[e] != 1 { scale(rows + e * width, by: factors[e], count: width) }
            let g = gradient.baseAddress! + range.lowerBound
            var context = BackwardContext(
                input: activations[i], output: activations[i + 1], outputGradient: rows, inputGradient: nil,
                parameters: parameters + range.lowerBound, parameterGradient: g,
                accumulate: step == nil, workspace: scratch[i], batch: batch)
            if let step, layer.supportsFusedUpdate {
                context.fusedUpdate = FusedUpdate(parameters: step.parameters + range.lowerBound,
                                                  learningRate: step.stepSize)
            }
            layer.backward(context, input: network.shapes[i])
            if let step, !layer.supportsFusedUpdate {
                sgdStepParallel(step.parameters + range.lowerBound, g, velocity: nil, count: range.count,
                                learningRate: step.stepSize, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false)
            }
            offset += width
        }
    }

    /// Per-layer clipping in one pass: back-propagates `outputGradient` (row i = ∂ℓ_i/∂output_i) and, at each
    /// trainable layer i, adds Σ_e c_{e,i}·∂ℓ_e/∂θ_i to its slice of `gradient`, with c_{e,i} = `factor(i, ‖g_{e,i}‖)`
    /// (the layer's own clip). The factor scales only the layer's own gradient: the gradient passed down is the
    /// unclipped one, as every layer's clip needs. `rows` is scratch for one scaled output gradient
    /// (batch × the largest layer output); `norms` (layers.count × batch, layer-major, zeroed by the caller)
    /// receives the squared norms.
    public func addPerLayerClippedGradients(parameters: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
                                            batch: Int, frozen: Set<Int> = [], rows: UnsafeMutablePointer<Float>,
                                            norms: UnsafeMutablePointer<Double>,
                                            factor: (_ layer: Int, _ squaredNorm: Double) -> Float) {
        reverseLayers(parameters: parameters, outputGradient: outputGradient, batch: batch, frozen: frozen) { i, c in
            let layer = network.layers[i], shape = network.shapes[i]
            if c.parameterGradient != nil {
                let n = norms + i * batch
                layer.addPerExampleGradientNorms(c, input: shape, into: n)
                let width = network.shapes[i + 1].reduce(1, *)
                for e in 0..<batch {
                    let f = factor(i, n[e])
                    let src = c.outputGradient + e * width, dst = rows + e * width
                    if f == 1 {
                        dst.update(from: src, count: width)
                    } else {
                        for j in 0..<width { dst[j] = src[j] * f }
                    }
                }
                var weightsOnly = c
                weightsOnly.outputGradient = UnsafePointer(rows)
                weightsOnly.inputGradient = nil
                layer.backward(weightsOnly, input: shape)
            }
            if c.inputGradient != nil {
                var dxOnly = c
                dxOnly.parameterGradient = nil
                layer.backward(dxOnly, input: shape)
            }
        }
    }

    /// Walks the layers of the last forward pass from the output down, as `backward` does (same buffers, same
    /// input-gradient choices), handing `body` each layer's context: `parameterGradient` is the layer's slice of
    /// `gradient` (accumulate) when it is trainable, `inputGradient` is set when a layer below needs it. `body`
    /// must write the input gradient when asked.
    func reverseLayers(parameters: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, batch: Int,
                       frozen: Set<Int>, _ body: (Int, BackwardContext) -> Void) {
        precondition(poolInputsKept, "per-example passes need the layer outputs: forward(…, keepsPoolInputs: true)")
        let layers = network.layers
        var current = gradientA, other = gradientB
        current.update(from: outputGradient, count: batch * network.outputSize)
        let firstTrainable = layers.indices.first { !frozen.contains($0) && network.parameterRanges[$0].count > 0 }
        for i in layers.indices.reversed() {
            guard let first = firstTrainable, i >= first else { break }
            let needInput = i > first
            let dx: UnsafeMutablePointer<Float>? = needInput ? (sharesInput[i] ? current : other) : nil
            let range = network.parameterRanges[i]
            let trainable = !frozen.contains(i) && !range.isEmpty
            let context = BackwardContext(
                input: activations[i], output: activations[i + 1], outputGradient: current, inputGradient: dx,
                parameters: parameters + range.lowerBound,
                parameterGradient: trainable ? gradient.baseAddress! + range.lowerBound : nil,
                accumulate: true, workspace: scratch[i], batch: batch)
            body(i, context)
            if let dx, dx != current {
                other = current
                current = dx
            }
        }
    }
}
