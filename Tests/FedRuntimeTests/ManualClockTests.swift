// ManualClockTests: deadlines, redos and skips of real federations driven by a manual clock: no real sleep anywhere.
import FedData
import FedRuntime
import FedTestKit
import FedTransport
import Testing

@Suite("Deadlines on a manual clock")
struct ManualClockTests {
    static func configuration(_ kind: StrategyKindName) -> FederationConfiguration {
        var c = FederationConfiguration()
        c.model = .mlp
        c.rounds = 2
        c.clients.count = 6
        c.clients.fraction = 1
        c.training.localEpochs = 1
        c.deadlineSeconds = 30
        c.strategy.kind = kind == .niss ? .niss : .fedAvg
        return c
    }

    enum StrategyKindName { case fedAvg, niss }

    /// Runs `config` with round 1's upload from client 2 lost; the manual clock is advanced past the deadline only
    /// once every other upload of the attempt is in (and only then), so the test never sleeps.
    static func runWithLostUpload(_ config: FederationConfiguration) async throws -> (FederationSummary, Double) {
        let (train, test) = try DatasetLoader.embeddedMNIST()
        let clock = ManualClock()
        let federation = try Federation(configuration: config, train: DatasetSamples(train.subset(indices: 0..<300)),
                                        test: DatasetSamples(test.subset(indices: 0..<100)), clock: clock)
        let transport = FaultInjectingTransport(wrapping: InProcessTransport<FederationMessage>(), seed: 1)
        transport.inject(.drop, limit: 1) { envelope in
            if case .upload(let u, _) = envelope.message { return u.round == 1 && u.client == 2 }
            return false
        }
        let run = Task { try await federation.run(transport: transport) }
        var received = 0
        for await event in federation.events {
            switch event {
            case .roundStarted: received = 0
            case .uploadReceived(1, _):
                received += 1
                // Five of six uploads are in; the PS's timer for this attempt is armed: let it fire.
                if received == 5 {
                    #expect(await clock.waitForSleepers(1))
                    clock.advance(by: 30)
                }
            case .finished: break
            default: continue
            }
            if case .finished = event { break }
        }
        return (try await run.value, clock.now)
    }

    @Test func aLostUploadIsLeftOutWhenTheManualClockPassesTheDeadline() async throws {
        let (summary, now) = try await Self.runWithLostUpload(Self.configuration(.fedAvg))
        #expect(summary.rounds[0].dropped == [2] && summary.rounds[0].attempts == 1)
        #expect(summary.rounds[1].dropped.isEmpty)
        // Round 1 took the 30 s of manual time that passed, not real time.
        #expect(summary.rounds[0].seconds >= 30 && now == 30)
    }

    @Test func nissRedoesTheRoundWithoutTheClientWhoseUploadWasLost() async throws {
        let (summary, now) = try await Self.runWithLostUpload(Self.configuration(.niss))
        // Client 2 exchanged shares, then its upload was lost: its shares would stay unmatched, so the PS redid
        // the round with the other five (fresh shares) instead of aggregating.
        #expect(summary.rounds[0].attempts == 2 && summary.rounds[0].dropped == [2] && !summary.rounds[0].skipped)
        #expect(summary.rounds[0].niss?.unmatched == [])
        #expect(summary.rounds[1].attempts == 1 && now == 30)
    }
}
