// FrozenInputGradientTests: a frozen network's input gradient (sparse conv scatter) equals the trainable one's (dense).
import FedNN
import FedTensor
import Testing

@Suite struct FrozenInputGradientTests {
    /// The McMahan CNN on 28×28 inputs: ∂L/∂x with every layer frozen (conv layers take the sparse path behind
    /// ReLU and max-pool) against the same with every layer trainable (dense path, weight gradients formed too).
    @Test func frozenMatchesTrainable() throws {
        let network = try ModelKind.cnn.network(inputShape: [28, 28, 1], classes: 10)
        let parameters = network.initialParameters(key: StreamKey(seed: 8))
        let batch = 4
        var rng = Philox(StreamKey(seed: 8, 1))
        let inputs = (0..<(batch * 784)).map { _ in Float(rng.nextGaussian()) }
        let upstream = (0..<(batch * 10)).map { _ in Float(rng.nextGaussian()) }
        func gradient(frozen: Set<Int>) -> [Float] {
            let ws = Workspace(network: network, capacity: batch)
            inputs.withUnsafeBufferPointer { ws.input.update(from: $0.baseAddress!, count: inputs.count) }
            return parameters.withUnsafeBufferPointer { p in
                ws.forward(parameters: p.baseAddress!, batch: batch, training: false)
                upstream.withUnsafeBufferPointer {
                    ws.backward(parameters: p.baseAddress!, outputGradient: $0.baseAddress!, batch: batch,
                                frozen: frozen, inputGradient: true, accumulate: false)
                }
                return Array(UnsafeBufferPointer(start: ws.inputGradient, count: batch * 784))
            }
        }
        let sparse = gradient(frozen: Set(network.layers.indices))
        let dense = gradient(frozen: [])
        let scale = dense.map { abs($0) }.max() ?? 0
        #expect(scale > 0)
        let worst = zip(sparse, dense).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-5 * scale, "largest difference \(worst) against max |dx| \(scale)")
        // Control: a different upstream gradient is far outside that tolerance (the check can fail).
        let other = zip(sparse, dense.reversed()).map { abs($0 - $1) }.max() ?? 0
        #expect(other > 1e-2 * scale)
    }
}
