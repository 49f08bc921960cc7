// ServerMachine: the parameter server's whole run as a pure state machine: events in, actions out; no actor, no clock.
import FedNN
import FedPrivacy
import FedStrategy
import FedTensor

/// Every decision of the parameter server (sample, broadcast, start or cancel a deadline, fold uploads, redo or skip
/// an attempt, aggregate, record releases for the accountant, evaluate, finish), with no actors, transport or clock:
/// the `ParameterServer` actor feeds it events with the time from its injected clock and carries out the actions it
/// returns. Tests drive it synchronously, deadlines included.
public struct ServerMachine: Sendable {
    public enum Event: Sendable {
        case start
        case liveClients(round: Int, clients: [Int])
        case upload(ClientUpload, diagnostics: UploadDiagnostics?)
        case deadline(round: Int, attempt: Int)
        /// The attempt's round start could not reach `clients` (their endpoints are closed: their process is gone).
        /// A redo then leaves out only these, not the live clients they kept from finishing (NISS shares).
        case unreachable(round: Int, attempt: Int, clients: [Int])
        case evaluated(round: Int, Evaluation)
        /// Stop before the next round (SIGINT): honoured between rounds, i.e. while a round's live clients are
        /// awaited; ends the run with a checkpoint and an interrupted summary.
        case stop
    }

    public enum Action: Sendable {
        /// Ask the tracker which clients are live.
        case requestLiveClients(round: Int)
        /// Send the round start to each of `to`.
        case broadcast(RoundStart, to: [Int])
        /// Deliver `.deadline(round, attempt)` after `seconds` (by the injected clock).
        case startDeadline(round: Int, attempt: Int, seconds: Double)
        case cancelDeadline(round: Int, attempt: Int)
        /// Each of `clients` made one more release this round (what the accountant counts).
        case recordReleases(round: Int, clients: [Int])
        /// Evaluate `weights` on the test set and answer with `.evaluated`.
        case evaluate(round: Int, weights: [Float])
        /// Tell observers.
        case emit(FederationEvent)
        /// A message that does not belong to the open attempt (late, duplicate, unknown sender).
        case ignored(reason: String)
        /// Save this state (`FederationCheckpoint`): due by `checkpointEvery`, or the run was stopped.
        case checkpoint(Snapshot)
        /// The run is over: tell the tracker and every client to stop, then return the summary.
        case finish(FederationSummary)
    }

    public enum Phase: Sendable, Equatable {
        case idle
        case awaitingLiveClients(round: Int)
        case collecting(round: Int, attempt: Int)
        case evaluating(round: Int)
        case finished
    }

    public let settings: Settings
    public let strategy: any FederatedStrategy
    public internal(set) var phase = Phase.idle
    /// The global model.
    public internal(set) var weights: [Float]
    /// Releases (accepted uploads) per client so far: what the accountant composes.
    public var releases: [Int] { ledger.releases }
    /// Every client's accountants (client-level, and example-level under DP-SGD): the server's privacy state.
    public internal(set) var ledger: ClientPrivacyLedger
    /// z_k and δ_k of each client (nil: no client-level guarantee), from the strategy.
    let clientNoise: [ClientLevelNoise?]
    var epsilonCache = EpsilonCache()
    /// Clients whose upload the server received in the current round.
    var uploadedThisRound: Set<Int> = []
    /// Clients left out of the current round's sampling by the budget.
    var excludedThisRound = 0
    public internal(set) var reports: [RoundReport] = []
    var aggregator: any Aggregator
    var round = 0
    private var attempt = 0
    private var sampled: [Int] = []
    private var participants: [Int] = []
    private var allDropped: [Int] = []
    /// Participants of the open attempt known to be gone (``Event/unreachable(round:attempt:clients:)``).
    private var unreachable: Set<Int> = []
    private var collection: RoundCollection?
    private var observer: (any RoundObserver)?
    private var pending: RoundReport?
    var runStarted = 0.0
    private var roundStarted = 0.0
    /// Seconds of the run before a resume.
    var earlierSeconds = 0.0
    /// The first non-finite loss or model, described with its round.
    var divergence: String?
    private var pendingFinite = true

    public init(settings: Settings, strategy: any FederatedStrategy, initialWeights: [Float]) {
        self.settings = settings
        self.strategy = strategy
        self.weights = initialWeights
        self.aggregator = strategy.makeAggregator()
        self.ledger = ClientPrivacyLedger(clientCount: settings.clientCount, exampleLevel: settings.exampleDelta != nil)
        self.clientNoise = (0..<settings.clientCount).map { k in
            try? strategy.clientLevelNoise(client: k, samples: settings.samplesOf[k], rounds: settings.rounds)
        }
    }

    /// Feeds one event at time `now` (seconds on the injected clock); returns what the shell must do, in order.
    /// Throws when a round cannot start at all (a configuration that admits no round, e.g. no NISS share graph).
    public mutating func handle(_ event: Event, now: Double) throws -> [Action] {
        switch (event, phase) {
        case (.start, .idle):
            runStarted = now
            return openRound(round + 1, now: now)
        case (.stop, .awaitingLiveClients):
            phase = .finished
            return [.checkpoint(snapshot(now: now)), .finish(try finish(now: now, interrupted: true))]
        case (.liveClients(let r, let live), .awaitingLiveClients(let expected)) where r == expected:
            let eligible: [Int]
            switch try admit(live: live) {
            case .stop(let reason): return [.finish(try finish(now: now, reason: reason))]
            case .eligible(let clients): eligible = clients
            }
            let key = StreamPurpose.sampling.key(seed: settings.seed, r)
            switch settings.sampling {
            case .fixed:
                sampled = Self.sample(live: eligible, fraction: settings.fraction, totalClients: settings.clientCount,
                                      key: key)
            case .poisson:
                sampled = ClientSampling.poisson(live: eligible, rate: settings.fraction,
                                                 totalClients: settings.clientCount, key: key)
            }
            if let reason = try refuse(sampled) { return [.finish(try finish(now: now, reason: reason))] }
            try accountSampling(eligible: eligible)
            participants = sampled
            attempt = 0
            allDropped = []
            uploadedThisRound = []
            let started = Action.emit(.roundStarted(round: r, sampled: sampled))
            // An empty Poisson cohort: a round nobody answered, the model kept.
            guard !sampled.isEmpty else { return [started] + (try finishRound(nil, skipped: false, now: now)) }
            return [started] + (try beginAttempt(now: now))
        case (.upload(let upload, let diagnostics), .collecting):
            if let reason = collection!.receive(upload, diagnostics: diagnostics) { return [.ignored(reason: reason)] }
            observer?.observe(upload, diagnostics: diagnostics)
            let received = Action.emit(.uploadReceived(round: round, client: upload.client))
            return collection!.isComplete ? [received] + (try closeAttempt(now: now)) : [received]
        case (.unreachable(let r, let a, let clients), .collecting(let cr, let ca)) where r == cr && a == ca:
            unreachable.formUnion(clients)
            return []
        case (.deadline(let r, let a), .collecting(let cr, let ca)) where r == cr && a == ca:
            collection!.skipOutstanding()
            return try closeAttempt(now: now)
        case (.evaluated(let r, let e), .evaluating(let er)) where r == er:
            pending!.testAccuracy = e.accuracy
            pending!.testLoss = e.loss
            return try completeRound(now: now)
        default:
            return [.ignored(reason: "\(event.summary) while \(phase)")]
        }
    }

    private mutating func openRound(_ r: Int, now: Double) -> [Action] {
        round = r
        roundStarted = now
        phase = .awaitingLiveClients(round: r)
        return [.requestLiveClients(round: r)]
    }

    private func samples(_ clients: [Int]) -> [Int] { clients.map { settings.samplesOf[$0] } }

    /// Broadcasts an attempt to `participants` with the strategy's parameters. A later attempt that the strategy
    /// cannot plan (a redo among fewer clients may have no share graph) skips the round rather than stop the run.
    private mutating func beginAttempt(now: Double) throws -> [Action] {
        let parameters: RoundParameters
        let counts = samples(participants)
        do {
            parameters = try strategy.roundParameters(round: round, participants: participants, samples: counts)
            observer = try strategy.makeRoundObserver(RoundObserverContext(
                round: round, attempt: attempt, participants: participants, samples: counts,
                parameters: parameters, length: weights.count, diagnostics: settings.diagnostics))
        } catch {
            // A Poisson cohort can be too small for the strategy (NISS needs 2): skip that round, not the run.
            guard attempt > 0 || settings.sampling == .poisson else { throw error }
            allDropped += participants
            return try finishRound(nil, skipped: true, now: now)
        }
        collection = RoundCollection(round: round, attempt: attempt, participants: participants,
                                     length: weights.count, diagnostics: settings.diagnostics)
        phase = .collecting(round: round, attempt: attempt)
        let start = RoundStart(round: round, weights: weights, sampledSamples: counts.reduce(0, +),
                               participants: participants, attempt: attempt, parameters: parameters)
        var actions: [Action] = [.broadcast(start, to: participants)]
        if let seconds = settings.deadlineSeconds {
            actions.append(.startDeadline(round: round, attempt: attempt, seconds: seconds))
        }
        return actions
    }

    /// Every participant answered or was given up: record the releases, then redo, skip or aggregate.
    private mutating func closeAttempt(now: Double) throws -> [Action] {
        var actions: [Action] = []
        if settings.deadlineSeconds != nil { actions.append(.cancelDeadline(round: round, attempt: attempt)) }
        let outcome = collection!.finish()
        collection = nil
        allDropped += outcome.dropped
        // Every upload the PS received is a release, redone attempts included (the redo retrains to the same w_k
        // and adds fresh noise, so the PS sees w_k twice): all count for the accountant.
        for u in outcome.uploads { try recordUpload(u) }
        actions.append(.recordReleases(round: round, clients: outcome.uploads.map(\.client)))
        let gone = unreachable.intersection(outcome.dropped)
        unreachable = []
        if !outcome.dropped.isEmpty, case .redo(let minimum) = strategy.afterDropouts(outcome.dropped) {
            // Clients known gone are left out; if there are none, every client that did not upload is.
            let remaining = participants.filter { gone.isEmpty ? !outcome.dropped.contains($0) : !gone.contains($0) }
            if !gone.isEmpty { allDropped.removeAll { remaining.contains($0) } }  // they get another attempt
            guard remaining.count >= minimum else {
                allDropped += remaining
                return actions + (try finishRound(nil, skipped: true, now: now))
            }
            participants = remaining
            attempt += 1
            return actions + (try beginAttempt(now: now))
        }
        return actions + (try finishRound(outcome, skipped: false, now: now))
    }

    /// Aggregates (unless skipped), builds the round's report, and evaluates when due.
    private mutating func finishRound(_ outcome: RoundCollection.Outcome?, skipped: Bool,
                                      now: Double) throws -> [Action] {
        if let average = outcome?.average {
            weights = aggregator.combine(previous: weights, average: average, round: round)
        }
        let uploads = outcome?.uploads ?? []
        var report = RoundReport(
            round: round, sampled: sampled, dropped: allDropped,
            // No upload, no loss: NaN, never a 0 that no client produced (rounds.csv leaves it empty).
            meanTrainLoss: uploads.isEmpty ? .nan : uploads.map(\.trainLoss).reduce(0, +) / Double(uploads.count),
            testAccuracy: nil, testLoss: nil, noiseStds: uploads.map(\.noiseStd),
            expectedNoiseVariance: Self.expectedNoiseVariance(uploads),
            realisedNoiseVariance: outcome?.noise.map(meanSquare), seconds: 0, weightsDigest: digest(weights))
        report.uploadNoiseVariances = uploads.compactMap { outcome?.uploadNoise[$0.client] }
        report.attempts = attempt + 1
        report.skipped = skipped
        if let outcome, !skipped { observer?.annotate(&report, uploads: outcome.uploads, dropped: outcome.dropped) }
        report.privacy = try roundPrivacy()
        pending = report
        pendingFinite = !Self.hasNonFinite(weights)
        if round % settings.evaluateEvery == 0 || round == settings.rounds {
            phase = .evaluating(round: round)
            return [.evaluate(round: round, weights: weights)]
        }
        return try completeRound(now: now)
    }

    private mutating func completeRound(now: Double) throws -> [Action] {
        var report = pending!
        pending = nil
        report.seconds = now - roundStarted
        reports.append(report)
        let done = Action.emit(.roundCompleted(report))
        let diverged = divergence == nil ? Self.divergence(report, weightsFinite: pendingFinite) : nil
        if let diverged { divergence = diverged }
        if diverged != nil && settings.stopOnDivergence && round < settings.rounds {
            return [done, .finish(try finish(now: now))]
        }
        guard round == settings.rounds else {
            let due = settings.checkpointEvery > 0 && round % settings.checkpointEvery == 0
            return [done] + (due ? [.checkpoint(snapshot(now: now))] : []) + openRound(round + 1, now: now)
        }
        return [done, .finish(try finish(now: now))]
    }
}

extension ServerMachine.Event {
    var summary: String {
        switch self {
        case .start: "start"
        case .liveClients(let r, _): "live clients of round \(r)"
        case .upload(let u, _): "upload from client \(u.client) for round \(u.round) attempt \(u.attempt)"
        case .deadline(let r, let a): "deadline of round \(r) attempt \(a)"
        case .unreachable(let r, let a, let c): "clients \(c) unreachable in round \(r) attempt \(a)"
        case .evaluated(let r, _): "evaluation of round \(r)"
        case .stop: "stop"
        }
    }
}
