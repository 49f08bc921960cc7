// Consumer: README's "Embedding a federation" verbatim (CI checks it), then checks that the run did what it said.
import FedData
import FedRuntime
import FedTensor
import Foundation

print(KernelTarget.current)
print("embedded data:", try DatasetLoader.embeddedDirectory().path)

let (train, test) = try DatasetLoader.embeddedMNIST()
var config = FederationConfiguration()
config.model = .mlp
config.clients.count = 20; config.clients.fraction = 0.5; config.rounds = 5
config.strategy.kind = .dpFedAvg                       // DP parameters: config.strategy.dp
let federation = try Federation(configuration: config, train: DatasetSamples(train), test: DatasetSamples(test))
let observer = Task {
    for await case .roundCompleted(let r) in federation.events { print(r.round, r.testAccuracy ?? .nan) }
}
let summary = try await federation.run()               // or run(transport: someTransport)
await observer.value
print(summary.finalTestAccuracy ?? .nan, summary.privacy)

// Exit non-zero unless every round ran and the final model was evaluated.
guard summary.rounds.count == config.rounds, let accuracy = summary.finalTestAccuracy, (0...1).contains(accuracy)
else {
    FileHandle.standardError.write(Data("consumer: expected \(config.rounds) rounds and a final accuracy\n".utf8))
    exit(1)
}
print("consumer: ok")
