// Federation+Processes: the composition root in pieces: the PS and tracker in one process, ranges of clients in others.
import FedNN
import FedTensor
import FedTransport

extension Federation {
    /// Runs the parameter server and the tracker in this process, every client being in other processes that
    /// ``join(clients:transport:)`` the same transport (a socket hub, say).
    ///
    /// `clientsJoined` returns once all K client endpoints are registered on `transport` (it throws to give up).
    /// Then each client is announced to the tracker in id order, exactly as ``run(transport:control:)`` does, so
    /// with the same configuration and seed the rounds, and the final model, are bit-identical to an in-process run.
    /// The transport is shut down at the end, which ends the joined processes' mailboxes.
    ///
    /// `trackerSeed` (default: the run's seed) seeds the tracker's neighbour lists; another one (from the system's
    /// CSPRNG, say: `fednoise serve --independent-tracker`) keeps them unknown to whoever knows the configuration,
    /// as NISS's Theorem 3 assumes, at the price of bit-identity with the in-process run for NISS.
    public func serve(transport: any Transport<FederationMessage>, control: RunControl = RunControl(),
                      trackerSeed: UInt64? = nil,
                      clientsJoined: @Sendable () async throws -> Void) async throws -> FederationSummary {
        let (tracker, server) = try await makeServer(transport: transport, control: control, credits: nil,
                                                     trackerSeed: trackerSeed)
        do {
            try await clientsJoined()
            for id in 0..<configuration.clients.count {
                try await transport.send(.hello(client: id, samples: partitions[id].count), from: .client(id),
                                         to: .tracker)
            }
        } catch {
            await transport.shutdown()
            throw error
        }
        guard let summary = try await runActors(tracker: tracker, server: server, clients: [], transport: transport)
        else { throw FederationError.mailboxClosed }
        return summary
    }

    /// Hosts clients `ids` in this process; their parameter server and tracker are in another (``serve``). Returns
    /// when every one of them has been told to stop, or the transport has ended their mailboxes; then shuts the
    /// transport down. The configuration (and so the data partition) must be the server's.
    /// - Throws: ``FederationError/invalidData(_:)`` if `ids` is not within `0..<clients.count`.
    public func join(clients ids: Range<Int>, transport: any Transport<FederationMessage>) async throws {
        guard !ids.isEmpty, ids.lowerBound >= 0, ids.upperBound <= configuration.clients.count else {
            throw FederationError.invalidData(
                "clients \(ids.lowerBound)..\(ids.upperBound - 1) are not within the federation's "
                    + "0..\(configuration.clients.count - 1)")
        }
        let clients = try await registerClients(ids, environment: clientEnvironment(credits: nil), transport: transport,
                                                announce: false)
        _ = try await runActors(tracker: nil, server: nil, clients: clients, transport: transport)
    }

    /// What every client hosted here shares. `credits` nil when the PS is in another process.
    func clientEnvironment(credits: UploadCredits?) -> ClientEnvironment {
        let config = configuration
        // Clients training at once share the configured compute threads (`--threads`, FEDNOISE_THREADS).
        let cores = ComputeThreads.count
        let training = TrainingSettings(epochs: config.training.localEpochs, batchSize: config.training.batchSize,
                                        learningRate: Float(config.training.learningRate),
                                        momentum: Float(config.training.momentum))
        return ClientEnvironment(
            network: network, data: train, settings: training, strategy: strategy, seed: config.seed,
            // A client never needs buffers for more samples than it holds: B is capped by the largest d_k.
            pool: WorkspacePool(network: network,
                                capacity: max(1, min(config.training.batchSize, partitions.map(\.count).max() ?? 1))),
            slots: TrainingSlots(min(cores, config.clientsPerRound)), credits: credits,
            diagnostics: config.diagnostics && strategy.addsNoise,
            threadsPerClient: max(1, cores / min(config.clientsPerRound, cores)))
    }

    /// Registers clients `ids` (in id order); with `announce`, each says hello to the tracker right after.
    func registerClients(_ ids: Range<Int>, environment: ClientEnvironment, transport: any Transport<FederationMessage>,
                         announce: Bool) async throws -> [ClientNode] {
        var clients: [ClientNode] = []
        clients.reserveCapacity(ids.count)
        for id in ids {
            let mailbox = try await transport.register(.client(id))
            clients.append(ClientNode(id: id, indices: partitions[id], environment: environment, transport: transport,
                                      mailbox: mailbox))
            if announce {
                try await transport.send(.hello(client: id, samples: partitions[id].count), from: .client(id),
                                         to: .tracker)
            }
        }
        return clients
    }

    /// Registers the parameter server and the tracker and builds both (from the checkpoint in `control`, if any).
    func makeServer(transport: any Transport<FederationMessage>, control: RunControl,
                    credits: UploadCredits?, trackerSeed: UInt64? = nil) async throws -> (Tracker, ParameterServer) {
        let config = configuration
        let psMailbox = try await transport.register(.parameterServer)
        let trackerMailbox = try await transport.register(.tracker)
        let tracker = Tracker(seed: trackerSeed ?? config.seed, transport: transport, mailbox: trackerMailbox)
        let continuation = self.continuation
        let settings = ServerMachine.Settings(
            name: config.name, seed: config.seed, rounds: config.rounds, clientCount: config.clients.count,
            fraction: config.clients.fraction, evaluateEvery: config.evaluateEvery,
            deadlineSeconds: config.deadlineSeconds, diagnostics: config.diagnostics && strategy.addsNoise,
            samplesOf: partitions.map(\.count), checkpointEvery: config.checkpointEvery,
            stopOnDivergence: !(control.continueAfterDivergence ?? config.continueAfterDivergence),
            sampling: config.clients.sampling, budget: config.privacyBudget, exampleDelta: dpsgdDelta)
        let machine: ServerMachine
        if let checkpoint = control.resume {
            guard !(strategy is LocalBatchNormStrategy) else {
                throw FederationError.invalidData("batchNorm local (FedBN): each client's BatchNorm coordinates are "
                    + "in-process client state that checkpoints do not hold; such a run cannot be resumed")
            }
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
                                     mailbox: psMailbox, clock: clock, credits: credits,
                                     control: ServerControl(stop: control.stop, save: save,
                                                            completed: control.completed,
                                                            evaluated: control.evaluated),
                                     emit: { continuation.yield($0) })
        return (tracker, server)
    }

    /// Runs the given actors concurrently to their end, then shuts the transport down. With a server, keeps its
    /// final weights, ends the event stream and returns its summary; without one, returns nil.
    func runActors(tracker: Tracker?, server: ParameterServer?, clients: [ClientNode],
                   transport: any Transport<FederationMessage>) async throws -> FederationSummary? {
        let summary = try await withThrowingTaskGroup(of: FederationSummary?.self) { group in
            if let tracker { group.addTask { try await tracker.run(); return nil } }
            for client in clients { group.addTask { try await client.run(); return nil } }
            if let server { group.addTask { try await server.run() } }
            var result: FederationSummary?
            do {
                for try await value in group where value != nil { result = value }
            } catch {
                group.cancelAll()
                await transport.shutdown()
                throw error
            }
            return result
        }
        await transport.shutdown()
        guard let server, let summary else { return nil }
        let weights = await server.globalWeights
        finalWeights.withLock { $0 = weights }
        let losses = await server.finalTestLosses
        finalLosses.withLock { $0 = losses }
        continuation.yield(.finished(summary))
        continuation.finish()
        return summary
    }
}
