// ClientNode: one simulated client: a thin actor that carries out `ClientMachine`'s actions and trains locally.
import FedNN
import FedPrivacy
import FedTensor
import FedTransport

/// What every client shares read-only: the model, the training data, the settings, the strategy.
final class ClientEnvironment: Sendable {
    let network: Network
    let data: any SampleSource
    let settings: TrainingSettings
    let strategy: any FederatedStrategy
    let seed: UInt64
    let pool: WorkspacePool
    /// Caps how many clients train at once (the compute-thread limit).
    let slots: TrainingSlots
    /// Caps how many trained models wait for the PS (in-process flow control; nil when the PS is in another process,
    /// where the socket transport's bounded queues hold trained models back instead).
    let credits: UploadCredits?
    let diagnostics: Bool
    /// Compute threads each training client may use (cores / clients training at once).
    let threadsPerClient: Int

    init(network: Network, data: any SampleSource, settings: TrainingSettings, strategy: any FederatedStrategy,
         seed: UInt64, pool: WorkspacePool, slots: TrainingSlots, credits: UploadCredits?, diagnostics: Bool,
         threadsPerClient: Int) {
        self.credits = credits
        self.network = network
        self.data = data
        self.settings = settings
        self.strategy = strategy
        self.seed = seed
        self.pool = pool
        self.slots = slots
        self.diagnostics = diagnostics
        self.threadsPerClient = threadsPerClient
    }
}

/// A client. Idle, it holds only its sample indices: the global weights arrive with each `RoundStart`, and the local
/// copy lives only while it trains.
actor ClientNode {
    let id: Int
    let indices: [Int]
    private let environment: ClientEnvironment
    private let transport: any Transport<FederationMessage>
    private let mailbox: Mailbox<FederationMessage>

    init(id: Int, indices: [Int], environment: ClientEnvironment, transport: any Transport<FederationMessage>,
         mailbox: Mailbox<FederationMessage>) {
        self.id = id
        self.indices = indices
        self.environment = environment
        self.transport = transport
        self.mailbox = mailbox
    }

    /// Serves until `.stop` or the transport closes this endpoint.
    func run() async throws {
        let env = environment
        var machine = ClientMachine(client: id, samples: indices.count, strategy: env.strategy, seed: env.seed,
                                    length: env.network.parameterCount, diagnostics: env.diagnostics)
        for await envelope in mailbox {
            var queue = try machine.receive(envelope.message)
            while !queue.isEmpty {
                switch queue.removeFirst() {
                case .send(let message, let to):
                    do {
                        try await transport.send(message, from: .client(id), to: to)
                    } catch where Self.isLost(error, to: to) {
                        // Gone like a dead client's message: the server's deadline and dropout policy handle it.
                    }
                case .train(let start):
                    let result = try await trainLocally(start)
                    queue += try machine.trained(round: start.round, attempt: start.attempt, weights: result.weights,
                                                 loss: result.loss, exampleLevel: result.exampleLevel)
                case .stop:
                    return
                }
            }
        }
    }

    /// Whether a failed send only lost its message (the receiving client's process is gone, or this process is
    /// reconnecting to the server), rather than meaning this client cannot go on.
    static func isLost(_ error: any Error, to receiver: EndpointID) -> Bool {
        switch error {
        case TransportError.endpointClosed(let id), TransportError.unknownEndpoint(let id):
            return id == receiver && receiver.role == EndpointID.client(0).role
        case SocketTransportError.connectionLost:
            return true
        default:
            return false
        }
    }

    /// The strategy's local training from the global weights, holding a training slot (Alg. 1, ClientUpdate).
    private func trainLocally(_ start: RoundStart) async throws
        -> (weights: [Float], loss: Double, exampleLevel: RDPAccountant.Run?) {
        await environment.credits?.acquire()
        await environment.slots.acquire()
        await environment.credits?.training(true)
        let result = Result { try train(start) }
        await environment.credits?.training(false)
        await environment.slots.release()
        return try result.get()
    }

    /// Local training on the calling task's compute-thread share.
    func train(_ start: RoundStart) throws -> (weights: [Float], loss: Double, exampleLevel: RDPAccountant.Run?) {
        let env = environment
        var weights = start.weights
        // B beyond d_k is one batch of all d_k samples either way (the shuffle does not depend on B).
        var settings = env.settings
        settings.batchSize = max(1, min(settings.batchSize, indices.count))
        let job = LocalTrainingJob(
            client: id, round: start.round, network: env.network, data: env.data, indices: indices,
            settings: settings, key: StreamPurpose.localTraining.key(seed: env.seed, id, start.round),
            global: start.weights)
        let trainer = env.strategy.localTrainer(client: id, round: start.round)
        let result = try ComputeThreads.$taskLimit.withValue(env.threadsPerClient) {
            try env.pool.withWorkspace { workspace in try trainer.train(job, parameters: &weights, workspace: workspace) }
        }
        return (weights, result.loss, result.exampleLevel)
    }
}
