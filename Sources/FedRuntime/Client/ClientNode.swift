// ClientNode: one simulated client: a thin actor that trains locally on RoundStart and uploads through the transport.
import FedNN
import FedPrivacy
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
    /// NISS parameters (nil for the other strategies).
    let niss: NISSConfiguration?
    /// Clients that reveal their shares to the PS (a collusion study).
    let colluders: Set<Int>

    init(network: Network, data: any SampleSource, settings: TrainingSettings, policy: UploadPolicy, seed: UInt64,
         pool: WorkspacePool, slots: TrainingSlots, diagnostics: Bool, threadsPerClient: Int,
         niss: NISSConfiguration?, colluders: Set<Int>) {
        self.niss = niss
        self.colluders = colluders
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
        var inbox = Inbox(mailbox.makeAsyncIterator())
        var last = (round: Int.min, attempt: Int.min)
        while let envelope = await inbox.next() {
            switch envelope.message {
            case .roundStart(let start) where (start.round, start.attempt) <= last:
                continue  // a duplicate or stale round start (at-least-once delivery): already handled
            case .roundStart(let start) where start.unitNoiseVariance != nil:
                last = (start.round, start.attempt)
                try await nissRound(start, &inbox)
            case .roundStart(let start):
                last = (start.round, start.attempt)
                let (weights, loss) = try await trainLocally(start)
                let upload = try upload(start, trained: weights, loss: loss)
                try await transport.send(.upload(upload), from: endpoint, to: .parameterServer)
            case .stop:
                return
            default:
                continue  // a share or assignment of an attempt that was abandoned
            }
        }
    }

    /// The mailbox, with room to put back a message that ends the current round's wait (a newer round or `.stop`).
    struct Inbox {
        var iterator: Mailbox<FederationMessage>.AsyncIterator
        var putBack: [Envelope<FederationMessage>] = []
        init(_ iterator: Mailbox<FederationMessage>.AsyncIterator) { self.iterator = iterator }
        mutating func next(isolation actor: isolated (any Actor)? = #isolation) async -> Envelope<FederationMessage>? {
            putBack.isEmpty ? await iterator.next(isolation: actor) : putBack.removeFirst()
        }
    }

    /// Local SGD for E epochs from the global weights (Alg. 1, ClientUpdate), holding a training slot.
    private func trainLocally(_ start: RoundStart) async throws -> (weights: [Float], loss: Double) {
        await environment.slots.acquire()
        let result = Result { try train(start) }
        await environment.slots.release()
        return try result.get()
    }

    /// Local SGD for E epochs from the global weights, on the calling task's compute-thread share.
    func train(_ start: RoundStart) throws -> (weights: [Float], loss: Double) {
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
        return (weights, loss)
    }

    /// FedAvg and DP-FedAvg: the strategy's upload of the trained weights.
    private func upload(_ start: RoundStart, trained: [Float], loss: Double) throws -> ClientUpload {
        let env = environment
        let weight = Double(indices.count) / Double(start.sampledSamples)
        let upload = try env.policy.makeUpload(
            client: id, trained: trained, global: start.weights, weight: weight, samples: indices.count,
            noiseKey: StreamPurpose.uploadNoise.key(seed: env.seed, id, start.round), keepNoise: env.diagnostics)
        return ClientUpload(round: start.round, client: id, payload: upload.payload, weight: weight,
                            samples: indices.count, trainLoss: loss, noiseStd: upload.noiseStd,
                            preClipNorm: upload.preClipNorm, diagnosticNoise: upload.noise, attempt: start.attempt)
    }

    /// NISS (Alg. 2): ask the tracker for neighbours, send the negated shares, train, wait for the neighbours'
    /// shares, upload p_k·w_k + Σ n_i + Σ s_j·r_j. A newer round start or `.stop` abandons the attempt.
    private func nissRound(_ start: RoundStart, _ inbox: inout Inbox) async throws {
        let env = environment
        let settings = env.niss!
        let weight = Double(indices.count) / Double(start.sampledSamples)
        let sigma = try env.policy.dp!.noiseStd(client: id, weight: weight, samples: indices.count,
                                                rounds: env.policy.rounds)
        let unit = start.unitNoiseVariance!
        var exchange = ShareExchange(
            client: id, round: start.round, attempt: start.attempt, unitVariance: unit,
            shareCount: NISSShares.shareCount(clientVariance: sigma * sigma, unitVariance: unit),
            tau2: settings.tau2(client: id), encoding: settings.encoding, length: env.network.parameterCount,
            seed: env.seed)
        try await transport.send(.neighbourRequest(exchange.request(participants: start.participants)),
                                 from: endpoint, to: .tracker)
        var sentBytes = 0
        // Wait for the assignment, then send the shares before training so neighbours are not kept waiting.
        guard try await wait(until: { $0.assignment != nil }, &exchange, &inbox) else { return }
        for share in exchange.outgoingShares() {
            sentBytes += share.bytes
            try await transport.send(.share(share), from: endpoint, to: .client(share.to))
        }
        let (trained, loss) = try await trainLocally(start)
        var upload = try env.policy.prepare(client: id, trained: trained, global: start.weights, weight: weight,
                                            samples: indices.count)
        guard try await wait(until: \.isComplete, &exchange, &inbox) else { return }
        let (noise, distortion) = exchange.noise()
        upload.payload.withUnsafeMutableBufferPointer { p in
            noise.withUnsafeBufferPointer { axpy(1, $0.baseAddress!, p.baseAddress!, count: p.count) }
        }
        let v = exchange.shareCount
        let h = env.network.parameterCount
        let report = NISSUploadReport(
            tau2: exchange.tau2, targets: exchange.assignment!.targets, incoming: exchange.assignment!.incoming,
            shareBytes: sentBytes, denseBytes: v * (NoiseShare.headerBytes + 4 * h),
            seededBytes: v * (NoiseShare.headerBytes + 16), distortion: env.diagnostics ? distortion : nil,
            reveal: env.colluders.contains(id)
                ? CollusionReveal(created: exchange.createdShares, received: exchange.receivedShares) : nil)
        let message = ClientUpload(
            round: start.round, client: id, payload: upload.payload, weight: weight, samples: indices.count,
            trainLoss: loss, noiseStd: sigma, preClipNorm: upload.preClipNorm,
            diagnosticNoise: env.diagnostics ? noise : nil, attempt: start.attempt, niss: report)
        try await transport.send(.upload(message), from: endpoint, to: .parameterServer)
    }

    /// Feeds the exchange the assignment and shares that arrive until `done` holds. Returns false (and puts the
    /// message back) when a newer round start or `.stop` ends this attempt first, or the mailbox closes; a duplicate
    /// or older round start is ignored.
    private func wait(until done: (ShareExchange) -> Bool, _ exchange: inout ShareExchange,
                      _ inbox: inout Inbox) async throws -> Bool {
        while !done(exchange) {
            guard let envelope = await inbox.next() else { return false }
            switch envelope.message {
            case .neighbours(let a) where a.round == exchange.round && a.attempt == exchange.attempt:
                // Shares that arrived before it are matched against its incoming list when the noise is built.
                if exchange.assignment == nil, a.client == id { exchange.setAssignment(a) }
            case .share(let share):
                try? exchange.receive(share)  // stale or unexpected shares are dropped
            case .roundStart(let next) where (next.round, next.attempt) > (exchange.round, exchange.attempt):
                inbox.putBack.insert(envelope, at: 0)  // a newer round or attempt ends this one
                return false
            case .stop:
                inbox.putBack.insert(envelope, at: 0)
                return false
            default:
                continue
            }
        }
        return true
    }
}
