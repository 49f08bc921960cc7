// Workspace: the activation, gradient and scratch buffers for running one network forward and backward.
import FedTensor

/// Buffers for one thread of work on one `Network`, sized for batches up to `capacity`. Reused step after step:
/// a training step allocates nothing. Not thread-safe; give each concurrent worker its own.
public final class Workspace {
    public let network: Network
    public let capacity: Int
    /// ∂L/∂parameters, laid out like the parameter vector. `backward` adds into it; call `zeroGradient()` first.
    /// After `backwardAndStep` (which `Trainer` uses for plain SGD) it holds no meaningful gradient.
    public let gradient: UnsafeMutableBufferPointer<Float>
    /// Where callers place a batch of inputs (capacity × inputSize, sample-major).
    public var input: UnsafeMutablePointer<Float> { activations[0] }
    /// ∂L/∂input after `backward(… inputGradient: true)`.
    public var inputGradient: UnsafeMutablePointer<Float> { inputGradientBuffer }

    private(set) var activations: [UnsafeMutablePointer<Float>]  // activations[i] = input of layer i; last = output
    let sharesInput: [Bool]  // layer i's output aliases its input buffer
    /// Layer i is a convolution whose following ReLU runs in its store (`Conv2d.forward(…, fusedReLU:)`); that
    /// ReLU works in place, so its output buffer is the convolution's.
    let reluFusedForward: [Bool]
    /// Layer i is a max pool after a ReLU: its backward pass writes the ReLU's input gradient
    /// (`MaxPool2d.backward(…, reluBefore:)`) and the ReLU's own backward pass is skipped.
    let reluFusedBackward: [Bool]
    /// Layer i is a max pool after an additive noise layer (identity backward, its own output buffer) after a ReLU
    /// (not layer 0): its backward pass writes the ReLU's input gradient, masking with the ReLU's output
    /// (`MaxPool2d.backward(…, reluOutput:)`), and the noise layer's and the ReLU's backward passes are skipped.
    let reluFusedAcrossNoise: [Bool]
    /// Layer i is a convolution with a fused ReLU (`reluFusedForward`) followed by a max pool at i + 2 that runs
    /// inside the convolution's pass, band by band of each sample's output rows while they are still in cache
    /// (`Conv2d.forward(…, band:, perBand:)`): the pool's input is read from cache instead of memory, same bits.
    let poolFusedForward: [Bool]
    /// For a max pool whose forward pass runs inside the convolution two layers back (`poolFusedForward`), or that
    /// follows additive noise on a ReLU's output (`reluFusedAcrossNoise`), a byte per output element naming the
    /// window position its gradient goes back to, or none (`maxPoolForward(…, routes:)`): its backward pass reads
    /// these and dy instead of its input and output (and the ReLU's output): the McMahan CNN's first pool at batch
    /// 64 reads 2 MB instead of 8 (15 after noise), mostly from memory. Indexed by the pool's layer; nil for other
    /// layers.
    let poolRoutes: [UnsafeMutablePointer<UInt8>?]
    /// Whether the last forward pass wrote `poolRoutes[i]` (it does where it ran pool i inside its convolution).
    private var routesRecorded: [Bool]
    /// Whether the last forward pass's pool i drew the multiplicative noise before it and kept m per pooled output
    /// (`MaxPool2d.forwardAcrossNoise`) in that noise layer's workspace, instead of the layer's whole factor tensor.
    var factorPerOutput: [Bool]
    /// Whether the last forward pass wrote every layer's output to its activation buffer (`forward(…,
    /// keepsActivations:keepsPoolInputs:)`), as the per-example passes need.
    private(set) var poolInputsKept = true
    /// Off while something reads layer outputs as they pass (an `ActivationTap`): a convolution's output must then be
    /// its own, before the ReLU.
    var fusesReLUForward = true
    let scratch: [UnsafeMutablePointer<Float>]
    let gradientA: UnsafeMutablePointer<Float>
    let gradientB: UnsafeMutablePointer<Float>
    let inputGradientBuffer: UnsafeMutablePointer<Float>
    private var allocations: [UnsafeMutableRawPointer] = []

    public init(network: Network, capacity: Int) {
        precondition(capacity > 0, "workspace capacity must be positive")
        self.network = network
        self.capacity = capacity
        func allocate(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        var acts = [allocate(capacity * network.inputSize)]
        var largest = network.inputSize
        // For each buffer, whether a layer's backward still reads the values it holds (the network input counts:
        // callers own it).
        var bufferValuesNeeded = [true]
        var shares: [Bool] = []
        for (i, layer) in network.layers.enumerated() {
            let size = network.shapes[i + 1].reduce(1, *)
            largest = max(largest, size)
            let share: Bool
            switch layer.inPlace {
            case .never: share = false
            case .view: share = true
            case .elementwise: share = !bufferValuesNeeded[i]
            }
            shares.append(share)
            acts.append(share ? acts[i] : allocate(capacity * size))
            let needed = layer.backwardReadsOutput || (layer.inPlace == .view && share && bufferValuesNeeded[i])
            bufferValuesNeeded.append(needed)
        }
        activations = acts
        sharesInput = shares
        // Fusions that keep every bit (the kernels' tests compare them with the separate passes): a ReLU in the
        // store of the implicit convolution before it, and in the backward pass of the max pool after it. Each
        // saves a pass over the activation (≈ 5 MB a step in `small-cnn` at batch 64).
        let layers = network.layers
        reluFusedForward = layers.indices.map { i in
            guard i + 1 < layers.count, layers[i + 1] is ReLU, shares[i + 1], let conv = layers[i] as? Conv2d
            else { return false }
            return conv.canFuseReLU(input: network.shapes[i])
        }
        // Not for a ReLU that is layer 0: its input gradient goes to `inputGradientBuffer`, which only its own
        // backward pass writes (as for the identity layers below).
        reluFusedBackward = layers.indices.map { i in i > 1 && layers[i] is MaxPool2d && layers[i - 1] is ReLU }
        // Across an additive noise layer (an `author` or M2 network): the pool reads the ReLU's output, so that
        // layer must not overwrite it (its own buffer, which it has: the ReLU's backward pass reads its output).
        reluFusedAcrossNoise = layers.indices.map { i in
            guard i > 2, let pool = layers[i] as? MaxPool2d, layers[i - 2] is ReLU,
                  let noise = layers[i - 1] as? NoiseLayer
            else { return false }
            // Multiplicative noise too, its dx = dy·m folded into the pool's routed gradients (one product per
            // routed element, as the noise layer forms it), where windows do not overlap (overlapping sums would
            // be multiplied before adding).
            let folds = noise.backwardIsIdentity || (noise.distribution.isMultiplicative && pool.stride >= pool.size)
            return folds && !shares[i - 1]
        }
        poolFusedForward = layers.indices.map { [reluFusedForward] i in
            reluFusedForward[i] && i + 2 < layers.count && layers[i + 2] is MaxPool2d
        }
        poolRoutes = layers.indices.map { [poolFusedForward, reluFusedAcrossNoise] i in
            guard i > 1, poolFusedForward[i - 2] || reluFusedAcrossNoise[i], let pool = layers[i] as? MaxPool2d,
                  pool.recordsRoutes
            else { return nil }
            let bytes = max(capacity * network.shapes[i + 1].reduce(1, *), 1)
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes)
            p.initialize(repeating: maxPoolNoRoute, count: bytes)
            return p
        }
        routesRecorded = [Bool](repeating: false, count: layers.count)
        factorPerOutput = routesRecorded
        scratch = network.layers.enumerated().map { i, layer in
            allocate(capacity * layer.workspaceSize(input: network.shapes[i]))
        }
        gradientA = allocate(capacity * largest)
        gradientB = allocate(capacity * largest)
        inputGradientBuffer = allocate(capacity * network.inputSize)
        gradient = UnsafeMutableBufferPointer(start: allocate(network.parameterCount), count: network.parameterCount)
        var seen = Set<UnsafeMutableRawPointer>()
        for p in acts + scratch + [gradientA, gradientB, inputGradientBuffer, gradient.baseAddress!] {
            if seen.insert(UnsafeMutableRawPointer(p)).inserted { allocations.append(UnsafeMutableRawPointer(p)) }
        }
        allocations += poolRoutes.compactMap { $0.map(UnsafeMutableRawPointer.init) }
    }

    deinit {
        for p in allocations { p.deallocate() }
    }

    /// An upper bound on the bytes `init(network:capacity:)` allocates (buffers that alias their input counted as
    /// separate), or nil when the count does not fit an `Int`: what callers check before asking for a workspace
    /// sized by a user's batch size.
    public static func bytesNeeded(network: Network, capacity: Int) -> Int? {
        var perSample = network.inputSize * 2  // the input and ∂L/∂input
        var largest = network.inputSize
        for (i, layer) in network.layers.enumerated() {
            let size = network.shapes[i + 1].reduce(1, *)
            largest = max(largest, size)
            perSample += size + layer.workspaceSize(input: network.shapes[i])
            if layer is MaxPool2d { perSample += (size + 3) / 4 }  // its routes, a byte per output, if recorded
        }
        perSample += 2 * largest  // the two gradient buffers
        let (floats, overflow) = capacity.multipliedReportingOverflow(by: perSample)
        let (total, overflow2) = floats.addingReportingOverflow(network.parameterCount)
        let (bytes, overflow3) = total.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        return overflow || overflow2 || overflow3 ? nil : bytes
    }

    /// The network's output for the last forward batch (batch × outputSize).
    public var output: UnsafeMutablePointer<Float> { activations[activations.count - 1] }

    public func zeroGradient() {
        gradient.update(repeating: 0)
    }

    /// When set, called after each layer's forward (`backward == false`) and backward pass with the layer index:
    /// a hook for per-layer profiling (`fednoise bench --layers`).
    public var layerHook: ((_ layer: Int, _ backward: Bool) -> Void)?

    /// Runs the layers on the first `batch` samples of `input`. Noisy layers draw from `noise` when training.
    /// With `keepsActivations` false (inference only: no `backward` may follow, and no `layerHook` may read the
    /// layer outputs) a convolution whose max pool is fused (`poolFusions`) keeps each sample's output in per-thread
    /// scratch until the pool has read it, instead of writing it to its activation buffer: the pooled values and
    /// `output` are the same bits, and a pass over memory is saved. With `keepsPoolInputs` false, only for a pool
    /// that records its routes (`poolRouteLayers`), the same is done in training: `backward` and `backwardAndStep`
    /// read the routes and never that output, but the per-example passes (DP-SGD) read it and refuse to follow.
    /// Either flag false also lets a pool after noise on a ReLU's output draw that noise itself (`noiseDrawnInPool`):
    /// the noise layer's output is then not written.
    public func forward(parameters: UnsafePointer<Float>, batch: Int, training: Bool, noise: NoiseSource = .none,
                        keepsActivations: Bool = true, keepsPoolInputs: Bool = true) {
        precondition(batch > 0 && batch <= capacity, "batch \(batch) outside 1…\(capacity)")
        for i in routesRecorded.indices { routesRecorded[i] = false; factorPerOutput[i] = false }
        poolInputsKept = keepsActivations
        // Pools after noise on a ReLU's output draw that noise themselves unless every layer output is kept.
        let poolDrawsNoise = !(keepsActivations && keepsPoolInputs)
        // A pool that ran, with the noise before it, in its convolution's registers (`poolsAcrossNoiseInTiles`).
        var pooledInTiles: Int? = nil
        for (i, layer) in network.layers.enumerated() {
            defer { layerHook?(i, false) }
            if i == pooledInTiles { continue }
            // A ReLU whose convolution already applied it (in place: its output is the convolution's).
            if fusesReLUForward && i > 0 && reluFusedForward[i - 1] { continue }
            // A max pool that ran band by band inside the convolution two layers back.
            if fusesReLUForward && i > 1 && poolFusedForward[i - 2] { continue }
            // A noise layer that the max pool after it draws row by row (its output is never stored).
            if fusesReLUForward && poolDrawsNoise && i + 1 < network.layers.count && drawsNoiseInPool(i + 1) {
                continue
            }
            let context = forwardContext(i, parameters: parameters, batch: batch, training: training, noise: noise)
            if fusesReLUForward && reluFusedForward[i], let conv = layer as? Conv2d {
                if poolDrawsNoise, let routes = poolRoutes[i + 3], let tileNoise = tileNoise(
                    convolution: i, parameters: parameters, batch: batch, training: training, noise: noise) {
                    // Convolution, ReLU, Gaussian noise and pool in registers: neither output is stored.
                    conv.forwardPooled(context, input: network.shapes[i], pooled: activations[i + 4], routes: routes,
                                       noise: tileNoise)
                    routesRecorded[i + 3] = true
                    poolInputsKept = false
                    pooledInTiles = i + 3
                    continue
                }
                if poolFusedForward[i], let pool = network.layers[i + 2] as? MaxPool2d {
                    let pooled = activations[i + 3], shape = network.shapes[i + 2], routes = poolRoutes[i + 2]
                    // With routes, the backward pass does not read the convolution's output.
                    let keepsOutput = keepsActivations && (routes == nil || keepsPoolInputs)
                    if !keepsOutput, let routes, poolsInTiles(convolution: i) {
                        // Pooled in the convolution's registers: the convolution's output is never stored.
                        conv.forwardPooled(context, input: network.shapes[i], pooled: pooled, routes: routes)
                        routesRecorded[i + 2] = true
                        poolInputsKept = false
                        continue
                    }
                    // Band by band: each band of the pool's stride in rows completes a row of pooled outputs,
                    // pooled while those rows are in L1 and its stores spread over the convolution's work. Windows
                    // that do not overlap read only their band, so an output kept in scratch needs one band's room.
                    conv.forward(context, input: network.shapes[i], fusedReLU: true, band: pool.stride,
                                 perBand: { n, band, rows in
                        pool.forwardRows(n, of: batch, input: band, output: pooled, routes: routes, shape: shape,
                                         inputRows: rows)
                    }, outputInScratch: !keepsOutput, bandRowsOnly: pool.size <= pool.stride)
                    routesRecorded[i + 2] = routes != nil
                    poolInputsKept = poolInputsKept && keepsOutput
                } else {
                    conv.forward(context, input: network.shapes[i], fusedReLU: true)
                }
            } else if fusesReLUForward && reluFusedAcrossNoise[i], let routes = poolRoutes[i],
                      let pool = layer as? MaxPool2d {
                if poolDrawsNoise && drawsNoiseInPool(i), let noiseLayer = network.layers[i - 1] as? NoiseLayer {
                    let noiseContext = forwardContext(i - 1, parameters: parameters, batch: batch, training: training,
                                                      noise: noise)
                    let shape = network.shapes[i - 1]
                    factorPerOutput[i] = noiseLayer.workspaceSize(input: shape) > 0
                    pool.forwardAcrossNoise(context, input: network.shapes[i], routes: routes,
                                            reluOutput: UnsafePointer(activations[i - 1]),
                                            draw: noiseLayer.draw(noiseContext, input: shape),
                                            routedFactor: factorPerOutput[i] ? scratch[i - 1] : nil)
                    poolInputsKept = false
                } else {
                    pool.forward(context, input: network.shapes[i], routes: routes,
                                 reluOutput: UnsafePointer(activations[i - 1]))
                }
                routesRecorded[i] = true
            } else {
                layer.forward(context, input: network.shapes[i])
            }
        }
    }

    /// Back-propagates `outputGradient` (batch × outputSize, e.g. from `softmaxCrossEntropy`) through the layers
    /// of the last forward pass into `gradient`: added to what is there (`accumulate`, the default) or replacing
    /// it, in which case frozen layers' slices are set to zero. Layers in `frozen` get no gradient.
    /// With `inputGradient`, ∂L/∂input is written to `inputGradient`.
    public func backward(parameters: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, batch: Int,
                         frozen: Set<Int> = [], inputGradient wantInput: Bool = false, accumulate: Bool = true) {
        backwardPass(parameters: parameters, outputGradient: outputGradient, batch: batch, frozen: frozen,
                     wantInput: wantInput, accumulate: accumulate, step: nil)
    }

    /// Back-propagates like `backward(… accumulate: false)` and applies a plain SGD step w ← w − learningRate·∂L/∂w
    /// to every layer not in `frozen`, layer by layer as its gradient is ready. Layers with `supportsFusedUpdate`
    /// update their weights inside their own pass (e.g. a GEMM straight into the weights), the others through
    /// their slice of `gradient`. The result is the same as `backward` followed by `SGD.step` with momentum and
    /// weight decay 0, but `gradient` does not hold ∂L/∂parameters afterwards: use this only when nobody needs the
    /// gradient itself (no clipping, no noise, no norms).
    public func backwardAndStep(parameters: UnsafeMutablePointer<Float>, outputGradient: UnsafePointer<Float>,
                                batch: Int, learningRate: Float, frozen: Set<Int> = []) {
        backwardPass(parameters: UnsafePointer(parameters), outputGradient: outputGradient, batch: batch,
                     frozen: frozen, wantInput: false, accumulate: false, step: (parameters, learningRate))
    }

    private func backwardPass(parameters: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, batch: Int,
                              frozen: Set<Int>, wantInput: Bool, accumulate: Bool,
                              step: (parameters: UnsafeMutablePointer<Float>, learningRate: Float)?) {
        var written = [Bool](repeating: false, count: network.layers.count)
        defer {
            if !accumulate {
                for i in network.layers.indices where !written[i] {
                    let r = network.parameterRanges[i]
                    (gradient.baseAddress! + r.lowerBound).update(repeating: 0, count: r.count)
                }
            }
        }
        let layers = network.layers
        var current = gradientA, other = gradientB
        current.update(from: outputGradient, count: batch * network.outputSize)
        // The earliest layer whose input gradient anyone needs.
        let firstTrainable = layers.indices.first { !frozen.contains($0) && network.parameterRanges[$0].count > 0 }
        func needsInput(_ i: Int) -> Bool { i > 0 ? (wantInput || (firstTrainable.map { $0 < i } ?? false)) : wantInput }
        // A max pool (after a ReLU it already fuses, directly or across additive noise) whose backward pass runs
        // sample by sample inside the weight gradient of the convolution before that ReLU, when nothing needs that
        // convolution's input gradient: the pool's input gradient then never goes to memory (the same bits). Its
        // index and output gradient.
        var deferredPool: (index: Int, outputGradient: UnsafeMutablePointer<Float>)?
        for i in layers.indices.reversed() {
            let layer = layers[i]
            defer { layerHook?(i, true) }
            let needInput = needsInput(i)
            // (Not for a convolution that would take a fused update: that path does not read sample gradients.
            // Across noise only with routes: they hold the ReLU's mask, which the pool's input no longer does.)
            if poolBackwardCanFuse(i), let c = poolBackwardConvolution(i), !needsInput(c), !frozen.contains(c),
               !(step != nil && layers[c].supportsFusedUpdate), reluFusedBackward[i] || routesRecorded[i] {
                deferredPool = (i, current)
                continue
            }
            // A ReLU whose max pool already wrote its input gradient into `current`, directly or across the
            // additive noise layer after it (whose backward pass is skipped too).
            if (i + 1 < layers.count && (reluFusedBackward[i + 1] || reluFusedAcrossNoise[i + 1]))
                || (i + 2 < layers.count && reluFusedAcrossNoise[i + 2]) {
                guard needInput else { break }
                continue
            }
            if i > 0 && layer.backwardIsIdentity && network.parameterRanges[i].isEmpty {
                // ∂L/∂input = ∂L/∂output: `current` already holds it for layer i − 1.
                guard needInput else { break }
                continue
            }
            let dx: UnsafeMutablePointer<Float>? =
                needInput ? (i == 0 ? inputGradientBuffer : (sharesInput[i] ? current : other)) : nil
            let paramGradient = frozen.contains(i) ? nil : gradient.baseAddress! + network.parameterRanges[i].lowerBound
            let context = BackwardContext(
                input: activations[i], output: activations[i + 1], outputGradient: current, inputGradient: dx,
                parameters: parameters + network.parameterRanges[i].lowerBound,
                parameterGradient: network.parameterRanges[i].isEmpty ? nil : paramGradient,
                accumulate: accumulate, workspace: scratch[i], batch: batch)
            written[i] = paramGradient != nil
            func run(_ context: BackwardContext) {
                if let pooled = deferredPool, poolBackwardConvolution(pooled.index) == i, let conv = layer as? Conv2d,
                   let pool = layers[pooled.index] as? MaxPool2d {
                    let x = UnsafePointer(activations[pooled.index]), y = UnsafePointer(activations[pooled.index + 1])
                    let dy = UnsafePointer(pooled.outputGradient), shape = network.shapes[pooled.index]
                    let routes = routesRecorded[pooled.index] ? poolRoutes[pooled.index].map { UnsafePointer($0) } : nil
                    let factor = foldedNoiseFactor(pool: pooled.index)
                    conv.backward(context, input: network.shapes[i]) { n, dx in
                        if let routes {
                            pool.backwardSample(n, of: batch, routes: routes, outputGradient: dy, into: dx,
                                                shape: shape, factor: factor)
                        } else {
                            pool.backwardSample(n, input: x, output: y, outputGradient: dy, into: dx, shape: shape,
                                                reluBefore: true)
                        }
                    }
                } else {
                    layer.backward(context, input: network.shapes[i])
                }
            }
            if let step, let g = context.parameterGradient {
                let range = network.parameterRanges[i]
                let w = step.parameters + range.lowerBound
                if layer.supportsFusedUpdate {
                    var fused = context
                    fused.fusedUpdate = FusedUpdate(parameters: w, learningRate: step.learningRate)
                    layer.backward(fused, input: network.shapes[i])
                } else {
                    run(context)
                    sgdStepParallel(w, g, velocity: nil, count: range.count, learningRate: step.learningRate,
                                    momentum: 0, dampening: 0, weightDecay: 0, nesterov: false)
                }
            } else if reluFusedBackward[i], let pool = layer as? MaxPool2d {
                if routesRecorded[i], let routes = poolRoutes[i] {
                    pool.backward(context, input: network.shapes[i], routes: routes)
                } else {
                    pool.backward(context, input: network.shapes[i], reluBefore: true)
                }
            } else if reluFusedAcrossNoise[i], let pool = layer as? MaxPool2d {
                if routesRecorded[i], let routes = poolRoutes[i] {
                    pool.backward(context, input: network.shapes[i], routes: routes, factor: foldedNoiseFactor(pool: i))
                } else {
                    pool.backward(context, input: network.shapes[i], reluBefore: true,
                                  reluOutput: UnsafePointer(activations[i - 1]),
                                  factor: foldedNoiseFactor(pool: i)?.elementwise)
                }
            } else {
                run(context)
            }
            guard needInput else { break }
            if let dx, dx != current {
                other = current
                current = dx
            }
        }
    }
}
