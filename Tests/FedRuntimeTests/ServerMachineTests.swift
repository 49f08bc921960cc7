// ServerMachineTests: the PS's whole run driven synchronously: sampling, deadlines, redo, skip, order-free sums.
import FedNN
import FedPrivacy
import FedRuntime
import FedTestKit
import FedStrategy
import FedTensor
import Testing

/// FedAvg whose server redoes an attempt without the clients that dropped (as NISS does), needing `minimum` left.
struct RedoingFedAvg: FederatedStrategy {
    var minimum = 2
    var name: String { "redoing FedAvg" }
    func prepareUpload(_ context: UploadContext) throws -> PreparedUpload { weightedModel(context) }
    func afterDropouts(_ dropped: [Int]) -> DropoutDecision { .redo(minimumClients: minimum) }
}

struct ServerMachineTests {
    typealias Action = ServerMachine.Action

    static func machine(_ strategy: any FederatedStrategy = FedAvg(), rounds: Int = 1, clients: Int = 4,
                        fraction: Double = 1, deadline: Double? = 30, evaluateEvery: Int = 1,
                        samples: [Int]? = nil) -> ServerMachine {
        ServerMachine(settings: .init(name: "t", seed: 1, rounds: rounds, clientCount: clients, fraction: fraction,
                                      evaluateEvery: evaluateEvery, deadlineSeconds: deadline, diagnostics: false,
                                      samplesOf: samples ?? [Int](repeating: 10, count: clients)),
                      strategy: strategy, initialWeights: [0, 0])
    }

    static func upload(_ client: Int, round: Int = 1, attempt: Int = 0, value: Float, weight: Double,
                       loss: Double = 1) -> ServerMachine.Event {
        .upload(ClientUpload(round: round, client: client, payload: [value * Float(weight), 2 * value * Float(weight)],
                             weight: weight, samples: 10, trainLoss: loss, attempt: attempt), diagnostics: nil)
    }

    /// The round starts the machine asked to broadcast, in order.
    static func broadcasts(_ actions: [Action]) -> [RoundStart] {
        actions.compactMap { if case .broadcast(let s, _) = $0 { s } else { nil } }
    }

    static func completed(_ actions: [Action]) -> RoundReport? {
        actions.lazy.compactMap { if case .emit(.roundCompleted(let r)) = $0 { r } else { nil } }.first
    }

    static func summary(_ actions: [Action]) -> FederationSummary? {
        actions.lazy.compactMap { if case .finish(let s) = $0 { s } else { nil } }.first
    }

    static func isIgnored(_ actions: [Action]) -> Bool {
        if actions.count == 1, case .ignored = actions[0] { return true }
        return false
    }

    @Test func samplingIsSeededSortedAndOfSizeCK() {
        let live = Array(0..<100)
        let a = ServerMachine.sample(live: live, fraction: 0.1, totalClients: 100, key: StreamKey(seed: 1, 3, 1))
        let b = ServerMachine.sample(live: live, fraction: 0.1, totalClients: 100, key: StreamKey(seed: 1, 3, 1))
        let c = ServerMachine.sample(live: live, fraction: 0.1, totalClients: 100, key: StreamKey(seed: 1, 3, 2))
        #expect(a == b && a != c && a.count == 10 && a == a.sorted() && Set(a).count == 10)
        #expect(ServerMachine.sample(live: live, fraction: 0.001, totalClients: 100, key: StreamKey(seed: 1)).count == 1)
        // Fewer live clients than m: all of them.
        #expect(ServerMachine.sample(live: [3, 8], fraction: 0.5, totalClients: 10, key: StreamKey(seed: 2)) == [3, 8])
    }

    @Test func aRunIsRequestBroadcastCollectEvaluateAndFinish() throws {
        var m = Self.machine(rounds: 2, clients: 2, evaluateEvery: 2)
        var actions = try m.handle(.start, now: 0)
        guard case .requestLiveClients(1) = actions.first, actions.count == 1 else {
            Issue.record("expected a live-client request, got \(actions)")
            return
        }
        actions = try m.handle(.liveClients(round: 1, clients: [0, 1]), now: 1)
        #expect(Self.broadcasts(actions).map(\.participants) == [[0, 1]])
        #expect(actions.contains { if case .startDeadline(1, 0, 30) = $0 { true } else { false } })
        // Uploads in reverse order; round 1 is not evaluated (evaluateEvery = 2), so it completes at once.
        #expect(!Self.isIgnored(try m.handle(Self.upload(1, value: 3, weight: 0.5), now: 2)))
        actions = try m.handle(Self.upload(0, value: 1, weight: 0.5), now: 3)
        #expect(actions.contains { if case .cancelDeadline(1, 0) = $0 { true } else { false } })
        #expect(actions.contains { if case .recordReleases(1, [0, 1]) = $0 { true } else { false } })
        let report = try #require(Self.completed(actions))
        #expect(report.testAccuracy == nil && report.seconds == 3 && report.dropped.isEmpty)
        #expect(m.weights == [2, 4])
        #expect(actions.contains { if case .requestLiveClients(2) = $0 { true } else { false } })
        _ = try m.handle(.liveClients(round: 2, clients: [0, 1]), now: 4)
        _ = try m.handle(Self.upload(0, round: 2, value: 0, weight: 0.5), now: 5)
        actions = try m.handle(Self.upload(1, round: 2, value: 2, weight: 0.5), now: 6)
        // The last round is evaluated: the machine asks, the shell answers.
        guard case .evaluate(2, let w)? = actions.last else {
            Issue.record("expected an evaluation, got \(actions)")
            return
        }
        #expect(w == [1, 2])
        actions = try m.handle(.evaluated(round: 2, Evaluation(loss: 0.5, accuracy: 0.75, count: 4)), now: 7)
        let summary = try #require(Self.summary(actions))
        #expect(summary.rounds.count == 2 && summary.finalTestAccuracy == 0.75 && summary.seconds == 7)
        #expect(m.releases == [2, 2] && m.phase == .finished)
    }

    @Test func theDeadlineLeavesOutSilentClientsAndRenormalises() throws {
        var m = Self.machine(clients: 3)
        _ = try m.handle(.start, now: 0)
        _ = try m.handle(.liveClients(round: 1, clients: [0, 1, 2]), now: 0)
        _ = try m.handle(Self.upload(0, value: 2, weight: 0.25), now: 1)
        _ = try m.handle(Self.upload(1, value: 6, weight: 0.5), now: 2)
        // A deadline of another attempt (a late timer of a redone round) is ignored.
        #expect(Self.isIgnored(try m.handle(.deadline(round: 1, attempt: 1), now: 30)))
        let actions = try m.handle(.deadline(round: 1, attempt: 0), now: 30)
        #expect(actions.last.map { if case .evaluate = $0 { true } else { false } } == true)
        // (0.25·2 + 0.5·6) / 0.75 = 14/3: the mean of the models that arrived, weighted by their p_k.
        #expect(abs(m.weights[0] - 14.0 / 3) < 1e-6)
        let done = try m.handle(.evaluated(round: 1, Evaluation(loss: 1, accuracy: 0.5, count: 1)), now: 31)
        #expect(Self.completed(done)?.dropped == [2])
        #expect(m.releases == [1, 1, 0])
    }

    @Test func lateDuplicateAndUnknownUploadsAreIgnored() throws {
        var m = Self.machine(rounds: 2, clients: 3, fraction: 2.0 / 3)
        #expect(Self.isIgnored(try m.handle(Self.upload(1, value: 1, weight: 1), now: 0)))
        _ = try m.handle(.start, now: 0)
        let start = Self.broadcasts(try m.handle(.liveClients(round: 1, clients: [0, 1, 2]), now: 0))[0]
        let (a, b) = (start.participants[0], start.participants[1])
        let stranger = Set([0, 1, 2]).subtracting(start.participants).first!
        #expect(Self.isIgnored(try m.handle(Self.upload(a, round: 0, value: 1, weight: 0.5), now: 1)))
        #expect(!Self.isIgnored(try m.handle(Self.upload(a, value: 1, weight: 0.5), now: 1)))
        #expect(Self.isIgnored(try m.handle(Self.upload(a, value: 1, weight: 0.5), now: 1)))
        #expect(Self.isIgnored(try m.handle(Self.upload(stranger, value: 1, weight: 0.5), now: 1)))
        _ = try m.handle(Self.upload(b, value: 3, weight: 0.5), now: 1)
        #expect(m.weights == [2, 4])
    }

    @Test func aRoundWithNoUploadKeepsTheModel() throws {
        var m = Self.machine(clients: 2)
        _ = try m.handle(.start, now: 0)
        _ = try m.handle(.liveClients(round: 1, clients: [0, 1]), now: 0)
        _ = try m.handle(.deadline(round: 1, attempt: 0), now: 30)
        let actions = try m.handle(.evaluated(round: 1, Evaluation(loss: 1, accuracy: 0.1, count: 1)), now: 30)
        let report = try #require(Self.completed(actions))
        #expect(m.weights == [0, 0] && report.dropped == [0, 1] && m.releases == [0, 0])
        // No client produced a loss: NaN, never 0; and it is not divergence.
        #expect(report.meanTrainLoss.isNaN && Self.summary(actions)?.divergence == nil)
    }

    @Test func aDropoutIsRedoneWithoutTheMissingClientAndItsOldUploadIsIgnored() throws {
        var m = Self.machine(RedoingFedAvg(), clients: 3)
        _ = try m.handle(.start, now: 0)
        _ = try m.handle(.liveClients(round: 1, clients: [0, 1, 2]), now: 0)
        _ = try m.handle(Self.upload(0, value: 1, weight: 1.0 / 3), now: 1)
        _ = try m.handle(Self.upload(1, value: 1, weight: 1.0 / 3), now: 1)
        let redo = try m.handle(.deadline(round: 1, attempt: 0), now: 30)
        let again = try #require(Self.broadcasts(redo).first)
        #expect(again.attempt == 1 && again.participants == [0, 1] && again.sampledSamples == 20)
        #expect(redo.contains { if case .startDeadline(1, 1, 30) = $0 { true } else { false } })
        #expect(m.phase == .collecting(round: 1, attempt: 1))
        // Client 2's late upload of attempt 0 must not enter attempt 1.
        #expect(Self.isIgnored(try m.handle(Self.upload(2, value: 9, weight: 1.0 / 3), now: 31)))
        _ = try m.handle(Self.upload(0, attempt: 1, value: 1, weight: 0.5), now: 32)
        _ = try m.handle(Self.upload(1, attempt: 1, value: 3, weight: 0.5), now: 33)
        let done = try m.handle(.evaluated(round: 1, Evaluation(loss: 1, accuracy: 1, count: 1)), now: 34)
        let report = try #require(Self.completed(done))
        #expect(report.attempts == 2 && report.dropped == [2] && !report.skipped && m.weights == [2, 4])
        // Both attempts' uploads are releases.
        #expect(m.releases == [2, 2, 0])
    }

    @Test func aRedoWithTooFewClientsLeftSkipsTheRound() throws {
        var m = Self.machine(RedoingFedAvg(minimum: 2), clients: 2)
        _ = try m.handle(.start, now: 0)
        _ = try m.handle(.liveClients(round: 1, clients: [0, 1]), now: 0)
        _ = try m.handle(Self.upload(0, value: 5, weight: 0.5), now: 1)
        let actions = try m.handle(.deadline(round: 1, attempt: 0), now: 30)
        #expect(Self.broadcasts(actions).isEmpty)
        let done = try m.handle(.evaluated(round: 1, Evaluation(loss: 1, accuracy: 1, count: 1)), now: 30)
        let report = try #require(Self.completed(done))
        #expect(report.skipped && report.dropped == [1, 0] && m.weights == [0, 0])
    }

    @Test func theAggregateHasTheSameBitsForEveryArrivalOrder() throws {
        // Values whose float sums depend on the order (large and tiny magnitudes).
        let values: [Float] = [1e8, -1e8, 3.14159, 1e-7, -2.5e-3, 7]
        var results: Set<[UInt32]> = []
        var rng = Philox(StreamKey(seed: 5))
        var order = Array(0..<6)
        for _ in 0..<24 {
            RandomDraws.shuffle(&order, using: &rng)
            var m = Self.machine(clients: 6, deadline: nil)
            _ = try m.handle(.start, now: 0)
            _ = try m.handle(.liveClients(round: 1, clients: Array(0..<6)), now: 0)
            for k in order {
                _ = try m.handle(.upload(ClientUpload(round: 1, client: k, payload: [values[k], -values[k]],
                                                      weight: 1.0 / 6, samples: 10, trainLoss: 0), diagnostics: nil),
                                 now: 0)
            }
            results.insert(m.weights.map(\.bitPattern))
        }
        #expect(results.count == 1)
        // Negative control: plain float summation in those orders does depend on the order.
        var plain: Set<UInt32> = []
        for _ in 0..<24 {
            RandomDraws.shuffle(&order, using: &rng)
            plain.insert(order.reduce(Float(0)) { $0 + values[$1] }.bitPattern)
        }
        #expect(plain.count > 1)
    }

    @Test func trackerRegistry() {
        var t = TrackerState()
        for c in [5, 1, 3, 1] { t.register(c) }
        #expect(t.liveClients == [1, 3, 5])
        t.remove(3)
        #expect(t.liveClients == [1, 5])
    }
}
