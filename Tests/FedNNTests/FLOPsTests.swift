// FLOPsTests: per-sample FLOP counts of the CNN and the MLP, counted by hand from their shapes.
import FedNN
import Testing

@Suite struct FLOPsTests {
    @Test func cnnCountsByHand() throws {
        let network = try ModelKind.cnn.network(inputShape: [28, 28, 1], classes: 10)
        let flops = network.layerFLOPs
        let conv1 = 2.0 * 28 * 28 * 32 * 25 * 1, conv2 = 2.0 * 14 * 14 * 64 * 25 * 32
        let fc1 = 2.0 * 3136 * 512, fc2 = 2.0 * 512 * 10
        #expect(flops.map(\.forward) == [conv1, 0, 0, conv2, 0, 0, 0, fc1, 0, fc2])
        // The first convolution computes no input gradient; the others do.
        #expect(flops.map(\.backward) == [conv1, 0, 0, 2 * conv2, 0, 0, 0, 2 * fc1, 0, 2 * fc2])
        #expect(network.trainingFLOPsPerSample == 2 * conv1 + 3 * (conv2 + fc1 + fc2))
    }

    @Test func mlpFirstLinearAfterFlattenHasNoInputGradient() throws {
        let network = try ModelKind.mlp.network(inputShape: [28, 28, 1], classes: 10)
        let (a, b, c) = (2.0 * 784 * 200, 2.0 * 200 * 200, 2.0 * 200 * 10)
        #expect(network.layerFLOPs.map(\.forward) == [0, a, 0, b, 0, c])
        #expect(network.layerFLOPs.map(\.backward) == [0, a, 0, 2 * b, 0, 2 * c])
        #expect(network.trainingFLOPsPerSample == 2 * a + 3 * (b + c))
    }
}
