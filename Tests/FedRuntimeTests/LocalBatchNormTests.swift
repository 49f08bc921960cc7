// LocalBatchNormTests: the `batchNorm` switch: FedBN keeps BatchNorm coordinates per client, average is unchanged.
import FedData
import FedNN
import FedRuntime
import FedTensor
import Testing

@Suite("FedBN (batchNorm local)", .serialized)
struct LocalBatchNormTests {
    static func configuration(_ mode: BatchNormAggregation?, rounds: Int) -> FederationConfiguration {
        var c = smallConfiguration()
        c.model = .largeCNN
        c.rounds = rounds
        c.clients.count = 2
        c.clients.fraction = 1
        c.batchNorm = mode
        return c
    }

    static func federate(_ mode: BatchNormAggregation?, rounds: Int) async throws -> (Federation, FederationSummary) {
        let f = try Federation(configuration: configuration(mode, rounds: rounds), train: smallMNIST.train,
                               test: smallMNIST.test)
        let summary = try await ComputeThreads.$taskLimit.withValue(2) { try await f.run() }
        return (f, summary)
    }

    /// Round 1 starts every client from w_0, so local and FedAvg agree bit for bit (every coordinate: the server
    /// still averages the uploaded BatchNorm slices for evaluation); the clients' own slices differ from each other
    /// and their p_k-weighted average is the global model's. In round 2 the clients start from their own slices,
    /// so the runs part.
    @Test func clientsKeepTheirOwnBatchNormCoordinates() async throws {
        let (fedAvg, plain) = try await Self.federate(nil, rounds: 2)
        let (fedBN, local) = try await Self.federate(.local, rounds: 2)
        #expect(local.rounds[0].weightsDigest == plain.rounds[0].weightsDigest)
        #expect(local.rounds[1].weightsDigest != plain.rounds[1].weightsDigest)
        let strategy = try #require(fedBN.strategy as? LocalBatchNormStrategy)
        #expect(strategy.name == "FedAvg (FedBN)")
        let a = try #require(strategy.store.coordinates(client: 0))
        let b = try #require(strategy.store.coordinates(client: 1))
        // large-cnn: three BatchNorm layers of 32, 64, 128 channels, 4 slices each.
        #expect(a.count == 4 * (32 + 64 + 128) && b.count == a.count)
        #expect(a != b)
        // The global BatchNorm slices: the average of the two clients' (equal p_k = 1/2 on a 300/300 split).
        let global = strategy.extract(try #require(fedBN.globalWeights))
        let gap = zip(global, zip(a, b)).map { abs(Double($0) - (Double($1.0) + Double($1.1)) / 2) }.max()!
        #expect(fedBN.partitions.map(\.count) == [300, 300])
        #expect(gap < 1e-5)
        // The non-BatchNorm coordinates moved off FedAvg's in round 2 (FedAvg's model has the same layout).
        let all = Set(0..<fedBN.network.parameterCount)
        let bn = Set(strategy.ranges.flatMap { Array($0) })
        let others = all.subtracting(bn).sorted()
        let p = try #require(fedAvg.globalWeights), q = try #require(fedBN.globalWeights)
        #expect(others.contains { p[$0] != q[$0] })
    }

    /// `average` is the default spelled out: bit-identical to leaving the key out, every round.
    @Test func averageIsTheDefault() async throws {
        let (_, plain) = try await Self.federate(nil, rounds: 2)
        let (f, average) = try await Self.federate(.average, rounds: 2)
        #expect(average.rounds.map(\.weightsDigest) == plain.rounds.map(\.weightsDigest))
        #expect(!(f.strategy is LocalBatchNormStrategy))
    }

    @Test func localNeedsABatchNormModel() async throws {
        var c = smallConfiguration()
        c.batchNorm = .local
        #expect(throws: ConfigurationError.self) { try c.validate() }
        do {
            try c.validate()
        } catch {
            #expect(error.keyPath == "batchNorm")
        }
        c.batchNorm = .average
        try c.validate()
    }
}
