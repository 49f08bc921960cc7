// BatchCapTests: a batch size beyond a client's data trains exactly as B = d_k, without buffers for B samples.
import FedData
import FedRuntime
import Testing

@Suite("Batch size above the client's data")
struct BatchCapTests {
    static func weights(batchSize: Int) async throws -> [Float] {
        let (train, test) = try DatasetLoader.embeddedMNIST()
        var c = FederationConfiguration()
        c.model = .mlp
        c.rounds = 2
        c.clients.count = 5          // 40 samples each
        c.clients.fraction = 1
        c.training.localEpochs = 1
        c.training.batchSize = batchSize
        let federation = try Federation(configuration: c, train: DatasetSamples(train.subset(indices: 0..<200)),
                                        test: DatasetSamples(test.subset(indices: 0..<50)))
        _ = try await federation.run()
        return federation.globalWeights!
    }

    @Test func aHugeBatchIsOneBatchOfAllTheClientsData() async throws {
        let exact = try await Self.weights(batchSize: 40)
        // 60,000 would have meant 60,000-sample buffers per training client; it is one batch of 40 either way.
        #expect(try await Self.weights(batchSize: 60_000) == exact)
        // Negative control: a batch size that really splits the data trains differently.
        #expect(try await Self.weights(batchSize: 20) != exact)
    }
}
