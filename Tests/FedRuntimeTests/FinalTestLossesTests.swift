// FinalTestLossesTests: a federation hands out the per-example test losses its last evaluation computed.
import FedData
import FedNN
import FedRuntime
import FedTensor
import Foundation
import Testing

@Suite("Final test losses of a federation")
struct FinalTestLossesTests {
    func federation(rounds: Int, evaluateEvery: Int) throws -> (Federation, DatasetSamples) {
        let (train, test) = try DatasetLoader.embeddedMNIST()
        var c = smallConfiguration()
        c.rounds = rounds
        c.clients.count = 4
        c.clients.fraction = 1
        c.evaluateEvery = evaluateEvery
        let testSamples = DatasetSamples(test.subset(indices: 0..<70))
        return (try Federation(configuration: c, train: DatasetSamples(train.subset(indices: 0..<200)),
                               test: testSamples), testSamples)
    }

    /// Naive per-example cross-entropy: one example at a time, Float64 log-sum-exp over the logits.
    func naiveLosses(_ network: Network, weights: [Float], test: DatasetSamples) -> [Double] {
        let workspace = Workspace(network: network, capacity: 1)
        var labels = [Int32](repeating: 0, count: 1)
        return (0..<test.sampleCount).map { i in
            [i].withUnsafeBufferPointer { idx in
                labels.withUnsafeMutableBufferPointer { test.gather(idx, inputs: workspace.input, labels: $0.baseAddress!) }
            }
            weights.withUnsafeBufferPointer { workspace.forward(parameters: $0.baseAddress!, batch: 1, training: false) }
            let z = (0..<network.outputSize).map { Double(workspace.output[$0]) }
            let top = z.max()!
            return top + log(z.map { exp($0 - top) }.reduce(0, +)) - z[Int(labels[0])]
        }
    }

    /// The losses are an independent recomputation's on the final weights, example by example, and their mean is
    /// the last round's test loss; negative control: the same oracle on the initial model disagrees.
    @Test func theyAreTheFinalModelsLossesOnEveryTestExample() async throws {
        let (f, test) = try federation(rounds: 2, evaluateEvery: 1)
        #expect(f.finalTestLosses == nil)
        let summary = try await f.run()
        let losses = try #require(f.finalTestLosses)
        #expect(losses.count == test.sampleCount)
        let naive = naiveLosses(f.network, weights: try #require(f.globalWeights), test: test)
        for (l, n) in zip(losses, naive) { #expect(abs(l - n) <= 1e-5 * max(1, n)) }
        let mean = losses.reduce(0, +) / Double(losses.count)
        let reported = try #require(summary.rounds.last?.testLoss)
        #expect(abs(mean - reported) <= 1e-6 * max(1, reported))
        let initial = naiveLosses(f.network, weights: f.network.initialParameters(key: StreamKey(seed: 1)), test: test)
        #expect(zip(losses, initial).filter { abs($0 - $1) > 1e-3 }.count > test.sampleCount / 2)
    }

    /// With evaluateEvery 2 over 3 rounds the server still evaluates the last round (it always does), so the
    /// final losses exist and are the final model's, not round 2's.
    @Test func theLastRoundIsAlwaysEvaluated() async throws {
        let (f, test) = try federation(rounds: 3, evaluateEvery: 2)
        let summary = try await f.run()
        #expect(summary.rounds.map { $0.testAccuracy != nil } == [false, true, true])
        let losses = try #require(f.finalTestLosses)
        let naive = naiveLosses(f.network, weights: try #require(f.globalWeights), test: test)
        for (l, n) in zip(losses, naive) { #expect(abs(l - n) <= 1e-5 * max(1, n)) }
    }
}
