// PeerSilenceTests: nobody is named before a peer passes the limit; then every peer that missed a beat, longest first.
import FedMPI
import Testing

@Suite struct PeerSilenceTests {
    let t0 = ContinuousClock.now
    func at(_ seconds: Double) -> ContinuousClock.Instant { t0 + .milliseconds(Int(seconds * 1000)) }

    @Test func nobodyIsNamedWhileEveryPeerIsWithinTheLimit() {
        // Given: peers 1, 2, 3 beating every second, limit 3 s; peer 2 stops after 0.5 s
        var s = PeerSilence(peers: [1, 2, 3], interval: 1, limit: 3, start: t0)
        for t in stride(from: 0.5, through: 3.4, by: 1) { s.heard(1, at: at(t)); s.heard(3, at: at(t)) }
        s.heard(2, at: at(0.5))
        // Then: at 3.4 s peer 2 has been silent 2.9 s: below the limit, nobody is named (the control below)
        #expect(s.silent(now: at(3.4)).isEmpty)
        // When: it reaches the limit, it alone is named (the others beat 0.9 s ago: no missed beat)
        let named = s.silent(now: at(3.5))
        #expect(named.map(\.rank) == [2] && named[0].seconds == 3)
        #expect(!s.isEveryPeer(named))
    }

    @Test func aStalledReceiverNamesTheDeadPeerEvenWhenALiveOneIsSilentLonger() {
        // Given: rank 0's view when its receiving stalls at 10.0 s on a read from rank 2, killed at 10.0 s: rank 1's
        // last beat came at 9.1 s, rank 2's at 9.8 s
        var s = PeerSilence(peers: [1, 2], interval: 1, limit: 3, start: t0)
        s.heard(1, at: at(9.1))
        s.heard(2, at: at(9.8))
        // When: rank 1 passes the limit first
        let named = s.silent(now: at(12.1))
        // Then: both are named, longest first, and that is every peer (the hint that the receiving stalls); the old
        // rule (only the longest silent) named rank 1 alone
        #expect(named.map(\.rank) == [1, 2])
        #expect(abs(named[0].seconds - 3) < 1e-9 && abs(named[1].seconds - 2.3) < 1e-9)
        #expect(s.isEveryPeer(named))
    }

    @Test func beatsFromStrangersOrFromThePastChangeNothing() {
        var s = PeerSilence(peers: [4], interval: 1, limit: 2, start: t0)
        s.heard(4, at: at(5))
        s.heard(4, at: at(1))  // out of order: the later beat stands
        s.heard(7, at: at(6))  // not a peer
        #expect(s.silent(now: at(6.9)).isEmpty)
        #expect(s.silent(now: at(7)).map(\.rank) == [4])
        // Ties: equal silence is named by rank
        var tie = PeerSilence(peers: [3, 1, 2], interval: 1, limit: 2, start: t0)
        tie.heard(2, at: at(1))
        #expect(tie.silent(now: at(2)).map(\.rank) == [1, 3])
        #expect(tie.silent(now: at(3)).map(\.rank) == [1, 3, 2])
    }
}
