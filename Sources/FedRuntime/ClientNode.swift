// ClientNode: one simulated client: a thin actor that trains locally on RoundStart and uploads through the transport.
import FedNN
import FedStrategy
import FedTensor
import FedTransport

/// What every client shares read-only: the model architecture, the training data, the settings.
final class ClientEnvironment: Sendable {
    let network: Network
    let data: any SampleSource
    let settings: TrainingSettings
    let policy: UploadPolicy
    let seed: UInt64
    let pool: WorkspacePool
    /// Caps how many clients train at once (the compute-thread limit).
    let slots: TrainingSlots
    let diagnostics: Bool
    /// Compute threads each training client may use (cores / clients training at once).
    let threadsPerClient: Int

    init(network: Network, data: any SampleSource, settings: TrainingSettings, policy: UploadPolicy, seed: UInt64,
         pool: WorkspacePool, slots: TrainingSlots, diagnostics: Bool, threadsPerClient: Int) {
        self.slots = slots
        self.network = network
        self.data = data
        self.settings = settings
        self.policy = policy
        self.seed = seed
        self.pool = pool
        self.diagnostics = diagnostics
        self.threadsPerClient = threadsPerClient
    }
}

/// A client. Idle, it holds only its sample indices: the global weights arrive with each `RoundStart`, and the local
/// copy lives only while it trains.
actor ClientNode {
    let id: Int
    let endpoint: EndpointID
    let indices: [Int]
    private let environment: ClientEnvironment
    private let transport: any Transport<FederationMessage>
    private let mailbox: Mailbox<FederationMessage>

    init(id: Int, indices: [Int], environment: ClientEnvironment, transport: any Transport<FederationMessage>,
         mailbox: Mailbox<FederationMessage>) {
        self.id = id
        self.endpoint = .client(id)
        self.indices = indices
        self.environment = environment
        self.transport = transport
        self.mailbox = mailbox
    }

    /// Serves until `.stop` or the transport closes this endpoint.
    func run() async throws {
        for await envelope in mailbox {
            switch envelope.message {
            case .roundStart(let start):
                await environment.slots.acquire()
                let result = Result { try train(start) }
                await environment.slots.release()
                let upload = try result.get()
                try await transport.send(.upload(upload), from: endpoint, to: .parameterServer)
            case .stop:
                return
            default:
                continue
            }
        }
    }

    /// Local SGD for E epochs from the global weights, then the strategy's upload (Alg. 1, ClientUpdate).
    func train(_ start: RoundStart) throws -> ClientUpload {
        let env = environment
        var weights = start.weights
        let trainingKey = StreamPurpose.localTraining.key(seed: env.seed, id, start.round)
        let loss: Double = ComputeThreads.$taskLimit.withValue(env.threadsPerClient) {
            env.pool.withWorkspace { workspace in
                var trainer = Trainer(network: env.network, settings: env.settings, key: trainingKey)
                var last = Double.nan
                for epoch in 0..<env.settings.epochs {
                    last = trainer.runEpoch(epoch, parameters: &weights, on: env.data, indices: indices,
                                            workspace: workspace).loss
                }
                return last
            }
        }
        let weight = Double(indices.count) / Double(start.sampledSamples)
        let upload = try env.policy.makeUpload(
            client: id, trained: weights, global: start.weights, weight: weight, samples: indices.count,
            noiseKey: StreamPurpose.uploadNoise.key(seed: env.seed, id, start.round), keepNoise: env.diagnostics)
        return ClientUpload(round: start.round, client: id, payload: upload.payload, weight: weight,
                            samples: indices.count, trainLoss: loss, noiseStd: upload.noiseStd,
                            preClipNorm: upload.preClipNorm, diagnosticNoise: upload.noise)
    }
}
