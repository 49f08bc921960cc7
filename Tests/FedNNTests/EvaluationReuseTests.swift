// EvaluationReuseTests: an evaluation pass read twice (a tapped activation, kept logits) gives separate passes' bits.
import FedNN
import FedTensor
import Testing

@Suite("Evaluation reuse")
struct EvaluationReuseTests {
    /// 300 MNIST-shaped random images, 10 classes.
    func images(_ n: Int = 300) -> ArraySamples {
        var rng = Philox(seed: 5)
        return ArraySamples(pixels: (0..<(n * 784)).map { _ in Float(rng.nextGaussian()) },
                            labels: (0..<n).map { Int32(($0 * 7 + 3) % 10) }, sampleShape: [28, 28, 1], classCount: 10)
    }

    /// The paradox's M2 SNR: the clean RMS after small-cnn's ReLU over the first 256 members, read by a tap off
    /// the 64-sample member evaluation, equals the separate measurement (a conv + ReLU prefix run on the 256 as one
    /// batch, `rootMeanSquare` of its output) bit for bit; the tapped pass's numbers are the untapped pass's, and
    /// the model with M2's training-only noise layers evaluates to the same bits as the model without them.
    @Test func tappedActivationRMSEqualsTheSeparatePrefixPass() throws {
        let data = images()
        let base = try ParadoxCNN.small(inputShape: [28, 28, 1], classes: 10)
        let noisy = try NoiseInfusion(preset: .m2, level: 0.1).network(base)
        #expect(noisy.layers.count == base.layers.count + 1)
        let p = base.initialParameters(key: StreamKey(seed: 3, 0))
        let members = Array(0..<data.sampleCount), site = 1, samples = 256
        let size = base.shapes[site + 1].reduce(1, *)
        var stream = SumOfSquaresStream(), taken = 0
        let tap = ActivationTap(layer: site) { output, n in
            let k = min(n, samples - taken)
            guard k > 0 else { return }
            stream.add(output, count: k * size)
            taken += k
        }
        let workspace = Workspace(network: base, capacity: 64)
        let tapped = evaluateWithLosses(base, parameters: p, on: data, indices: members, workspace: workspace,
                                        tap: tap)
        #expect(taken == samples && workspace.layerHook == nil)

        let prefix = try Network(inputShape: base.inputShape, layers: Array(base.layers[0...site]))
        let whole = Workspace(network: prefix, capacity: samples)
        var labels = [Int32](repeating: 0, count: samples)
        members.prefix(samples).withUnsafeBufferPointer { idx in
            labels.withUnsafeMutableBufferPointer { data.gather(idx, inputs: whole.input, labels: $0.baseAddress!) }
        }
        p.withUnsafeBufferPointer { whole.forward(parameters: $0.baseAddress!, batch: samples, training: false) }
        let separate = rootMeanSquare(whole.output, count: samples * size)
        #expect(stream.rootMeanSquare.bitPattern == separate.bitPattern)

        let plain = evaluateWithLosses(base, parameters: p, on: data, indices: members, workspace: workspace)
        #expect(tapped.evaluation == plain.evaluation && tapped.losses == plain.losses)
        let withNoise = evaluateWithLosses(noisy, parameters: p, on: data, indices: members,
                                           workspace: Workspace(network: noisy, capacity: 64))
        #expect(withNoise.evaluation == plain.evaluation && withNoise.losses == plain.losses)
    }

    /// A tap on a convolution whose ReLU the workspace runs in the convolution's store (`reluFusions`) reads the
    /// convolution's own output, before the ReLU: its RMS equals a pass of the convolution alone, not of
    /// convolution and ReLU (which differ on these inputs); the tapped evaluation's numbers are the untapped one's.
    @Test func tapOnAFusedConvolutionReadsItsOwnOutput() throws {
        let data = images(128)
        let base = try ParadoxCNN.small(inputShape: [28, 28, 1], classes: 10)
        let p = base.initialParameters(key: StreamKey(seed: 6, 0))
        let workspace = Workspace(network: base, capacity: 64)
        #expect(workspace.reluFusions.intoConvolution == [1])
        let size = base.shapes[1].reduce(1, *)
        var stream = SumOfSquaresStream()
        let tap = ActivationTap(layer: 0) { output, n in stream.add(output, count: n * size) }
        let tapped = evaluateWithLosses(base, parameters: p, on: data, workspace: workspace, tap: tap)
        func prefixRMS(_ layers: Int) throws -> Double {
            let prefix = try Network(inputShape: base.inputShape, layers: Array(base.layers[0..<layers]))
            let whole = Workspace(network: prefix, capacity: data.sampleCount)
            var labels = [Int32](repeating: 0, count: data.sampleCount)
            Array(0..<data.sampleCount).withUnsafeBufferPointer { idx in
                labels.withUnsafeMutableBufferPointer { data.gather(idx, inputs: whole.input, labels: $0.baseAddress!) }
            }
            p.withUnsafeBufferPointer {
                whole.forward(parameters: $0.baseAddress!, batch: data.sampleCount, training: false)
            }
            return rootMeanSquare(whole.output, count: data.sampleCount * size)
        }
        #expect(stream.rootMeanSquare.bitPattern == (try prefixRMS(1)).bitPattern)
        #expect(stream.rootMeanSquare != (try prefixRMS(2)), "the ReLU's output must differ here")
        let plain = evaluateWithLosses(base, parameters: p, on: data, workspace: workspace)
        #expect(tapped.evaluation == plain.evaluation && tapped.losses == plain.losses)
    }

    /// The logits kept from an evaluation in batches of 97 (DP-SGD's workspace), scored in batches of 64, give
    /// `evaluateWithLosses`'s bits with a 64-sample workspace; the keeping pass's own numbers are `evaluate`'s.
    @Test func keptLogitsScoreAsAPassOfTheirOwn() throws {
        let data = images()
        let net = try ParadoxCNN.small(inputShape: [28, 28, 1], classes: 10)
        let p = net.initialParameters(key: StreamKey(seed: 4, 0))
        let wide = Workspace(network: net, capacity: 97)
        let kept = evaluateKeepingLogits(net, parameters: p, on: data, workspace: wide)
        #expect(kept.evaluation == evaluate(net, parameters: p, on: data, workspace: wide))
        #expect(kept.logits.labels == data.labels && kept.logits.logits.count == data.sampleCount * 10)
        let own = evaluateWithLosses(net, parameters: p, on: data, workspace: Workspace(network: net, capacity: 64))
        let scored = kept.logits.scored(batch: 64)
        #expect(scored.evaluation == own.evaluation)
        #expect(scored.losses.map(\.bitPattern) == own.losses.map(\.bitPattern))
    }
}
