// CheckpointTests: the checkpoint format keeps every bit, refuses torn or foreign files, and a resumed run is identical.
import FedNN
import FedRuntime
import FedStrategy
import FedTensor
import Foundation
import Synchronization
import Testing

/// FedAvg with server momentum: an aggregator whose state a checkpoint must carry (`Aggregator.savedState`).
struct MomentumFedAvg: FederatedStrategy {
    var name: String { "FedAvg with server momentum" }
    /// Leave the velocity out of checkpoints (the negative control).
    var forget = false
    func prepareUpload(_ context: UploadContext) throws -> PreparedUpload { weightedModel(context) }
    func makeAggregator() -> any Aggregator { Momentum(forget: forget) }

    struct Momentum: Aggregator {
        var forget: Bool
        var velocity: [Float] = []
        var steps = 0.0
        mutating func combine(previous: [Float], average: [Float], round: Int) -> [Float] {
            if velocity.isEmpty { velocity = [Float](repeating: 0, count: previous.count) }
            steps += 1
            var next = previous
            for i in previous.indices {
                velocity[i] = 0.9 * velocity[i] + (previous[i] - average[i])
                next[i] = previous[i] - velocity[i]
            }
            return next
        }
        func savedState() -> AggregatorState? {
            forget ? nil : AggregatorState(values: ["steps": steps], vectors: [velocity])
        }
        mutating func restore(_ state: AggregatorState) throws {
            steps = state.values["steps"] ?? 0
            velocity = state.vectors[0]
        }
    }
}

/// Collects what `RunControl.save` receives.
final class Saved: Sendable {
    let list = Mutex<[FederationCheckpoint]>([])
    func save(_ c: FederationCheckpoint) { list.withLock { $0.append(c) } }
    var last: FederationCheckpoint? { list.withLock { $0.last } }
}

@Suite("Checkpoints", .serialized)
struct CheckpointTests {
    static func checkpoint() throws -> FederationCheckpoint {
        // RoundReport has no public initialiser: a report as summary.json would hold it.
        let json = """
            {"round": 1, "sampled": [0, 1], "dropped": [1], "meanTrainLoss": "nan", "testAccuracy": 0.1,
             "testLoss": "inf", "noiseStds": [0.30000000000000004], "expectedNoiseVariance": 1e-300, "seconds": 0.5,
             "weightsDigest": "x", "uploadNoiseVariances": [], "attempts": 2, "skipped": false}
            """
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf",
                                                                        negativeInfinity: "-inf", nan: "nan")
        let report = try decoder.decode(RoundReport.self, from: Data(json.utf8))
        // Bits a text round-trip could lose: −0, a subnormal, NaN with a payload, ±∞, the largest float.
        let weights: [Float] = [-0.0, .leastNonzeroMagnitude, Float(bitPattern: 0x7FC0_1234), .infinity,
                                -.infinity, .greatestFiniteMagnitude, 0.1, 1 / 3]
        // A ledger with an odd σ (not a short decimal) and an example-level accountant, to round-trip exactly.
        var ledger = ClientPrivacyLedger(clientCount: 2, exampleLevel: true)
        ledger.recordRelease(client: 0, newRound: true)
        try ledger.recordClientLevel(client: 0, noiseMultiplier: 1 / 3, sampleRate: 1)
        try ledger.recordExampleLevel(client: 0, noiseMultiplier: 0.1 + 0.2, sampleRate: 0.01, steps: 7)
        return FederationCheckpoint(configuration: FederationConfiguration(), server: ServerMachine.Snapshot(
            round: 1, elapsedSeconds: 2.5, ledger: ledger, reports: [report], weights: weights,
            aggregator: AggregatorState(values: ["a": 0.1], vectors: [[1, .nan], [], [-0.0]]), divergence: nil))
    }

    @Test func theFormatKeepsEveryBit() throws {
        let c = try Self.checkpoint()
        let back = try FederationCheckpoint(encoded: try c.encoded())
        #expect(back.weights.map(\.bitPattern) == c.weights.map(\.bitPattern))
        #expect(back.aggregator?.vectors.map { $0.map(\.bitPattern) } == c.aggregator?.vectors.map { $0.map(\.bitPattern) })
        #expect(back.aggregator?.values == ["a": 0.1] && back.round == 1 && back.ledger == c.ledger)
        #expect(back.ledger.releases == [1, 0] && back.ledger.exampleSteps == [7, 0])
        #expect(back.elapsedSeconds == 2.5 && back.configurationDigest == FederationConfiguration().resumeDigest)
        let r = try #require(back.reports.first)
        #expect(r.meanTrainLoss.isNaN && r.testLoss == .infinity && r.noiseStds == [0.1 + 0.2])
        #expect(r.expectedNoiseVariance == 1e-300 && r.attempts == 2 && r.dropped == [1])
    }

    @Test func tornForeignAndCorruptFilesAreRefusedInWords() throws {
        let data = try Self.checkpoint().encoded()
        func why(_ d: Data) -> String {
            do { _ = try FederationCheckpoint(encoded: d); return "accepted" } catch { return "\(error)" }
        }
        #expect(why(data.dropLast(1)).contains("torn"))
        #expect(why(data.prefix(30)).contains("truncated"))
        #expect(why(Data("{\"round\": 1}".utf8)).contains("not a FedNoise checkpoint"))
        var flipped = data
        flipped[flipped.count - 3] ^= 0x01
        #expect(why(flipped).contains("corrupt"))
        var newer = data
        let text = String(decoding: newer, as: UTF8.self)
        let at = try #require(text.range(of: "\"format\":1")).lowerBound.utf16Offset(in: text)
        newer[at + 9] = UInt8(ascii: "7")
        #expect(why(newer).contains("format 7"))
        #expect(why(data) == "accepted")
    }

    /// Runs `config` with `strategy`, stopping after `stopAfter` (nil: to the end) or resuming `from`.
    static func run(_ config: FederationConfiguration, _ strategy: any FederatedStrategy, stopAfter: Int? = nil,
                    from: FederationCheckpoint? = nil, saved: Saved = Saved()) async throws
        -> (FederationSummary, [Float])
    {
        let federation = try Federation(configuration: config, train: smallMNIST.train, test: smallMNIST.test,
                                        strategy: strategy)
        let summary = try await federation.run(control: RunControl(
            resume: from, stop: stopAfter.map { StopRequest(afterRound: $0) }, save: { saved.save($0) }))
        return (summary, try #require(federation.globalWeights))
    }

    @Test func aResumedRunEndsWithTheSameBitsAndTheAggregatorStateMatters() async throws {
        var config = smallConfiguration()
        config.rounds = 4
        config.checkpointEvery = 3
        let (full, fullWeights) = try await Self.run(config, MomentumFedAvg())
        let saved = Saved()
        let (first, _) = try await Self.run(config, MomentumFedAvg(), stopAfter: 2, saved: saved)
        #expect(first.interrupted && first.rounds.count == 2)
        // Only the stop's checkpoint (round 2): checkpointEvery = 3 is not due yet.
        let checkpoint = try #require(saved.list.withLock { $0.count == 1 ? $0.last : nil })
        #expect(checkpoint.round == 2 && checkpoint.aggregator?.vectors.first?.count == fullWeights.count)
        let stored = try FederationCheckpoint(encoded: try checkpoint.encoded())
        let (resumed, weights) = try await Self.run(config, MomentumFedAvg(), from: stored)
        #expect(weights.map(\.bitPattern) == fullWeights.map(\.bitPattern))
        #expect(resumed.rounds.map(\.weightsDigest) == full.rounds.map(\.weightsDigest))
        #expect(resumed.rounds.map(\.meanTrainLoss) == full.rounds.map(\.meanTrainLoss) && !resumed.interrupted)
        // Negative control: without the server momentum the continued run is another run.
        var forgetful = stored
        forgetful.aggregator = nil
        let (_, other) = try await Self.run(config, MomentumFedAvg(), from: forgetful)
        #expect(other.map(\.bitPattern) != fullWeights.map(\.bitPattern))
    }

    @Test func aCheckpointOfAnotherConfigurationIsRefused() async throws {
        var config = smallConfiguration()
        config.rounds = 2
        let saved = Saved()
        _ = try await Self.run(config, FedAvg(), stopAfter: 1, saved: saved)
        var other = config
        other.training.learningRate = 0.1
        await #expect(throws: FederationError.self) {
            _ = try await Self.run(other, FedAvg(), from: saved.last)
        }
        // The keys a resume may change leave the digest alone.
        var moved = config
        moved.output = "elsewhere"
        moved.checkpointEvery = 7
        #expect(moved.resumeDigest == config.resumeDigest && other.resumeDigest != config.resumeDigest)
    }

    @Test func divergenceStopsTheRunAtItsRoundUnlessAllowed() async throws {
        var config = smallConfiguration()
        config.rounds = 4
        config.training.learningRate = 1000
        let (stopped, _) = try await Self.run(config, FedAvg())
        let divergence = try #require(stopped.divergence)
        let round = try #require(stopped.rounds.last?.round)
        #expect(stopped.rounds.count < 4 && divergence.hasPrefix("round \(round):"))
        config.continueAfterDivergence = true
        let (kept, _) = try await Self.run(config, FedAvg())
        #expect(kept.rounds.count == 4 && kept.divergence == divergence)
    }
}
