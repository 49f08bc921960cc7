// BenchBroadcastTests: `fednoise bench --broadcast` at tiny sizes: every client gets the exact bits, the JSON is written.
import FedCLI
import Foundation
import Testing

@Suite(.timeLimit(.minutes(1))) struct BenchBroadcastTests {
    @Test(arguments: [true, false])
    func everyClientReceivesTheExactBitsAtEveryRepeat(tls: Bool) async throws {
        // Given: 5 clients on 2 links, an 80 kB model with NaN payloads, infinities and subnormals in it (large
        // enough for the links to receive it straight into the clients' vectors and to share repeated copies), new
        // weights each round
        let bench = BroadcastBench(clients: 5, links: 2, floats: 20_000, repeats: 2, tls: tls)
        let weights = BroadcastBench.weights(count: 20_000)
        #expect(weights.contains { $0.isNaN } && weights.contains { $0.isInfinite }
                && weights.contains { $0.isSubnormal })
        #expect(BroadcastBench.weights(count: 20_000, round: 2).map(\.bitPattern) != weights.map(\.bitPattern))
        // When
        let report = try await bench.run()
        // Then: each client's copies of the first and the last broadcast were exact, and every broadcast reached
        // every client once
        #expect(report.exactCopies == 5)
        #expect(report.deliveries == [3, 3, 3, 3, 3])
        #expect(report.seconds.count == 2 && report.seconds.allSatisfy { $0 > 0 })
        #expect(report.cpuSeconds.count == 2)
        #expect(report.messageBytes > 80_000 && report.messageBytes < 81_000)
        // Over TLS a frame arrives a record at a time, so each link receives its clients' copies apart and shares
        // the repeats: one array per link (plaintext may read a whole frame at once and decode it as before).
        if tls { #expect(report.lastCopyArrays == 2) } else { #expect((2...5).contains(report.lastCopyArrays)) }
        #expect(report.cipherSuite == (tls ? "TLS_AES_128_GCM_SHA256" : nil))
    }

    @Test func theCommandWritesOneRowPerRepeatAndTheMedians() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bench-broadcast-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let json = folder.appendingPathComponent("b.json").path
        let status = await FedCommandLine.run(["bench", "--broadcast", "--plaintext", "--clients", "3", "--links", "3",
                                               "--megabytes", "0.01", "--repeats", "3", "--json", json])
        #expect(status == 0)
        let rows = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [[String: Any]]
        let names = rows?.compactMap { $0["benchmark"] as? String } ?? []
        #expect(names.count == 5)
        #expect(names.filter { $0.contains("repeat") }.count == 3 && names.contains { $0.hasSuffix("median") })
        #expect(rows?.allSatisfy { ($0["value"] as? Double ?? 0) > 0 && $0["cpu"] is String } == true)
    }

    @Test func boundsAreUsageErrorsNamingTheFlag() async {
        for args in [["--clients", "0"], ["--clients", "257"], ["--links", "0"], ["--links", "65"],
                     ["--megabytes", "0"], ["--megabytes", "600"], ["--repeats", "0"], ["--repeats", "101"],
                     ["--tls", "--plaintext"], ["--clients", "2", "--links", "3"],
                     ["--clients", "256", "--megabytes", "100"], ["--layers"]] {
            #expect(await FedCommandLine.run(["bench", "--broadcast"] + args) == 2, "\(args)")
        }
        // Without --broadcast its options are unknown.
        #expect(await FedCommandLine.run(["bench", "--plaintext"]) == 2)
    }
}
