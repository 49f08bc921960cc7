// RoundStateMachineTests: the PS's round logic and the tracker's registry, driven synchronously (no actors).
import FedRuntime
import FedTensor
import Testing

@Suite("Round state machine")
struct RoundStateMachineTests {
    func upload(_ client: Int, round: Int = 1, value: Float, weight: Double) -> ClientUpload {
        ClientUpload(round: round, client: client, payload: [value, 2 * value], weight: weight, samples: 10,
                     trainLoss: 0.5)
    }

    @Test func samplesMaxOfCKAndOneFromLiveClientsDeterministically() {
        let live = Array(0..<100)
        let a = RoundStateMachine.sample(live: live, fraction: 0.1, totalClients: 100, key: StreamKey(seed: 1, 3, 1))
        let b = RoundStateMachine.sample(live: live, fraction: 0.1, totalClients: 100, key: StreamKey(seed: 1, 3, 1))
        let c = RoundStateMachine.sample(live: live, fraction: 0.1, totalClients: 100, key: StreamKey(seed: 1, 3, 2))
        #expect(a.count == 10 && a == a.sorted() && Set(a).count == 10)
        #expect(a == b)
        #expect(a != c)
        #expect(RoundStateMachine.sample(live: live, fraction: 0.001, totalClients: 100, key: StreamKey(seed: 1)).count == 1)
        // Only live clients, and never more than there are.
        let few = RoundStateMachine.sample(live: [3, 8], fraction: 0.5, totalClients: 10, key: StreamKey(seed: 2))
        #expect(few == [3, 8])
    }

    @Test func samplingIsUniform() {
        // Each of 20 clients is picked with probability 5/20 per round; over 4,000 rounds the count of each has
        // mean 1,000 and std √(4000·0.25·0.75) ≈ 27.4: allow 5 std.
        var counts = [Int](repeating: 0, count: 20)
        for round in 0..<4000 {
            for c in RoundStateMachine.sample(live: Array(0..<20), fraction: 0.25, totalClients: 20,
                                              key: StreamKey(seed: 9, UInt64(round))) {
                counts[c] += 1
            }
        }
        #expect(counts.allSatisfy { abs($0 - 1000) < 137 }, "\(counts)")
    }

    @Test func aggregatesWhenEveryoneAnsweredInAnyOrder() {
        var m = RoundStateMachine(length: 2)
        m.start(round: 1, sampled: [2, 5], samples: [30, 10], diagnostics: false)
        #expect(m.sampledSamples == 40)
        #expect(m.receive(upload(5, value: 0.25 * 4, weight: 0.25)) == .wait)
        #expect(m.receive(upload(2, value: 0.75 * 8, weight: 0.75)) == .aggregate(round: 1))
        let out = m.finish()
        // Σ p_k w_k = 0.75·8 + 0.25·4 = 7 (and 14 for the second coordinate).
        #expect(out.weights == [7, 14])
        #expect(out.reports.map(\.client) == [2, 5])
        #expect(out.reports.allSatisfy { $0.payload.isEmpty })
        #expect(m.state == .idle)
    }

    @Test func deadlineLeavesOutSilentClientsAndRenormalises() {
        var m = RoundStateMachine(length: 2)
        m.start(round: 4, sampled: [1, 2, 3], samples: [10, 10, 20], diagnostics: false)
        #expect(m.receive(upload(3, round: 4, value: 0.5 * 6, weight: 0.5)) == .wait)
        #expect(m.receive(upload(1, round: 4, value: 0.25 * 2, weight: 0.25)) == .wait)
        #expect(m.deadlinePassed(round: 3) == .ignore(reason: "deadline for a round or attempt that is not open"))
        // A deadline for another attempt of this round (a late timer of a redone NISS round) is ignored too.
        #expect(m.deadlinePassed(round: 4, attempt: 1) == .ignore(reason: "deadline for a round or attempt that is not open"))
        #expect(m.deadlinePassed(round: 4) == .aggregate(round: 4))
        let out = m.finish()
        #expect(out.dropped == [2])
        // (0.25·2 + 0.5·6) / 0.75 = 14/3: the mean of the models that arrived, weighted by their p_k.
        #expect(abs(out.weights![0] - 14.0 / 3) < 1e-6)
    }

    @Test func ignoresLateDuplicateAndUnknownUploads() {
        var m = RoundStateMachine(length: 2)
        #expect(m.receive(upload(1, value: 1, weight: 1)) == .ignore(reason: "no round is open"))
        m.start(round: 2, sampled: [1, 2], samples: [1, 1], diagnostics: false)
        if case .ignore = m.receive(upload(1, round: 1, value: 1, weight: 0.5)) {} else { Issue.record("late upload") }
        #expect(m.receive(upload(1, round: 2, value: 1, weight: 0.5)) == .wait)
        if case .ignore = m.receive(upload(1, round: 2, value: 1, weight: 0.5)) {} else { Issue.record("duplicate") }
        if case .ignore = m.receive(upload(9, round: 2, value: 1, weight: 0.5)) {} else { Issue.record("stranger") }
        #expect(m.receive(upload(2, round: 2, value: 3, weight: 0.5)) == .aggregate(round: 2))
        #expect(m.finish().weights == [4, 8])
    }

    @Test func everyoneSilentKeepsTheOldModel() {
        var m = RoundStateMachine(length: 2)
        m.start(round: 1, sampled: [0, 1], samples: [5, 5], diagnostics: false)
        #expect(m.deadlinePassed(round: 1) == .aggregate(round: 1))
        let out = m.finish()
        #expect(out.weights == nil)
        #expect(out.dropped == [0, 1])
    }

    @Test func trackerRegistry() {
        var t = TrackerState()
        for c in [5, 1, 3, 1] { t.register(c) }
        #expect(t.liveClients == [1, 3, 5])
        t.remove(3)
        #expect(t.liveClients == [1, 5])
    }
}
