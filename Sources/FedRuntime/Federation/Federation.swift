// Federation: the embedding API: builds the PS, tracker and clients on a transport and runs them concurrently.
import FedData
import FedNN
import FedStrategy
import FedTensor
import FedTransport
import Foundation
import Synchronization

/// A federated run, usable from any Swift program:
///
/// ```swift
/// let federation = try Federation(configuration: config, train: trainSet, test: testSet)
/// Task { for await event in federation.events { print(event) } }
/// let summary = try await federation.run()
/// ```
///
/// Every client, the tracker and the parameter server are actors that talk only through the transport; local
/// training of the sampled clients runs in parallel on all cores (one child task per actor). A fixed seed gives a
/// bit-identical global model at every round whatever the thread count and message order.
public final class Federation: Sendable {
    public let configuration: FederationConfiguration
    public let network: Network
    /// Per-round events, ending after `.finished`. Buffered: a slow observer never blocks the run.
    public let events: AsyncStream<FederationEvent>
    private let continuation: AsyncStream<FederationEvent>.Continuation
    private let train: any SampleSource
    private let test: any SampleSource
    /// Each client's training-set indices.
    public let partitions: [[Int]]
    private let finalWeights = Mutex<[Float]?>(nil)

    /// The global model after the last completed `run()` (nil before), as one flat vector.
    public var globalWeights: [Float]? { finalWeights.withLock { $0 } }

    /// The algorithm: the configuration's, or one given at init.
    public let strategy: any FederatedStrategy
    private let clock: any FederationClock
    /// δ of the clients' example-level (DP-SGD) accountants; nil without DP-SGD.
    private let dpsgdDelta: Double?

    /// Warnings to show before the run (e.g. Theorem 3's τ_k² condition under collusion).
    public var warnings: [String] {
        strategy.warnings + configuration.clients.sampling.warnings(addsNoise: strategy.addsNoise)
    }

    /// A federation of `configuration` on `train` and `test`. `strategy` replaces the configuration's own
    /// (`configuration.strategy` is then ignored); `clock` times rounds and deadlines (tests pass a manual one).
    public init(configuration: FederationConfiguration, train: any SampleSource, test: any SampleSource,
                strategy: (any FederatedStrategy)? = nil, clock: any FederationClock = SystemClock()) throws {
        try configuration.validate()
        self.configuration = configuration
        let base = strategy ?? configuration.makeStrategy()
        self.clock = clock
        self.train = train
        self.test = test
        let model = try configuration.model.network(inputShape: train.sampleShape, classes: train.classCount)
        // Noise infusion (Part A) adds parameter-free noise layers and wraps whichever strategy runs.
        let noisy = try configuration.noisyNetwork(model)
        network = noisy
        let chosen = configuration.noiseInfusion.map {
            NoiseInfusingStrategy(base, infusion: $0, seed: configuration.seed,
                                  ranges: NoiseInfusion.noiseRanges(noisy))
        } ?? base
        var rng = Philox(StreamPurpose.partition.key(seed: configuration.seed))
        let k = configuration.clients.count
        switch configuration.clients.partition {
        case .iid:
            partitions = try Partition.iid(count: train.sampleCount, clients: k, rng: &rng)
        case .shards:
            partitions = try Partition.shards(labels: train.labels, clients: k,
                                              shardsPerClient: configuration.clients.shardsPerClient, rng: &rng)
        case .dirichlet:
            partitions = try Partition.dirichlet(labels: train.labels, clients: k,
                                                 alpha: configuration.clients.dirichletAlpha, rng: &rng)
        }
        // DP-SGD inside clients (training.dpsgd) wraps whichever strategy runs.
        let plan = try configuration.dpsgdPlan(samples: partitions.map(\.count))
        self.strategy = plan.map { DPSGDClients(chosen, plan: $0) } ?? chosen
        dpsgdDelta = plan?.delta
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    /// Runs all rounds over `transport` (a fresh in-process one by default) and returns the summary.
    /// The transport is shut down at the end. `control` resumes from a checkpoint, saves checkpoints, and stops
    /// between rounds on request (the summary then says `interrupted`).
    public func run(transport: (any Transport<FederationMessage>)? = nil,
                    control: RunControl = RunControl()) async throws -> FederationSummary {
        let transport = transport ?? InProcessTransport<FederationMessage>()
        let config = configuration
        let k = config.clients.count
        // Clients training at once share the configured compute threads (`--threads`, FEDNOISE_THREADS).
        let cores = ComputeThreads.count
        let training = TrainingSettings(epochs: config.training.localEpochs, batchSize: config.training.batchSize,
                                        learningRate: Float(config.training.learningRate),
                                        momentum: Float(config.training.momentum))
        let diagnostics = config.diagnostics && strategy.addsNoise
        let environment = ClientEnvironment(
            network: network, data: train, settings: training, strategy: strategy, seed: config.seed,
            // A client never needs buffers for more samples than it holds: B is capped by the largest d_k.
            pool: WorkspacePool(network: network,
                                capacity: max(1, min(config.training.batchSize, partitions.map(\.count).max() ?? 1))),
            slots: TrainingSlots(min(cores, config.clientsPerRound)),
            credits: UploadCredits(2 * min(cores, config.clientsPerRound)), diagnostics: diagnostics,
            threadsPerClient: max(1, cores / min(config.clientsPerRound, cores)))

        // Register every endpoint before any actor runs, and let clients say hello in id order, so the tracker's
        // view (and so sampling) never depends on start-up timing.
        let psMailbox = try await transport.register(.parameterServer)
        let trackerMailbox = try await transport.register(.tracker)
        var clients: [ClientNode] = []
        clients.reserveCapacity(k)
        for id in 0..<k {
            let mailbox = try await transport.register(.client(id))
            clients.append(ClientNode(id: id, indices: partitions[id], environment: environment, transport: transport,
                                      mailbox: mailbox))
            try await transport.send(.hello(client: id, samples: partitions[id].count), from: .client(id),
                                     to: .tracker)
        }
        let tracker = Tracker(seed: config.seed, transport: transport, mailbox: trackerMailbox)
        let continuation = self.continuation
        let settings = ServerMachine.Settings(
            name: config.name, seed: config.seed, rounds: config.rounds, clientCount: k,
            fraction: config.clients.fraction, evaluateEvery: config.evaluateEvery,
            deadlineSeconds: config.deadlineSeconds, diagnostics: diagnostics, samplesOf: partitions.map(\.count),
            checkpointEvery: config.checkpointEvery,
            stopOnDivergence: !(control.continueAfterDivergence ?? config.continueAfterDivergence),
            sampling: config.clients.sampling, budget: config.privacyBudget, exampleDelta: dpsgdDelta)
        let machine: ServerMachine
        if let checkpoint = control.resume {
            guard checkpoint.configurationDigest == config.resumeDigest,
                  checkpoint.weights.count == network.parameterCount else {
                throw FederationError.invalidData(
                    "the checkpoint comes from another configuration (digest \(checkpoint.configurationDigest), "
                        + "this run's \(config.resumeDigest))")
            }
            machine = try ServerMachine(settings: settings, strategy: strategy, resuming: checkpoint.server)
        } else {
            machine = ServerMachine(
                settings: settings, strategy: strategy,
                initialWeights: network.initialParameters(key: StreamPurpose.initialWeights.key(seed: config.seed),
                                                          scheme: config.initialization))
        }
        let save = control.save.map { save in
            { @Sendable (s: ServerMachine.Snapshot) throws in
                try save(FederationCheckpoint(configuration: config, server: s))
            }
        }
        let server = ParameterServer(machine: machine, network: network, test: test, transport: transport,
                                     mailbox: psMailbox, clock: clock, credits: environment.credits,
                                     control: ServerControl(stop: control.stop, save: save, completed: control.completed),
                                     emit: { continuation.yield($0) })

        let summary = try await withThrowingTaskGroup(of: FederationSummary?.self) { group in
            group.addTask { try await tracker.run(); return nil }
            for client in clients { group.addTask { try await client.run(); return nil } }
            group.addTask { try await server.run() }
            var result: FederationSummary?
            do {
                for try await value in group where value != nil { result = value }
            } catch {
                group.cancelAll()
                await transport.shutdown()
                throw error
            }
            return result!
        }
        await transport.shutdown()
        let weights = await server.globalWeights
        finalWeights.withLock { $0 = weights }
        continuation.yield(.finished(summary))
        continuation.finish()
        return summary
    }
}
