// FusedUpdateTests: the in-backward plain SGD step against the unfused step and a naive loop, over thread counts.
import FedNN
import FedTensor
import Testing

@Suite("Fused SGD update", .serialized)
struct FusedUpdateTests {
    /// Parameters after `steps` training steps on synthetic data, fused or not.
    func trained(_ kind: ModelKind, fused: Bool, threads: Int, batch: Int, steps: Int = 3,
                 frozen: Set<Int> = []) throws -> [Float] {
        try ComputeThreads.with(threads) {
            let shape = kind == .tanhCNN ? [16, 16, 1] : [12, 12, 1]  // the tanh CNN needs ≥ 16×16
            let net = try kind.network(inputShape: shape, classes: 3)
            let data = syntheticSamples(count: batch, shape: shape, classes: 3, seed: 4)
            var p = net.initialParameters(key: StreamKey(seed: 8))
            let ws = Workspace(network: net, capacity: batch)
            var sgd = SGD(learningRate: 0.05)
            var labels = [Int32](repeating: 0, count: batch)
            let order = Array(0..<batch)
            for _ in 0..<steps {
                order.withUnsafeBufferPointer { o in
                    labels.withUnsafeMutableBufferPointer { data.gather(o, inputs: ws.input, labels: $0.baseAddress!) }
                }
                trainingStep(net, parameters: &p, labels: labels, batch: batch, workspace: ws, sgd: &sgd,
                             frozen: frozen, fusedUpdate: fused)
            }
            return p
        }
    }

    /// With one K block (batch ≤ 256) the fused GEMM does the unfused step's arithmetic exactly.
    @Test(arguments: ModelKind.allCases)
    func bitIdenticalToTheUnfusedStepForAnyThreadCount(kind: ModelKind) throws {
        let reference = try trained(kind, fused: false, threads: 1, batch: 10)
        #expect(try trained(kind, fused: true, threads: 1, batch: 10) == reference)
        #expect(try trained(kind, fused: true, threads: 2, batch: 10) == reference)
        let frozen = try trained(kind, fused: false, threads: 1, batch: 7, frozen: [1])
        #expect(try trained(kind, fused: true, threads: 2, batch: 7, frozen: [1]) == frozen)
    }

    /// A Linear layer of ≥ 2²⁰ weights inside a network updates W panel by panel together with dX
    /// (`Linear.panelledBackward`): the same bits as the unfused step, whose dX comes first from the old weights,
    /// on 1 and 2 threads, with a last panel narrower than the others (1100 = 4 · 256 + 76 columns).
    @Test func panelledLargeLayerBitIdenticalToTheUnfusedStep() throws {
        func trained(fused: Bool, threads: Int) throws -> [Float] {
            try ComputeThreads.with(threads) {
                let net = try Network(inputShape: [6], layers: [Linear(6, 1100), ReLU(), Linear(1100, 960), ReLU(),
                                                               Linear(960, 3)])
                #expect(1100 * 960 >= 1 << 20)
                let batch = 9
                let data = syntheticSamples(count: batch, shape: [6], classes: 3, seed: 2)
                var p = net.initialParameters(key: StreamKey(seed: 3))
                let ws = Workspace(network: net, capacity: batch)
                var sgd = SGD(learningRate: 0.05)
                var labels = [Int32](repeating: 0, count: batch)
                let order = Array(0..<batch)
                for _ in 0..<2 {
                    order.withUnsafeBufferPointer { o in
                        labels.withUnsafeMutableBufferPointer {
                            data.gather(o, inputs: ws.input, labels: $0.baseAddress!)
                        }
                    }
                    trainingStep(net, parameters: &p, labels: labels, batch: batch, workspace: ws, sgd: &sgd,
                                 fusedUpdate: fused)
                }
                return p
            }
        }
        let reference = try trained(fused: false, threads: 1)
        for threads in [1, 2] {
            let fused = try trained(fused: true, threads: threads)
            let differing = zip(fused, reference).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "\(threads) threads: \(differing) of \(reference.count) parameters differ")
        }
    }

    /// Large batches split K into blocks: no longer bitwise the unfused step, but the same up to rounding, and
    /// still independent of the thread count.
    @Test func largeBatchMatchesUnfusedClosely() throws {
        let reference = try trained(.mlp, fused: false, threads: 1, batch: 300, steps: 1)
        let one = try trained(.mlp, fused: true, threads: 1, batch: 300, steps: 1)
        let two = try trained(.mlp, fused: true, threads: 2, batch: 300, steps: 1)
        #expect(one == two)
        let worst = zip(one, reference).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-6)
    }

    /// One Linear layer against a naive loop: W ← W − η·dYᵀX, b ← b − η·Σ dY, with dX from the old weights.
    @Test func linearAgainstNaiveLoop() throws {
        let (inF, outF, batch): (Int, Int, Int) = (37, 21, 5)
        let net = try Network(inputShape: [inF], layers: [Linear(inF, outF)])
        let ws = Workspace(network: net, capacity: batch)
        var rng = Philox(seed: 21)
        let x = (0..<(batch * inF)).map { _ in Float(rng.nextGaussian()) }
        let dy = (0..<(batch * outF)).map { _ in Float(rng.nextGaussian()) }
        var p = net.initialParameters(key: StreamKey(seed: 5))
        let old = p
        let lr: Float = 0.3
        ws.input.update(from: x, count: x.count)
        p.withUnsafeMutableBufferPointer { w in
            ws.forward(parameters: w.baseAddress!, batch: batch, training: true)
            dy.withUnsafeBufferPointer {
                ws.backwardAndStep(parameters: w.baseAddress!, outputGradient: $0.baseAddress!, batch: batch,
                                   learningRate: lr)
            }
        }
        var worst = 0.0
        for o in 0..<outF {
            for i in 0..<inF {
                var g = 0.0
                for b in 0..<batch { g += Double(dy[b * outF + o]) * Double(x[b * inF + i]) }
                worst = max(worst, abs(Double(old[o * inF + i]) - Double(lr) * g - Double(p[o * inF + i])))
            }
            var gb = 0.0
            for b in 0..<batch { gb += Double(dy[b * outF + o]) }
            worst = max(worst, abs(Double(old[outF * inF + o]) - Double(lr) * gb - Double(p[outF * inF + o])))
        }
        #expect(worst < 1e-5)
    }
}
