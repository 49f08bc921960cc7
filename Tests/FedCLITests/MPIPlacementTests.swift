// MPIPlacementTests: rank 0 hosts the PS and the tracker; clients fall in contiguous ranges covering 0..<K once.
import FedCLI
import FedTransport
import Testing

@Suite struct MPIPlacementTests {
    @Test(arguments: [(2, 1), (2, 100), (3, 100), (4, 10), (5, 3), (64, 1000)])
    func everyClientOnExactlyOneRankInOrder(_ ranks: Int, _ clients: Int) {
        let p = MPIPlacement(ranks: ranks, clients: clients)
        #expect(p.rank(of: .parameterServer) == 0 && p.rank(of: .tracker) == 0)
        #expect(p.clients(of: 0).isEmpty)
        let ranges = (1..<ranks).map { p.clients(of: $0) }
        // Contiguous, in rank order, covering 0..<K with sizes differing by at most one.
        #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == clients)
        #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        let sizes = ranges.map(\.count)
        #expect(sizes.max()! - sizes.min()! <= 1)
        for i in 0..<clients {
            let r = p.rank(of: .client(i))
            #expect(r.map { p.clients(of: $0).contains(i) } == true, "client \(i) on rank \(String(describing: r))")
        }
        #expect(p.rank(of: .client(clients)) == nil)
        #expect(p.rank(of: EndpointID(role: "other", index: 0)) == nil)
    }
}
