// RunCommand+MPI: `mpirun -np N fednoise run CONFIG --transport mpi`: rank 0 serves, the other ranks host clients.
#if MPI
import FedMPI
#endif
import FedRuntime
import FedTensor
import FedTransport

/// Where a federation's endpoints live when MPI starts it: the parameter server and the tracker on rank 0, the K
/// clients in contiguous ranges over ranks 1 … N − 1 (as equal as K allows).
public struct MPIPlacement: Sendable, Equatable {
    public let ranks: Int
    public let clients: Int

    public init(ranks: Int, clients: Int) {
        precondition(ranks >= 2 && clients >= 1)
        self.ranks = ranks
        self.clients = clients
    }

    /// The clients rank `rank` hosts (empty for rank 0).
    public func clients(of rank: Int) -> Range<Int> {
        guard rank >= 1 && rank < ranks else { return 0..<0 }
        let workers = ranks - 1
        return (clients * (rank - 1) / workers)..<(clients * rank / workers)
    }

    /// `clients 5..9`, or `no clients`, for rank `rank`.
    public func describe(rank: Int) -> String {
        let ids = clients(of: rank)
        return ids.isEmpty ? "no clients" : "clients \(ids.lowerBound)..\(ids.upperBound - 1)"
    }

    /// The rank hosting `endpoint`, or nil for a name no rank hosts.
    public func rank(of endpoint: EndpointID) -> Int? {
        if endpoint == .parameterServer || endpoint == .tracker { return 0 }
        guard endpoint.role == EndpointID.client(0).role, let i = endpoint.index, i >= 0, i < clients else {
            return nil
        }
        return (1..<ranks).first { clients(of: $0).contains(i) }
    }
}

extension RunCommand {
    /// Runs `config` as this rank's part of an MPI federation. Rank 0 writes every result file, exactly as an
    /// in-process run would (bit-identical rounds.csv with the same seed); the other ranks train their clients.
    ///
    /// A rank that dies makes `mpirun` end the job: it names the dead rank and sends the others SIGTERM, on which
    /// rank 0 says the round it was in and the ranks whose clients had not uploaded yet, and each other rank says
    /// which clients it hosts. Where the launcher lets the others run on (`srun` without `--kill-on-bad-exit`),
    /// the heartbeat does it: a rank not heard from for `rankTimeout` seconds is named, with the round, and every
    /// rank is ended (`MPI_Abort`). A rank that fails with an error says so with its rank and clients, then aborts
    /// the job instead of leaving the others waiting.
    static func runOverMPI(_ config: FederationConfiguration, quiet: Bool, allowDivergence: Bool,
                           interrupts: InterruptWatch, rankTimeout: Double) async throws {
        #if MPI
        let world = try MPIWorld.shared()
        guard world.size >= 2 else {
            throw UsageError("--transport mpi needs at least 2 ranks (rank 0 serves, the others host clients): "
                             + "start it with mpirun -np N or srun -n N, N ≥ 2")
        }
        let placement = MPIPlacement(ranks: world.size, clients: config.clients.count)
        let transport = try MPITransport<FederationMessage>(world: world) { placement.rank(of: $0) }
        let rounds = RoundWatch(rounds: config.rounds) { "rank \(placement.rank(of: .client($0)) ?? -1)" }
        // Rank 0 watches the ranks that host clients and they watch it; a rank without clients has nothing to wait
        // for and goes straight to finalize, so nobody watches it.
        let workers = (1..<world.size).filter { !placement.clients(of: $0).isEmpty }
        let peers = world.rank == 0 ? workers : workers.contains(world.rank) ? [0] : []
        let heartbeat = try RankHeartbeat(world: world, peers: peers, limit: rankTimeout) { silent, everyPeer in
            let names = silent.map { peer in
                peer.rank == 0 ? "rank 0 (the parameter server)" : "rank \(peer.rank) (\(placement.describe(rank: peer.rank)))"
            }
            var what = "\(names[0]) has not been heard from for \(Int(silent[0].seconds)) s"
            for (name, peer) in zip(names, silent).dropFirst() { what += ", \(name) for \(Int(peer.seconds)) s" }
            if everyPeer && silent.count > 1 { what += " (every rank it watches: its own receiving may be what stalls)" }
            let when = world.rank == 0 ? ", in \(rounds.summary)" : ""
            writeError("[\(config.name)] rank \(world.rank): \(what)\(when): ending every rank (--rank-timeout \(fixed(rankTimeout, 0)))\n")
            world.abort(code: 1)
        }
        defer { heartbeat.stop() }
        // Every rank has its transport before anyone sends; clients registered later receive what waited.
        try await world.barrier()
        if world.rank == 0 {
            interrupts.describe {
                " on rank 0 in \(rounds.summary); under mpirun this means a rank ended (mpirun names it): "
                    + "finishing the round if every rank is alive, then writing rounds.csv, summary.json and a checkpoint"
            }
            _ = try await execute(config, quiet: quiet, allowDivergence: allowDivergence, stop: interrupts.stop,
                                  runner: { fed, control in
                                      try await fed.serve(transport: transport, control: control, clientsJoined: {})
                                  }, roundWatch: rounds)
            heartbeat.stop()
        } else {
            let ids = placement.clients(of: world.rank)
            let hosted = placement.describe(rank: world.rank)
            interrupts.describe { " on rank \(world.rank) (\(hosted)): stopping when rank 0 does" }
            do {
                let (train, test) = try loadData(config.dataset)
                try Preflight.checkPartition(config, trainCount: train.sampleCount)
                let federation = try Federation(configuration: config, train: train, test: test)
                if !ids.isEmpty { try await federation.join(clients: ids, transport: transport) }
                heartbeat.stop()
            } catch {
                writeError("[\(config.name)] rank \(world.rank) (\(hosted)) failed: \(error); ending every rank\n")
                world.abort(code: 1)
            }
            if !quiet {
                say("[\(config.name)] rank \(world.rank): "
                    + (ids.isEmpty ? "no clients (more ranks than clients)" : "\(hosted) done"))
            }
        }
        world.finalize()
        #else
        throw UsageError("--transport mpi: this fednoise was built without MPI; build it with "
                         + "`swift build -c release --traits MPI` and start it with mpirun")
        #endif
    }
}
