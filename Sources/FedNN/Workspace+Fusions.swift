// Workspace+Fusions: which layers run inside a neighbour (ReLUs, max pools, their routes), for tests and profiles.
import FedTensor

extension Workspace {
    /// The ReLU layers run inside a neighbour: those applied in the preceding convolution's store, and those whose
    /// backward pass the following max pool performs (the same bits as running them; for tests and profiles).
    /// (`intoMaxPool` includes ReLUs whose max pool follows an additive noise layer after them: `acrossNoise`.)
    public var reluFusions: (intoConvolution: [Int], intoMaxPool: [Int]) {
        (reluFusedForward.indices.filter { reluFusedForward[$0] }.map { $0 + 1 },
         (reluFusedBackward.indices.filter { reluFusedBackward[$0] }.map { $0 - 1 } + reluFusionsAcrossNoise).sorted())
    }
    /// The ReLUs whose backward pass (and that of the additive or multiplicative noise layer after them) runs in
    /// the max pool after that noise layer (the same parameters).
    public var reluFusionsAcrossNoise: [Int] {
        reluFusedAcrossNoise.indices.filter { reluFusedAcrossNoise[$0] }.map { $0 - 2 }
    }
    /// Layer i is a max pool after a ReLU (`reluFusedBackward`) after an implicit convolution, or after additive
    /// noise on such a ReLU's output (`reluFusedAcrossNoise`) with the routes the forward pass recorded (they carry
    /// the ReLU's mask): its backward pass can run sample by sample inside that convolution's weight gradient (when
    /// nothing needs the convolution's input gradient and it is not frozen).
    func poolBackwardCanFuse(_ i: Int) -> Bool {
        guard let c = poolBackwardConvolution(i), network.layers[i] is MaxPool2d,
              let conv = network.layers[c] as? Conv2d, reluFusedBackward[i] || poolRoutes[i] != nil
        else { return false }
        return conv.canTakeSampleGradients(input: network.shapes[c])
    }

    /// The factor m of the multiplicative noise layer before max pool i, when the pool folds that layer's backward
    /// pass in (`reluFusedAcrossNoise`): that layer's workspace, written by its forward pass (the whole factor
    /// tensor) or by the pool's (m per pooled output: `factorPerOutput`). nil for additive noise (the identity) and
    /// for other pools.
    func foldedNoiseFactor(pool i: Int) -> PoolFactor? {
        guard reluFusedAcrossNoise[i], let noise = network.layers[i - 1] as? NoiseLayer, !noise.backwardIsIdentity
        else { return nil }
        let m = UnsafePointer(scratch[i - 1])
        return factorPerOutput[i] ? .perOutput(m) : .perElement(m)
    }

    /// Whether max pool i, after a noise layer on a ReLU's output (`reluFusedAcrossNoise`, with routes), applies
    /// that layer's noise itself, output row by output row (`MaxPool2d.forwardAcrossNoise`), in passes that keep no
    /// pool input (training steps): windows that do not overlap.
    func drawsNoiseInPool(_ i: Int) -> Bool {
        guard reluFusedAcrossNoise[i], poolRoutes[i] != nil, let pool = network.layers[i] as? MaxPool2d
        else { return false }
        return pool.stride >= pool.size
    }

    /// The noise layers whose noise the max pool after them draws row by row in training steps (`drawsNoiseInPool`):
    /// their output is never stored (the same pooled values and routes).
    public var noiseDrawnInPool: [Int] { network.layers.indices.filter { drawsNoiseInPool($0) }.map { $0 - 1 } }

    /// The convolution before max pool i's ReLU (and the noise after it): i − 2, or i − 3 across noise.
    func poolBackwardConvolution(_ i: Int) -> Int? {
        reluFusedBackward[i] ? i - 2 : reluFusedAcrossNoise[i] ? i - 3 : nil
    }

    /// The max pools whose backward pass runs sample by sample inside the weight gradient of the convolution before
    /// their ReLU in a training step that freezes nothing and wants no input gradient (`backwardAndStep`):
    /// where that convolution is the first layer with parameters. The same bits as running them as layers.
    public var poolBackwardFusions: [Int] {
        let first = network.layers.indices.first { network.parameterRanges[$0].count > 0 }
        return network.layers.indices.filter { i in
            poolBackwardCanFuse(i) && (first.map { $0 >= poolBackwardConvolution(i)! } ?? true)
        }
    }

    /// The max pools whose forward pass runs inside the convolution two layers before them (after its fused ReLU),
    /// band by band of each sample's rows; the same bits as running them as layers.
    public var poolFusions: [Int] { poolFusedForward.indices.filter { poolFusedForward[$0] }.map { $0 + 2 } }
    /// Of `poolFusions`, those computed in the convolution's own register tiles (`Conv2d.forwardPooled`: one input
    /// channel, 32 filters, 2 × 2 windows) wherever that convolution's output is not kept (training steps): the
    /// convolution's output is then never stored.
    public var poolTileFusions: [Int] { poolFusions.filter { poolsInTiles(convolution: $0 - 2) } }
    /// Of `noiseDrawnInPool`, the noise layers whose noise the convolution two layers before them draws in its
    /// register tiles instead, with the ReLU and the pool after the noise (`poolsAcrossNoiseInTiles`): the same
    /// pooled values and routes, and neither the convolution's output nor the noisy tensor is stored.
    public var noiseDrawnInTiles: [Int] {
        network.layers.indices.filter { poolsAcrossNoiseInTiles(convolution: $0) }.map { $0 + 2 }
    }

    /// Whether the pool two layers after convolution `i` (`poolFusedForward`) can run in its register tiles.
    /// Whether convolution i, its ReLU, the noise layer after that and the max pool after the noise run in the
    /// convolution's registers in training steps that draw the noise in the pool (`drawsNoiseInPool`): a one-channel
    /// convolution that can pool in its tiles (`Conv2d.canForwardPooled`), a 2 × 2 pool of stride 2, and additive
    /// Gaussian noise of an absolute level (a relative one needs the whole clean tensor's RMS first).
    func poolsAcrossNoiseInTiles(convolution i: Int) -> Bool {
        guard i + 3 < network.layers.count, reluFusedForward[i], drawsNoiseInPool(i + 3),
              let conv = network.layers[i] as? Conv2d, let noise = network.layers[i + 2] as? NoiseLayer,
              let pool = network.layers[i + 3] as? MaxPool2d else { return false }
        return noise.distribution == .gaussian && !noise.relative && pool.size == 2 && pool.stride == 2
            && conv.canForwardPooled(input: network.shapes[i])
    }

    /// The noise convolution i's tiles draw in this forward pass (`poolsAcrossNoiseInTiles`): the noise layer's
    /// key and level at this step, or nil where that layer adds nothing (outside training, a level of 0).
    func tileNoise(convolution i: Int, parameters: UnsafePointer<Float>, batch: Int, training: Bool,
                   noise: NoiseSource) -> PooledTileNoise? {
        guard poolsAcrossNoiseInTiles(convolution: i), let layer = network.layers[i + 2] as? NoiseLayer,
              let draw = layer.draw(forwardContext(i + 2, parameters: parameters, batch: batch, training: training,
                                                   noise: noise), input: network.shapes[i + 2])
        else { return nil }
        return PooledTileNoise(key: draw.key, std: draw.level)
    }

    /// Layer i's forward context in this workspace: its input and output activations, parameters and scratch.
    func forwardContext(_ i: Int, parameters: UnsafePointer<Float>, batch: Int, training: Bool,
                        noise: NoiseSource) -> ForwardContext {
        ForwardContext(input: activations[i], output: activations[i + 1],
                       parameters: parameters + network.parameterRanges[i].lowerBound, workspace: scratch[i],
                       batch: batch, training: training, noise: noise)
    }

    func poolsInTiles(convolution i: Int) -> Bool {
        guard poolFusedForward[i], poolRoutes[i + 2] != nil, let conv = network.layers[i] as? Conv2d,
              let pool = network.layers[i + 2] as? MaxPool2d else { return false }
        return pool.size == 2 && pool.stride == 2 && conv.canForwardPooled(input: network.shapes[i])
    }
    /// The max pools whose forward pass, run inside their convolution (`poolFusions`) or after additive noise on a
    /// ReLU's output (`reluFusionsAcrossNoise`), records which window element took each max (`maxPoolForward(…,
    /// routes:)`), so that their backward pass reads those bytes instead of the pool's input and output (the same
    /// bits).
    public var poolRouteLayers: [Int] { poolRoutes.indices.filter { poolRoutes[$0] != nil } }
}
