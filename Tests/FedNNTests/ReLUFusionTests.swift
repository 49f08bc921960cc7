// ReLUFusionTests: a workspace's fusions (ReLUs into convolutions and max pools, pools into convolutions) keep every bit.
import FedNN
import FedTensor
import Testing

/// Thread counts are set for the test's own task (`ComputeThreads.$taskLimit`), not process-wide, so suites running
/// meanwhile keep theirs.
@Suite struct ReLUFusionTests {
    /// `network` with a zero-level multiplicative noise layer (x·1 forward, g·1 backward: the same bits; no
    /// parameters; its backward pass is not the identity, so no fusion reaches across it) before and after every
    /// ReLU: no convolution is followed by a ReLU and no max pool preceded by one or by additive noise after one, so
    /// nothing is fused, and the layers compute exactly what the fused network's do, pass by pass.
    static func separated(_ network: Network) throws -> Network {
        var layers: [any Layer] = []
        for layer in network.layers {
            if layer is ReLU {
                // Salt-and-pepper at level 0: the identity, with a backward pass (dx = dy·1) that no pool folds in.
                layers += [NoiseLayer(.saltAndPepper, level: 0), layer, NoiseLayer(.saltAndPepper, level: 0)]
            } else {
                layers.append(layer)
            }
        }
        return try Network(inputShape: network.inputShape, layers: layers)
    }

    struct Run: Equatable {
        var logits: [UInt32], gradient: [UInt32], inputGradient: [UInt32], stepped: [UInt32]
        /// The gradient of a backward pass that wants no input gradient (where a max pool's backward pass runs
        /// inside the first convolution's weight gradient), replacing rather than adding.
        var gradientAlone: [UInt32] = []

        /// How many values of each part differ from `other`'s (a readable failure instead of two long arrays).
        func differences(_ other: Run) -> String {
            func count(_ a: [UInt32], _ b: [UInt32]) -> Int { a.count != b.count ? -1 : zip(a, b).filter(!=).count }
            return "logits \(count(logits, other.logits)), gradient \(count(gradient, other.gradient)), "
                + "input gradient \(count(inputGradient, other.inputGradient)), step \(count(stepped, other.stepped)), "
                + "gradient without input gradient \(count(gradientAlone, other.gradientAlone))"
        }
    }

    static func expectSame(_ a: Run, _ b: Run, _ label: String) {
        let same = a == b
        #expect(same, "\(label): values differing: \(a.differences(b))")
    }

    /// Forward (training and evaluation), backward with the input gradient, and a fused SGD step, on a batch of
    /// random images with ±0 and negative pixels.
    /// `parameters`: the same vector for both networks (their layouts agree; an initialisation would not, since
    /// it draws per layer index).
    /// `noisy`: the network infuses noise in training, so its training forward pass is not its evaluation one.
    /// `fused` and its separated form (`separated`) from the same initial parameters (`seed`), for each (batch,
    /// threads) of `runs`: the same bits (`expectSame`).
    static func expectSeparatedBits(_ fused: Network, seed: UInt64, runs: [(batch: Int, threads: Int)],
                                    _ label: String) throws {
        let plain = try separated(fused)
        let w = fused.initialParameters(key: StreamKey(seed: seed))
        for (batch, threads) in runs {
            expectSame(run(fused, parameters: w, batch: batch, threads: threads),
                       run(plain, parameters: w, batch: batch, threads: threads),
                       "\(label), batch \(batch), \(threads) threads")
        }
    }

    static func run(_ network: Network, parameters start: [Float], batch: Int, threads: Int,
                    noisy: Bool = false) -> Run {
        ComputeThreads.$taskLimit.withValue(threads) {
            var parameters = start
            #expect(parameters.count == network.parameterCount)
            let ws = Workspace(network: network, capacity: batch)
            var rng = Philox(seed: 9, UInt64(batch))
            for i in 0..<(batch * network.inputSize) {
                ws.input[i] = i % 11 == 0 ? -0.0 : Float(rng.nextGaussian())
            }
            let labels = (0..<batch).map { Int32($0 % network.outputSize) }
            // Inference without keeping the activations first, on the fresh (zeroed) workspace, so that a fused
            // pool reading the convolution's activation buffer instead of its scratch output would be caught.
            let outputs = batch * network.outputSize
            ws.forward(parameters: parameters, batch: batch, training: false, keepsActivations: false)
            let lean = Array(UnsafeBufferPointer(start: ws.output, count: outputs))
            ws.forward(parameters: parameters, batch: batch, training: false)
            let evaluation = Array(UnsafeBufferPointer(start: ws.output, count: outputs))
            let differing = zip(lean, evaluation).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "keepsActivations false: \(differing) of \(outputs) logits differ")
            ws.forward(parameters: parameters, batch: batch, training: true, noise: NoiseSource(key: StreamKey(seed: 4), step: 0))
            var dLogits = [Float](repeating: 0, count: batch * network.outputSize)
            _ = softmaxCrossEntropy(logits: ws.output, labels: labels, batch: batch, classes: network.outputSize,
                                    gradient: &dLogits)
            let training = Array(UnsafeBufferPointer(start: ws.output, count: evaluation.count))
            #expect(noisy ? training != evaluation : training == evaluation)
            ws.zeroGradient()
            ws.backward(parameters: parameters, outputGradient: dLogits, batch: batch, inputGradient: true)
            let gradient = Array(ws.gradient)
            let inputGradient = Array(UnsafeBufferPointer(start: ws.inputGradient, count: batch * network.inputSize))
            ws.gradient.update(repeating: .nan)
            ws.backward(parameters: parameters, outputGradient: dLogits, batch: batch, accumulate: false)
            let gradientAlone = Array(ws.gradient)
            // As `trainingStep` runs it, on a fresh (zeroed) workspace: a fused pool's convolution output is not
            // kept (`keepsPoolInputs: false`), so a backward pass reading it instead of the routes would be caught.
            let fresh = Workspace(network: network, capacity: batch)
            fresh.input.update(from: ws.input, count: batch * network.inputSize)
            fresh.forward(parameters: parameters, batch: batch, training: true,
                          noise: NoiseSource(key: StreamKey(seed: 4), step: 0), keepsPoolInputs: false)
            fresh.backward(parameters: parameters, outputGradient: dLogits, batch: batch, accumulate: false)
            let leanDiffers = zip(fresh.gradient, gradientAlone).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(leanDiffers == 0, "keepsPoolInputs false: \(leanDiffers) gradient values differ")
            // A second backward pass on the same forward pass gives the first one's parameter gradient (the first
            // convolution's input gradient, a GEMM into columns here, once overwrote its saved padded input).
            let secondDiffers = zip(gradientAlone, gradient).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(secondDiffers == 0, "second backward pass: \(secondDiffers) gradient values differ")
            parameters.withUnsafeMutableBufferPointer { p in
                ws.backwardAndStep(parameters: p.baseAddress!, outputGradient: dLogits, batch: batch,
                                   learningRate: 0.05)
            }
            return Run(logits: evaluation.map(\.bitPattern), gradient: gradient.map(\.bitPattern),
                       inputGradient: inputGradient.map(\.bitPattern), stepped: parameters.map(\.bitPattern),
                       gradientAlone: gradientAlone.map(\.bitPattern))
        }
    }

    /// The McMahan CNN (conv → ReLU → max pool twice), `small-cnn` and a 3 × 3, 16-channel convolution on odd image
    /// sizes: the fused network gives the separated network's logits, gradients, input gradient and SGD step bit
    /// for bit, on 1 and 2 threads. The fusions must actually happen in the first and not in the second.
    @Test(arguments: [ModelKind.cnn, .smallCNN])
    func fusedEqualsSeparated(_ kind: ModelKind) throws {
        let fused = try kind.network(inputShape: [28, 28, 1], classes: 10)
        let plain = try Self.separated(fused)
        let ws = Workspace(network: fused, capacity: 1)
        #expect(!ws.reluFusions.intoConvolution.isEmpty && !ws.reluFusions.intoMaxPool.isEmpty)
        // Every convolution → ReLU → max pool of these models also runs the pool inside the convolution's pass.
        #expect(ws.poolFusions == (kind == .cnn ? [2, 5] : [2]))
        #expect(ws.poolBackwardFusions == [2])
        // Both first convolutions (one channel to 32, 28 and 26 pixels wide) pool in their register tiles in
        // training steps where the host's tiles are 2 vectors wide or more (AVX-512; `trainingStep` below).
        #expect(ws.poolTileFusions == (GEMMTiling.host.vectors >= 2 ? [2] : []))
        // Their backward passes read the routes the fused forward passes recorded.
        #expect(ws.poolRouteLayers == ws.poolFusions)
        let other = Workspace(network: plain, capacity: 1)
        #expect(other.reluFusions.intoConvolution.isEmpty && other.reluFusions.intoMaxPool.isEmpty)
        #expect(other.poolFusions.isEmpty && other.poolBackwardFusions.isEmpty && other.poolRouteLayers.isEmpty)
        for (batch, threads) in [(3, 1), (17, 2)] {
            let w = fused.initialParameters(key: StreamKey(seed: 3))
            Self.expectSame(Self.run(fused, parameters: w, batch: batch, threads: threads),
                            Self.run(plain, parameters: w, batch: batch, threads: threads),
                            "\(kind.rawValue), batch \(batch), \(threads) threads")
        }
    }

    /// Odd image sizes, 20 channels (no implicit path for the first convolution, so only its max pool fuses the
    /// ReLU; a scalar channel tail in that pool) and an overlapping pool (stride 1) after an implicit convolution.
    @Test func oddShapesChannelTailsAndOverlappingPools() throws {
        let fused = try Network(inputShape: [9, 11, 2], layers: [
            Conv2d(2, 20, kernel: 3, padding: 1), ReLU(), MaxPool2d(2), Conv2d(20, 32, kernel: 3), ReLU(),
            MaxPool2d(2, stride: 1), Flatten(), Linear(64, 5),
        ])
        let ws = Workspace(network: fused, capacity: 1)
        #expect(ws.reluFusions.intoConvolution == [4] && ws.reluFusions.intoMaxPool == [1, 4])
        #expect(ws.poolFusions == [5] && ws.poolRouteLayers == [5])
        let plain = try Self.separated(fused)
        for threads in [1, 2] {
            let w = fused.initialParameters(key: StreamKey(seed: 3))
            Self.expectSame(Self.run(fused, parameters: w, batch: 5, threads: threads),
                            Self.run(plain, parameters: w, batch: 5, threads: threads), "\(threads) threads")
        }
    }

    /// A max pool run band by band inside the convolution before it (`MaxPool2d.forwardRows`): a 3 × 3 window at
    /// stride 2 (each band of 2 rows completes a pooled row whose window reaches into the band before), on heights
    /// whose last row no window reads; the convolutions over one input channel take the tiles that broadcast
    /// a pixel once per kernel row (rows of 10 = 5 + 5 pixels for k = 3; rows of 3, too short for them, for k = 5).
    @Test(arguments: [3, 5])
    func bandedPoolsAfterOneChannelConvolutions(_ k: Int) throws {
        let (h, w) = k == 3 ? (14, 10) : (7, 3)
        let pool = k == 3 ? MaxPool2d(3, stride: 2) : MaxPool2d(2)
        let (oh, ow) = k == 3 ? (6, 4) : (3, 1)
        let fused = try Network(inputShape: [h, w, 1], layers: [
            Conv2d(1, 32, kernel: k, padding: k / 2), ReLU(), pool, Flatten(), Linear(oh * ow * 32, 5),
        ])
        let ws = Workspace(network: fused, capacity: 1)
        #expect(ws.poolFusions == [2] && ws.poolRouteLayers == [2])
        try Self.expectSeparatedBits(fused, seed: 11, runs: [(3, 1), (33, 2)], "k \(k)")
    }

    /// A first convolution's max pool run inside its weight gradient on odd sizes: an overlapping pool (stride 1,
    /// whose backward pass adds into a zeroed buffer) and a 2 × 2 pool that leaves an edge row and column out, on
    /// 1 and 2 threads. (These products are too small to be split over threads; the McMahan CNN of
    /// `fusedEqualsSeparated` at batch 17 splits its first weight gradient over two workers.)
    @Test(arguments: [1, 2])
    func poolBackwardInsideTheFirstWeightGradient(_ stride: Int) throws {
        let fused = try Network(inputShape: [9, 11, 2], layers: [
            Conv2d(2, 32, kernel: 3, padding: 1), ReLU(), MaxPool2d(2, stride: stride), Flatten(),
            Linear(stride == 1 ? 8 * 10 * 32 : 4 * 5 * 32, 5),
        ])
        let ws = Workspace(network: fused, capacity: 1)
        #expect(ws.poolBackwardFusions == [2] && ws.poolRouteLayers == [2])
        try Self.expectSeparatedBits(fused, seed: 5, runs: [(3, 1), (40, 2)], "stride \(stride)")
    }

    /// Activation noise between each ReLU and its max pool (the `author` and M2 presets' place): the pool's backward
    /// pass masks with the ReLU's output, not with the noisy values it pools, and the noise and ReLU backward passes
    /// are skipped, bit for bit as the separated network computes them, on 1 and 2 threads. Multiplicative noise
    /// too: the pool multiplies each routed gradient by the noise's factor at its element. In training steps the
    /// pool also draws the noise itself, row by row, and the same gradient comes out, with absolute levels and
    /// with relative ones (σ from the whole clean output's RMS).
    @Test func reluBackwardAcrossNoiseInTheMaxPool() throws {
        func network(_ law: NoiseDistribution, relative: Bool = false) throws -> Network {
            try Network(inputShape: [12, 12, 1], layers: [
                Conv2d(1, 32, kernel: 5, padding: 2), ReLU(), NoiseLayer(law, level: 0.3, relative: relative, stream: 1),
                MaxPool2d(2), Conv2d(32, 32, kernel: 3, padding: 1), ReLU(),
                NoiseLayer(law, level: 0.2, relative: relative, stream: 2), MaxPool2d(2), Flatten(), Linear(9 * 32, 5),
            ])
        }
        for law in [NoiseDistribution.gaussian, .laplace, .uniform, .multiplicativeGaussian] {
            let fused = try network(law)
            #expect(Workspace(network: fused, capacity: 1).reluFusionsAcrossNoise == [1, 5])
            // Those pools record their routes in the forward pass, masked by the ReLU's output; with them, the
            // first one's backward pass runs inside the first convolution's weight gradient when no input gradient
            // is wanted (`run`'s `accumulate: false` pass).
            #expect(Workspace(network: fused, capacity: 1).poolRouteLayers == [3, 7])
            #expect(Workspace(network: fused, capacity: 1).poolBackwardFusions == [3])
            // In training steps (`keepsPoolInputs: false`, `run`'s fresh workspace) those pools draw the noise
            // themselves, row by row, and the noise layers' output is never stored.
            #expect(Workspace(network: fused, capacity: 1).noiseDrawnInPool == [2, 6])
            // The first convolution (one channel to 32) draws additive Gaussian noise of an absolute level in its
            // register tiles, with its ReLU and that pool, where the host's tiles are 2 vectors wide or more.
            #expect(Workspace(network: fused, capacity: 1).noiseDrawnInTiles
                    == (law == .gaussian && GEMMTiling.host.vectors >= 2 ? [2] : []))
            let plain = try Self.separated(fused)
            #expect(Workspace(network: plain, capacity: 1).reluFusionsAcrossNoise.isEmpty)
            #expect(Workspace(network: plain, capacity: 1).poolRouteLayers.isEmpty)
            let w = fused.initialParameters(key: StreamKey(seed: 6))
            for (batch, threads) in [(3, 1), (20, 2)] {
                Self.expectSame(Self.run(fused, parameters: w, batch: batch, threads: threads, noisy: true),
                                Self.run(plain, parameters: w, batch: batch, threads: threads, noisy: true),
                                "\(law.rawValue), batch \(batch), \(threads) threads")
            }
        }
        // Relative levels: the pool draws them too (not the tiles: σ needs the whole clean output's RMS first).
        for law in [NoiseDistribution.gaussian, .uniform] {
            let fused = try network(law, relative: true)
            #expect(Workspace(network: fused, capacity: 1).noiseDrawnInPool == [2, 6])
            #expect(Workspace(network: fused, capacity: 1).noiseDrawnInTiles.isEmpty)
            let w = fused.initialParameters(key: StreamKey(seed: 7))
            Self.expectSame(Self.run(fused, parameters: w, batch: 20, threads: 2, noisy: true),
                            Self.run(try Self.separated(fused), parameters: w, batch: 20, threads: 2, noisy: true),
                            "relative \(law.rawValue)")
        }
        // Not salt-and-pepper's keep mask (an input law), and not across overlapping windows (the routed sums
        // would be multiplied before adding).
        #expect(Workspace(network: try network(.saltAndPepper), capacity: 1).reluFusionsAcrossNoise.isEmpty)
        let overlapping = try Network(inputShape: [8, 8, 1], layers: [
            Conv2d(1, 16, kernel: 3, padding: 1), ReLU(), NoiseLayer(.multiplicativeGaussian, level: 0.3),
            MaxPool2d(2, stride: 1), Flatten(), Linear(7 * 7 * 16, 3),
        ])
        #expect(Workspace(network: overlapping, capacity: 1).reluFusionsAcrossNoise.isEmpty)
    }

    /// Gaussian noise drawn in the one-channel convolution's register tiles (`noiseDrawnInTiles`) on the tile shapes
    /// the 12-pixel network above does not reach: 3 × 3 and 5 × 5 filters on widths of 2 more than a multiple of 4
    /// (a last tile 2 pixels wide) and of a multiple of 4, bit for bit as the separated network computes them.
    @Test func gaussianNoiseDrawnInTheConvolutionTiles() throws {
        for (size, kernel) in [(10, 3), (14, 5), (8, 3)] {
            let fused = try Network(inputShape: [size, size, 1], layers: [
                Conv2d(1, 32, kernel: kernel, padding: kernel / 2), ReLU(),
                NoiseLayer(.gaussian, level: 0.4, stream: 3), MaxPool2d(2),
                Flatten(), Linear(size / 2 * size / 2 * 32, 4),
            ])
            #expect(Workspace(network: fused, capacity: 1).noiseDrawnInTiles
                    == (GEMMTiling.host.vectors >= 2 ? [2] : []))
            let w = fused.initialParameters(key: StreamKey(seed: 11))
            for (batch, threads) in [(3, 1), (20, 2)] {
                Self.expectSame(Self.run(fused, parameters: w, batch: batch, threads: threads, noisy: true),
                                Self.run(try Self.separated(fused), parameters: w, batch: batch, threads: threads,
                                         noisy: true),
                                "\(size) px, \(kernel) × \(kernel), batch \(batch), \(threads) threads")
            }
        }
    }

    /// A ReLU that is the first layer, before a max pool, is not fused: only its own backward pass writes the input
    /// gradient. The input gradient still equals the separated network's (which would be stale if it were fused).
    @Test func aFirstLayerReLUKeepsItsBackwardPass() throws {
        let net = try Network(inputShape: [6, 6, 16], layers: [ReLU(), MaxPool2d(2), Flatten(), Linear(144, 3)])
        #expect(Workspace(network: net, capacity: 1).reluFusions.intoMaxPool.isEmpty)
        let w = net.initialParameters(key: StreamKey(seed: 8))
        Self.expectSame(Self.run(net, parameters: w, batch: 4, threads: 1),
                        Self.run(try Self.separated(net), parameters: w, batch: 4, threads: 1), "first-layer ReLU")
    }
}
