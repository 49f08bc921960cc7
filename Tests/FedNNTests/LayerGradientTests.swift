// LayerGradientTests: every layer's backward pass against finite differences.
import FedNN
import FedTensor
import Testing

@Suite("Layer gradients match finite differences")
struct LayerGradientTests {
    @Test func linear() throws {
        expectGradientsMatchFiniteDifferences(try Network(inputShape: [7], layers: [Linear(7, 5)]), batch: 3)
    }

    @Test func linearWithoutBias() throws {
        expectGradientsMatchFiniteDifferences(try Network(inputShape: [4], layers: [Linear(4, 6, bias: false)]))
    }

    @Test(arguments: [(3, 1, 1), (5, 1, 2), (3, 2, 0), (5, 2, 2), (3, 1, 0)])
    func conv2d(kernel: Int, stride: Int, padding: Int) throws {
        let net = try Network(inputShape: [9, 8, 3],
                              layers: [Conv2d(3, 4, kernel: kernel, stride: stride, padding: padding)])
        expectGradientsMatchFiniteDifferences(net)
    }

    /// Stride 1: 16 or 32 input channels take the implicit input gradient (no col2im); 16 or 32 output channels
    /// the implicit forward and weight gradient (no im2col); 5 channels the im2col path.
    @Test(arguments: [(16, 5, 3, 1), (32, 5, 5, 2), (16, 16, 3, 0), (16, 32, 5, 4), (1, 32, 5, 2), (3, 16, 3, 1),
                      (32, 16, 5, 2)])
    func conv2dImplicitPaths(channels: Int, outputs: Int, kernel: Int, padding: Int) throws {
        let net = try Network(inputShape: [7, 6, channels],
                              layers: [Conv2d(channels, outputs, kernel: kernel, padding: padding)])
        expectGradientsMatchFiniteDifferences(net, batch: 3)
    }

    @Test func relu() throws {
        expectGradientsMatchFiniteDifferences(try Network(inputShape: [6], layers: [Linear(6, 6), ReLU()]))
    }

    @Test func sigmoid() throws {
        expectGradientsMatchFiniteDifferences(try Network(inputShape: [6], layers: [Linear(6, 5), Sigmoid()]))
    }

    @Test func maxPoolAndFlatten() throws {
        let net = try Network(inputShape: [5, 6, 2], layers: [Conv2d(2, 3, kernel: 3, padding: 1), MaxPool2d(2),
                                                              Flatten(), Linear(2 * 3 * 3, 4)])
        expectGradientsMatchFiniteDifferences(net)
    }

    @Test func smallCNNEndToEnd() throws {
        let net = try Network(inputShape: [8, 8, 1], layers: [
            Conv2d(1, 4, kernel: 5, padding: 2), ReLU(), MaxPool2d(2),
            Conv2d(4, 6, kernel: 3, padding: 1), ReLU(), MaxPool2d(2),
            Flatten(), Linear(2 * 2 * 6, 8), ReLU(), Linear(8, 3),
        ])
        // A smaller step: with two ReLU and two max-pool stages a ±1e-2 probe can cross a kink.
        expectGradientsMatchFiniteDifferences(net, batch: 3, step: 1e-3)
    }

    @Test func sigmoidLeNetShape() throws {
        // The DLG reference network's building blocks: stride-2 convolutions with sigmoids.
        let net = try Network(inputShape: [8, 8, 3], layers: [
            Conv2d(3, 4, kernel: 5, stride: 2, padding: 2), Sigmoid(),
            Conv2d(4, 4, kernel: 5, stride: 1, padding: 2), Sigmoid(), Flatten(), Linear(4 * 4 * 4, 5),
        ])
        expectGradientsMatchFiniteDifferences(net)
    }
}
