// LocalProcesses: `fednoise run --processes N`: this process serves, N − 1 child processes join over loopback.
import FedRuntime
import FedTensor
import FedTransport
import Foundation

/// Runs a federation across `processes` local processes: this one hosts the parameter server and the tracker on a
/// loopback hub (ephemeral port), and `processes − 1` children (`fednoise join`) host contiguous ranges of clients,
/// with the compute threads split between them. The children get the effective configuration as a JSON file in a
/// private directory (removed at the end), so `--set` and `--resume` apply to them too, and a random session token
/// in their environment (``PrivateRunFiles``). Children are stopped on every way out; a child that exits early fails
/// the run with its status.
enum LocalProcesses {
    /// The executable the children run: `FEDNOISE_EXECUTABLE` if set (tests), else this process's own binary.
    static var executable: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.environment["FEDNOISE_EXECUTABLE"] ?? "/proc/self/exe")
    }

    static func run(_ federation: Federation, control: RunControl, processes: Int,
                    security: Security = .insecure) async throws -> FederationSummary {
        let config = federation.configuration
        let k = config.clients.count
        let hosts = min(processes - 1, k)
        let token = PrivateRunFiles.randomToken()
        var environment = ProcessInfo.processInfo.environment
        environment[PrivateRunFiles.tokenVariable] = token
        let (tls, tlsArguments, tlsCleanup) = try security.prepare(clients: k, hosts: hosts)  // LocalProcesses+TLS
        defer { tlsCleanup() }
        let hub = try SocketHub<FederationMessage>(listeningOn: SocketAddress(host: "127.0.0.1", port: 0),
                                                   session: PrivateRunFiles.session(digest: config.resumeDigest,
                                                                                    environment: environment),
                                                   tls: tls,
                                                   log: { writeError("fednoise run: \($0)\n") })
        let directory = try PrivateRunFiles.makePrivateDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("config.json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try encoder.encode(config).write(to: file)
        let threads = max(1, ComputeThreads.count / hosts)
        var children: [Child] = []
        defer { stop(children.map(\.process)) }
        for part in 0..<hosts {
            let range = "\(part * k / hosts)..\((part + 1) * k / hosts - 1)"
            let child = Process()
            child.executableURL = executable
            child.arguments = ["join", file.path, "--connect", hub.address.description, "--clients", range,
                               "--quiet", "--threads", String(threads)] + tlsArguments
            child.standardOutput = FileHandle.nullDevice
            child.environment = environment
            try child.run()
            children.append(Child(process: child, clients: range))
        }
        let ids = (0..<k).map(EndpointID.client)
        let running = children
        let summary = try await federation.serve(transport: hub, control: control) {
            let deadline = ContinuousClock.now + .seconds(600)
            while true {
                do {
                    try await hub.waitForEndpoints(ids, timeoutSeconds: 0.5)
                    return
                } catch SocketTransportError.endpointsMissing(let missing, _) {
                    if let dead = running.first(where: { !$0.process.isRunning }) {
                        throw RunFailure(description: "the process hosting clients \(dead.clients) exited with status "
                                         + "\(dead.process.terminationStatus) before joining")
                    }
                    if ContinuousClock.now > deadline {
                        throw RunFailure(description: "\(missing.count) client(s) never joined within 600 s")
                    }
                }
            }
        }
        // The run is over and the hub has told the children; they exit on their own.
        let deadline = ContinuousClock.now + .seconds(30)
        while children.contains(where: { $0.process.isRunning }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        for child in children where !child.process.isRunning && child.process.terminationStatus != 0 {
            throw RunFailure(description: "the process hosting clients \(child.clients) exited with status "
                             + "\(child.process.terminationStatus)")
        }
        return summary
    }

    /// A child process and the clients it hosts (`Process` is used from one task at a time here).
    struct Child: @unchecked Sendable {
        let process: Process
        let clients: String
    }

    /// Terminates the children still running and reaps them (SIGKILL after 5 s).
    private static func stop(_ children: [Process]) {
        for child in children where child.isRunning { child.terminate() }
        let deadline = Date().addingTimeInterval(5)
        while children.contains(where: \.isRunning) && Date() < deadline { usleep(10_000) }
        for child in children where child.isRunning { kill(child.processIdentifier, SIGKILL) }
        for child in children { child.waitUntilExit() }
    }
}
