// RunControl: how a caller steers a federation's run: resume from a checkpoint, save checkpoints, stop between rounds.
import Synchronization

/// A request to stop a running federation after the round under way (SIGINT), or after a given round.
/// Thread-safe; once set, never reset.
public final class StopRequest: Sendable {
    private let flag = Atomic<Bool>(false)
    /// Stop once this round is complete, as if interrupted then (nil: only on `request()`).
    public let afterRound: Int?
    public init(afterRound: Int? = nil) { self.afterRound = afterRound }
    /// Ask the run to stop once the current round is complete.
    public func request() { flag.store(true, ordering: .sequentiallyConsistent) }
    public var isRequested: Bool { flag.load(ordering: .sequentiallyConsistent) }
    /// Whether the run must stop instead of starting `round`.
    public func stops(before round: Int) -> Bool { isRequested || afterRound.map { round > $0 } ?? false }
}

/// What `Federation.run(transport:control:)` is told beyond the configuration.
public struct RunControl: Sendable {
    /// Continue this checkpoint's run (its configuration must have this federation's `resumeDigest`).
    public var resume: FederationCheckpoint?
    /// Checked between rounds: when set, the run ends with a checkpoint and an interrupted summary.
    public var stop: StopRequest?
    /// Receives each checkpoint (every `checkpointEvery` rounds, and on a stop), on the parameter server's task: the
    /// next round starts after it returns. An error ends the run.
    public var save: (@Sendable (FederationCheckpoint) throws -> Void)?
    /// Receives each round's report on the parameter server's task, before that round's checkpoint and before the
    /// next round starts (rounds.csv rows: a file never lags its checkpoint). An error ends the run.
    public var completed: (@Sendable (RoundReport) throws -> Void)?
    /// Receives the global model of every evaluated round (after its evaluation, before its report), on the
    /// parameter server's task: per-round measurements of the model itself (the SNR at noise sites). An error ends
    /// the run.
    public var evaluated: (@Sendable (_ round: Int, _ weights: [Float]) throws -> Void)?
    /// Overrides `configuration.continueAfterDivergence` (the CLI's `--allow-divergence`); nil: the configuration's.
    public var continueAfterDivergence: Bool?

    public init(resume: FederationCheckpoint? = nil, stop: StopRequest? = nil,
                save: (@Sendable (FederationCheckpoint) throws -> Void)? = nil,
                completed: (@Sendable (RoundReport) throws -> Void)? = nil, continueAfterDivergence: Bool? = nil) {
        self.completed = completed
        self.resume = resume
        self.stop = stop
        self.save = save
        self.continueAfterDivergence = continueAfterDivergence
    }
}

/// The parameter server's part of `RunControl`.
struct ServerControl: Sendable {
    var stop: StopRequest?
    var save: (@Sendable (ServerMachine.Snapshot) throws -> Void)?
    var completed: (@Sendable (RoundReport) throws -> Void)?
    var evaluated: (@Sendable (Int, [Float]) throws -> Void)?
}
