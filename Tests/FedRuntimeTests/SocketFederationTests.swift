// SocketFederationTests: the PS and tracker on a socket hub, clients on two links: the same model, bit for bit.
import FedData
import FedRuntime
import FedStrategy
import FedTensor
import FedTransport
import Foundation
import Testing

/// Serves `config` on a loopback hub and joins its clients from `parts` links (separate `Federation` objects, as
/// separate processes would build them); returns the server's summary and final weights.
func runOverSockets(_ config: FederationConfiguration, parts: Int = 2) async throws
    -> (summary: FederationSummary, weights: [Float])
{
    let session = config.resumeDigest
    let hub = try SocketHub<FederationMessage>(listeningOn: SocketAddress(host: "127.0.0.1", port: 0), session: session)
    let k = config.clients.count
    let server = try Federation(configuration: config, train: smallMNIST.train, test: smallMNIST.test)
    let ids = (0..<k).map(EndpointID.client)
    return try await ComputeThreads.$taskLimit.withValue(2) {
        try await withThrowingTaskGroup(of: FederationSummary?.self) { group in
            for part in 0..<parts {
                let range = (part * k / parts)..<((part + 1) * k / parts)
                let link = try SocketLink<FederationMessage>(connectingTo: hub.address, session: session)
                let clients = try Federation(configuration: config, train: smallMNIST.train, test: smallMNIST.test)
                group.addTask {
                    try await clients.join(clients: range, transport: link)
                    #expect(link.disconnection == nil)
                    return nil
                }
            }
            group.addTask {
                try await server.serve(transport: hub) { try await hub.waitForEndpoints(ids, timeoutSeconds: 20) }
            }
            var summary: FederationSummary?
            for try await s in group where s != nil { summary = s }
            return (try #require(summary), try #require(server.globalWeights))
        }
    }
}

@Suite("Federations over sockets", .serialized, .timeLimit(.minutes(2)))
struct SocketFederationTests {
    @Test func fedAvgOverSocketsIsBitIdenticalToInProcess() async throws {
        let config = smallConfiguration(.fedAvg)
        let local = try await runKeepingWeights(config)
        let remote = try await runOverSockets(config)
        #expect(remote.weights.map(\.bitPattern) == local.weights.map(\.bitPattern))
        #expect(remote.summary.rounds.map(\.weightsDigest) == local.summary.rounds.map(\.weightsDigest))
        #expect(remote.summary.rounds.map(\.sampled) == local.summary.rounds.map(\.sampled))
    }

    /// NISS: shares travel client to client through the hub, between and within the two links.
    @Test(arguments: [ShareEncoding.seeded, .dense])
    func nissOverSocketsIsBitIdenticalToInProcess(encoding: ShareEncoding) async throws {
        var config = nissConfiguration(model: .mlp, clients: 10, fraction: 0.5, tau2: 0.3, rounds: 2)
        config.strategy.niss.encoding = encoding
        config.deadlineSeconds = 300
        let local = try await runKeepingWeights(config)
        let remote = try await runOverSockets(config)
        #expect(remote.weights.map(\.bitPattern) == local.weights.map(\.bitPattern))
        #expect(remote.summary.rounds.map(\.realisedNoiseVariance) == local.summary.rounds.map(\.realisedNoiseVariance))
        #expect(remote.summary.rounds.allSatisfy { $0.attempts == 1 && $0.dropped.isEmpty })
        // The control: another seed gives another model (so equality above is not vacuous).
        config.seed += 1
        let other = try await runKeepingWeights(config)
        #expect(other.weights.map(\.bitPattern) != local.weights.map(\.bitPattern))
    }

    @Test func aJoinerOfAnotherConfigurationIsRefused() async throws {
        let config = smallConfiguration(.fedAvg)
        var other = config
        other.seed += 1
        let hub = try SocketHub<FederationMessage>(listeningOn: SocketAddress(host: "127.0.0.1", port: 0),
                                                   session: config.resumeDigest)
        let link = try SocketLink<FederationMessage>(connectingTo: hub.address, session: other.resumeDigest)
        let clients = try Federation(configuration: other, train: smallMNIST.train, test: smallMNIST.test)
        await #expect(throws: SocketTransportError.self) { try await clients.join(clients: 0..<5, transport: link) }
        #expect(hub.registeredEndpoints.isEmpty)
        await hub.shutdown()
    }
}

/// A measurement, not a check (run with FEDNOISE_MEASURE=1): the CNN model (1,663,370 floats, 6.65 MB) broadcast from
/// the hub to 30 clients on two links over loopback (plaintext, then TLS 1.3), as the PS broadcasts a round start;
/// prints the aggregate rate.
@Suite("Socket broadcast throughput", .serialized)
struct SocketBroadcastMeasurement {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["FEDNOISE_MEASURE"] == "1"), arguments: [false, true])
    func broadcastTheCNNModelToThirtyClients(tls: Bool) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fednoise-bench-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let pki = TLSDirectory(folder)
        if tls { try pki.create(clients: 30, nodes: 2, days: 1) }
        let hub = try SocketHub<FederationMessage>(listeningOn: SocketAddress(host: "127.0.0.1", port: 0),
                                                   tls: tls ? TLSContext(.hub, files: pki.hub) : nil)
        let links = try TLSDirectory.ranges(clients: 30, nodes: 2).map { range in
            try SocketLink<FederationMessage>(connectingTo: hub.address,
                                              tls: tls ? TLSContext(.link, files: pki.node(range)) : nil)
        }
        var mailboxes: [Mailbox<FederationMessage>] = []
        for c in 0..<30 { mailboxes.append(try await links[c / 15].register(.client(c))) }
        let consumers = mailboxes.map { mailbox in
            Task { var n = 0; for await _ in mailbox { n += 1 }; return n }
        }
        let start = RoundStart(round: 1, weights: (0..<1_663_370).map { Float($0) * 1e-6 }, sampledSamples: 18_000,
                               participants: Array(0..<30))
        let bytes = 30.0 * Double(try WireFormat.encode(FederationMessage.roundStart(start)).count)
        for trial in 0..<3 {
            let t0 = ContinuousClock.now
            for c in 0..<30 { try await hub.send(.roundStart(start), from: .parameterServer, to: .client(c)) }
            let sequential = (ContinuousClock.now - t0) / .seconds(1)
            let t1 = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for c in 0..<30 {
                    group.addTask { try await hub.send(.roundStart(start), from: .parameterServer, to: .client(c)) }
                }
                try await group.waitForAll()
            }
            let concurrent = (ContinuousClock.now - t1) / .seconds(1)
            let t2 = ContinuousClock.now
            #expect(try await hub.broadcast(.roundStart(start), from: .parameterServer,
                                            to: (0..<30).map { .client($0) }).isEmpty)
            let broadcast = (ContinuousClock.now - t2) / .seconds(1)
            print("broadcast \(tls ? "TLS" : "plaintext") trial \(trial): \(Int(bytes / 30)) B × 30 clients: sequential \(sequential) s "
                  + "(\(bytes / sequential / 1e9) GB/s), concurrent \(concurrent) s (\(bytes / concurrent / 1e9) GB/s), "
                  + "hub.broadcast \(broadcast) s (\(bytes / broadcast / 1e9) GB/s)")
        }
        await hub.shutdown()
        var delivered = 0
        for consumer in consumers { delivered += await consumer.value }
        #expect(delivered == 270)
        withExtendedLifetime(links) {}  // a link that is deallocated closes its connection
    }
}
