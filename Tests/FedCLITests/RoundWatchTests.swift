// RoundWatchTests: the round and the hosts still owing uploads, as a stopped MPI run reports them.
import FedCLI
import FedRuntime
import Testing

@Suite struct RoundWatchTests {
    @Test func namesTheRoundAndGroupsMissingUploadsByHost() {
        let placement = MPIPlacement(ranks: 3, clients: 10)  // clients 0…4 on rank 1, 5…9 on rank 2
        let watch = RoundWatch(rounds: 300) { "rank \(placement.rank(of: .client($0)) ?? -1)" }
        #expect(watch.summary == "before round 1/300")
        watch.observe(.roundStarted(round: 7, sampled: [1, 3, 6, 8, 9]))
        watch.observe(.uploadReceived(round: 7, client: 3))
        watch.observe(.uploadReceived(round: 7, client: 8))
        #expect(watch.summary == "round 7/300, waiting for uploads from rank 1 (client 1), rank 2 (clients 6, 9)")
        watch.observe(.uploadReceived(round: 7, client: 1))
        watch.observe(.uploadReceived(round: 7, client: 6))
        watch.observe(.uploadReceived(round: 7, client: 9))
        #expect(watch.summary == "round 7/300, every upload received")
        // A new round forgets the last one's uploads.
        watch.observe(.roundStarted(round: 8, sampled: [0, 5]))
        #expect(watch.summary == "round 8/300, waiting for uploads from rank 1 (client 0), rank 2 (client 5)")
    }

    @Test func longListsAreCut() {
        let watch = RoundWatch(rounds: 2) { _ in "rank 1" }
        watch.observe(.roundStarted(round: 1, sampled: Array(0..<20)))
        #expect(watch.summary == "round 1/2, waiting for uploads from rank 1 (clients 0, 1, 2, 3, 4, 5, 6, 7, … 20 in all)")
    }
}
