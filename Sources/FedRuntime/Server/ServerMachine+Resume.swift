// ServerMachine+Resume: the server's state for a checkpoint, a machine resumed from one, the summary, divergence.
import FedStrategy

extension ServerMachine {
    /// What a checkpoint holds of the server: with the configuration, everything needed to go on (see
    /// `FederationCheckpoint`).
    public struct Snapshot: Sendable {
        /// The last completed round.
        public var round: Int
        /// Wall-clock seconds of the run so far (summary.json's `seconds` keeps counting from here).
        public var elapsedSeconds: Double
        /// Every client's accountants (client- and example-level) and releases.
        public var ledger: ClientPrivacyLedger
        /// Rounds 1…round as reported.
        public var reports: [RoundReport]
        /// The global model.
        public var weights: [Float]
        /// `Aggregator.savedState()` (nil: stateless).
        public var aggregator: AggregatorState?
        /// The first diverged round, described.
        public var divergence: String?

        public init(round: Int, elapsedSeconds: Double, ledger: ClientPrivacyLedger, reports: [RoundReport],
                    weights: [Float], aggregator: AggregatorState?, divergence: String?) {
            (self.round, self.elapsedSeconds, self.ledger, self.reports) = (round, elapsedSeconds, ledger, reports)
            (self.weights, self.aggregator, self.divergence) = (weights, aggregator, divergence)
        }
    }

    /// A machine that continues after `snapshot.round`: `.start` opens round `snapshot.round + 1`.
    public init(settings: Settings, strategy: any FederatedStrategy, resuming snapshot: Snapshot) throws {
        self.init(settings: settings, strategy: strategy, initialWeights: snapshot.weights)
        guard snapshot.ledger.releases.count == settings.clientCount, snapshot.round >= 0, snapshot.round < settings.rounds,
              snapshot.reports.count == snapshot.round else {
            throw FederationCheckpoint.FormatError(
                description: "the checkpoint (round \(snapshot.round), \(snapshot.ledger.releases.count) clients, "
                    + "\(snapshot.reports.count) reports) does not fit this run (\(settings.rounds) rounds, "
                    + "\(settings.clientCount) clients)")
        }
        ledger = snapshot.ledger
        reports = snapshot.reports
        round = snapshot.round
        earlierSeconds = snapshot.elapsedSeconds
        divergence = snapshot.divergence
        if let state = snapshot.aggregator { try aggregator.restore(state) }
    }

    /// The state after the last completed round, at time `now`.
    public func snapshot(now: Double) -> Snapshot {
        Snapshot(round: reports.count, elapsedSeconds: earlierSeconds + now - runStarted,
                 ledger: ledger, reports: reports, weights: weights, aggregator: aggregator.savedState(),
                 divergence: divergence)
    }

    /// Why `report`'s round diverged (a NaN or infinite train loss of answering clients, test loss or model), or nil.
    static func divergence(_ report: RoundReport, weightsFinite: Bool) -> String? {
        // One σ_k per aggregated upload: a round nobody answered has no loss to diverge.
        if !report.noiseStds.isEmpty && !report.meanTrainLoss.isFinite {
            return "round \(report.round): the mean train loss is \(report.meanTrainLoss)"
        }
        if let loss = report.testLoss, !loss.isFinite { return "round \(report.round): the test loss is \(loss)" }
        if !weightsFinite { return "round \(report.round): the global model holds NaN or infinite weights" }
        return nil
    }

    /// Whether any weight is NaN or infinite: w·0 is 0 for every finite w and NaN otherwise (one vectorisable pass).
    static func hasNonFinite(_ weights: [Float]) -> Bool {
        var sum: Float = 0
        for w in weights { sum += w * 0 }
        return !sum.isFinite
    }

    /// Ends the run with the rounds so far; `reason` (a budget stop) joins the warnings; `interrupted`: stopped by
    /// a signal before the configured rounds.
    mutating func finish(now: Double, reason: String? = nil, interrupted: Bool = false) throws -> FederationSummary {
        phase = .finished
        let evaluated = reports.last { $0.testAccuracy != nil }
        var summary = FederationSummary(
            name: settings.name, rounds: reports, finalTestAccuracy: evaluated?.testAccuracy,
            finalTestLoss: evaluated?.testLoss,
            privacy: try strategy.privacy(ledger: ledger, samples: settings.samplesOf, rounds: settings.rounds),
            seconds: earlierSeconds + now - runStarted,
            warnings: strategy.warnings + settings.sampling.warnings(addsNoise: strategy.addsNoise)
                + (reason.map { [$0] } ?? []))
        summary.exampleLevelPrivacy = try exampleLevelGuarantee()
        summary.interrupted = interrupted
        summary.divergence = divergence
        return summary
    }
}
