// ShareGraphTests: the tracker's share graph and a client's share exchange, driven synchronously.
import FedPrivacy
import FedRuntime
import FedTestKit
import FedStrategy
import FedTensor
import Testing

@Suite("NISS share graph and exchange")
struct ShareGraphTests {
    @Test func everyClientSendsAndReceivesItsShareCountAndNeverItself() throws {
        let shares = [0: 16, 3: 16, 4: 20, 7: 9, 9: 40]
        for round in 1...20 {
            let graph = try ShareGraph.assign(shares: shares, round: round, attempt: 0,
                                              key: StreamKey(seed: 5, UInt64(round)))
            #expect(Set(graph.keys) == Set(shares.keys))
            var received: [Int: Int] = [:]
            for (client, a) in graph {
                #expect(a.targets.count == shares[client])
                #expect(!a.targets.contains(client))
                for t in a.targets { received[t, default: 0] += 1 }
                #expect(a.incoming == a.incoming.sorted())
                #expect(a.incoming.allSatisfy { $0.from != client })
                // The incoming list is exactly the shares whose target is this client.
                let expected = graph.flatMap { other, b in
                    b.targets.enumerated().filter { $0.element == client }.map { ShareID(from: other, index: $0.offset) }
                }.sorted()
                #expect(a.incoming == expected)
            }
            #expect(received == shares)
        }
        // Deterministic from the tracker's key; a different key gives a different graph.
        let a = try ShareGraph.assign(shares: shares, round: 1, attempt: 0, key: StreamKey(seed: 5, 1))
        let b = try ShareGraph.assign(shares: shares, round: 1, attempt: 0, key: StreamKey(seed: 5, 1))
        let c = try ShareGraph.assign(shares: shares, round: 1, attempt: 0, key: StreamKey(seed: 6, 1))
        #expect(a == b)
        #expect(a != c)
    }

    @Test func infeasibleShareCountsAreRefused() {
        // Client 1 needs 10 partners' slots; the others offer 4 + 5 = 9.
        #expect(throws: ShareGraph.Failure.infeasible(client: 1, shares: 10, others: 9)) {
            try ShareGraph.assign(shares: [0: 4, 1: 10, 2: 5], round: 1, attempt: 0, key: StreamKey(seed: 1))
        }
        // The boundary (10 against 10) is feasible: every share of client 1 goes to the others and back.
        #expect((try? ShareGraph.assign(shares: [0: 5, 1: 10, 2: 5], round: 1, attempt: 0,
                                        key: StreamKey(seed: 1))) != nil)
    }

    @Test func shareCountsFollowTheCeilingRule() {
        #expect(NISSShares.shareCount(clientVariance: 0.16, unitVariance: 0.01) == 16)
        // σ_k²/(σ_k²/16) may round to 16.000000000000004: still 16.
        let s2 = 0.0434 * 0.0434
        #expect(NISSShares.shareCount(clientVariance: s2, unitVariance: s2 / 16) == 16)
        #expect(NISSShares.shareCount(clientVariance: 0.161, unitVariance: 0.01) == 17)
        #expect(NISSShares.shareCount(clientVariance: 0.001, unitVariance: 0.01) == 1)
        #expect(NISSShares.defaultUnitVariance(clientVariances: [0.32, 0.16, 0.64], targetShares: 16) == 0.01)
        #expect(NISSShares.collusionResidualFactor(rho: 0.25, tau2: 0.5) == 2)
        #expect(NISSShares.minimumTau2(rho: 0.75) == 0.5)
        #expect(NISSShares.minimumTau2(rho: 0.25) == 0)
    }

    /// Two clients, each with 3 shares, exchanging with each other: with τ = 0 the noises cancel exactly, and dense
    /// and seeded encodings and any arrival order give the same noise bit for bit.
    @Test func exchangeCancelsAndIsEncodingAndOrderInvariant() throws {
        let h = 1_000
        let graph = try ShareGraph.assign(shares: [0: 3, 1: 3], round: 2, attempt: 0, key: StreamKey(seed: 3))
        func noises(_ encoding: ShareEncoding, tau2: Double, reversed: Bool) throws -> [[Float]] {
            var ex = [0, 1].map {
                ShareExchange(client: $0, round: 2, attempt: 0, unitVariance: 0.25, shareCount: 3, tau2: tau2,
                              encoding: encoding, length: h, seed: 11)
            }
            for c in 0..<2 { ex[c].setAssignment(graph[c]!) }
            var inFlight = ex.flatMap { $0.outgoingShares() }
            if reversed { inFlight.reverse() }
            #expect(inFlight.allSatisfy { $0.to != $0.id.from })
            for share in inFlight { try ex[share.to].receive(share) }
            #expect(ex.allSatisfy { $0.isComplete })
            // A share delivered twice is refused.
            #expect(throws: ShareExchange.Rejection.duplicate(inFlight[0].id)) { try ex[inFlight[0].to].receive(inFlight[0]) }
            return ex.map { $0.noise().noise }
        }
        let dense = try noises(.dense, tau2: 0, reversed: false)
        let seeded = try noises(.seeded, tau2: 0, reversed: true)
        #expect(dense == seeded)
        // Each client's noise alone has variance 2·3·σ² = 1.5 (3 own shares, 3 received), over 1,000 coordinates:
        // relative standard error √(2/1000) ≈ 4.5%, so 20% is over 4 standard errors.
        for n in dense {
            let v = n.map { Double($0) * Double($0) }.reduce(0, +) / Double(h)
            #expect(abs(v / 1.5 - 1) < 0.2)
        }
        // τ = 0: the two noises are exact negatives of each other up to Float32 rounding of the sums.
        let worst = zip(dense[0], dense[1]).map { abs($0 + $1) }.max()!
        #expect(worst < 1e-5)
        // τ > 0: still encoding- and order-invariant, and no longer cancelling.
        let d2 = try noises(.dense, tau2: 0.5, reversed: true)
        let s2 = try noises(.seeded, tau2: 0.5, reversed: false)
        #expect(d2 == s2)
        #expect(zip(d2[0], d2[1]).map { abs($0 + $1) }.max()! > 0.01)
    }

    @Test func trackerAssignsOnceEveryParticipantAsked() throws {
        var t = TrackerState(seed: 9)
        let participants = [1, 4, 6]
        #expect(try t.request(NeighbourRequest(round: 1, attempt: 0, client: 4, shares: 8, participants: participants)).isEmpty)
        #expect(try t.request(NeighbourRequest(round: 1, attempt: 0, client: 1, shares: 8, participants: participants)).isEmpty)
        let all = try t.request(NeighbourRequest(round: 1, attempt: 0, client: 6, shares: 8, participants: participants))
        #expect(all.map(\.client) == participants)
        #expect(all.allSatisfy { $0.targets.count == 8 && $0.incoming.count == 8 && !$0.targets.contains($0.client) })
        // A redo (attempt 1) without client 6 discards nothing it should not and assigns among the two left.
        #expect(try t.request(NeighbourRequest(round: 1, attempt: 1, client: 1, shares: 8, participants: [1, 4])).isEmpty)
        // A late request for the abandoned attempt is ignored.
        #expect(try t.request(NeighbourRequest(round: 1, attempt: 0, client: 6, shares: 8, participants: participants)).isEmpty)
        let redo = try t.request(NeighbourRequest(round: 1, attempt: 1, client: 4, shares: 8, participants: [1, 4]))
        #expect(redo.count == 2 && redo[0].targets == [Int](repeating: 4, count: 8))
    }
}
