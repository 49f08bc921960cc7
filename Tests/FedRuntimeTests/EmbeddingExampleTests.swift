// EmbeddingExampleTests: the README's "Embedding a federation" snippet, compiled and run as written.
import FedData
import FedRuntime
import FedTestKit
import Testing

@Suite("README examples")
struct EmbeddingExampleTests {
    @Test func embeddingSnippetRuns() async throws {
        let (train, test) = try DatasetLoader.embeddedMNIST()
        var config = FederationConfiguration()
        config.model = .mlp
        config.clients.count = 20; config.clients.fraction = 0.5; config.rounds = 5
        config.strategy.kind = .dpFedAvg                       // DP parameters: config.strategy.dp
        config.output = "unused"
        let federation = try Federation(configuration: config, train: DatasetSamples(train), test: DatasetSamples(test))
        let observer = Task {
            var seen: [Int] = []
            for await case .roundCompleted(let r) in federation.events { seen.append(r.round) }
            return seen
        }
        let summary = try await federation.run()
        #expect(await observer.value == [1, 2, 3, 4, 5])
        #expect(summary.finalTestAccuracy != nil)
        // Client-level DP at ε = 10 per round over 5 rounds: the accountant must report a finite ε.
        #expect(summary.privacy.epsilon.map { $0.isFinite && $0 > 10 } == true)
    }
}
