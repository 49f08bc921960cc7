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
    let continuation: AsyncStream<FederationEvent>.Continuation
    let train: any SampleSource
    let test: any SampleSource
    /// Each client's training-set indices.
    public let partitions: [[Int]]
    let finalWeights = Mutex<[Float]?>(nil)

    /// The global model after the last completed `run()` (nil before), as one flat vector.
    public var globalWeights: [Float]? { finalWeights.withLock { $0 } }
    let finalLosses = Mutex<[Double]?>(nil)

    /// Every test example's cross-entropy (−log softmax(z)_y, Float64) under `globalWeights`, from the server's
    /// evaluation of the last round (in its evaluation batches); nil before a run, or when the last round was not
    /// evaluated.
    public var finalTestLosses: [Double]? { finalLosses.withLock { $0 } }

    /// The algorithm: the configuration's, or one given at init.
    public let strategy: any FederatedStrategy
    let clock: any FederationClock
    /// δ of the clients' example-level (DP-SGD) accountants; nil without DP-SGD.
    let dpsgdDelta: Double?

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
        var parts: [[Int]]
        switch configuration.clients.partition {
        case .iid:
            parts = try Partition.iid(count: train.sampleCount, clients: k, rng: &rng)
        case .shards:
            parts = try Partition.shards(labels: train.labels, clients: k,
                                         shardsPerClient: configuration.clients.shardsPerClient, rng: &rng)
        case .dirichlet:
            parts = try Partition.dirichlet(labels: train.labels, clients: k,
                                            alpha: configuration.clients.dirichletAlpha, rng: &rng)
        }
        if let minority = configuration.dataset.minorityClass {
            guard minority < train.classCount else {
                throw ConfigurationError(keyPath: "dataset.minorityClass",
                                         message: "\(minority) is not a class of the data (0…\(train.classCount - 1))")
            }
            let kept = Set(ClassSubsampling.indices(labels: train.labels, minorityClass: minority,
                                                    fraction: configuration.dataset.minorityFraction,
                                                    key: StreamPurpose.minoritySubsampling.key(seed: configuration.seed)))
            parts = parts.map { $0.filter(kept.contains) }
            if let empty = parts.firstIndex(where: \.isEmpty) {
                throw ConfigurationError(keyPath: "dataset.minorityFraction",
                                         message: "client \(empty) keeps no training example after subsampling")
            }
        }
        partitions = parts
        // DP-SGD inside clients (training.dpsgd) wraps whichever strategy runs.
        let plan = try configuration.dpsgdPlan(samples: partitions.map(\.count))
        let trained = plan.map { DPSGDClients(chosen, plan: $0) } ?? chosen
        // FedBN (`batchNorm: local`) outermost: it keeps the trained slices before any upload noise.
        self.strategy = configuration.batchNorm == .local ? LocalBatchNormStrategy(trained, network: noisy) : trained
        dpsgdDelta = plan?.delta
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    /// Runs all rounds over `transport` (a fresh in-process one by default) and returns the summary.
    /// The transport is shut down at the end. `control` resumes from a checkpoint, saves checkpoints, and stops
    /// between rounds on request (the summary then says `interrupted`).
    public func run(transport: (any Transport<FederationMessage>)? = nil,
                    control: RunControl = RunControl()) async throws -> FederationSummary {
        let transport = transport ?? InProcessTransport<FederationMessage>()
        // Register every endpoint before any actor runs, and let clients say hello in id order, so the tracker's
        // view (and so sampling) never depends on start-up timing.
        let credits = UploadCredits(2 * min(ComputeThreads.count, configuration.clientsPerRound))
        let (tracker, server) = try await makeServer(transport: transport, control: control, credits: credits)
        let clients = try await registerClients(0..<configuration.clients.count,
                                                environment: clientEnvironment(credits: credits),
                                                transport: transport, announce: true)
        guard let summary = try await runActors(tracker: tracker, server: server, clients: clients,
                                                transport: transport) else { throw FederationError.mailboxClosed }
        return summary
    }
}
