// TLSCommandsTests: `fednoise certs`, then `serve` and two `join`s over TLS with them (the real binary): pinned bits.
import FedCLI
import FedTestKit
import Foundation
import Testing

@Suite("TLS federations through the CLI", .serialized)
struct TLSCommandsTests {
    /// Starts the fednoise binary with `arguments`, its stderr piped.
    private func start(_ arguments: [String]) throws -> (Process, Pipe) {
        let process = Process(), errors = Pipe()
        process.executableURL = fednoiseBinary
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        return (process, errors)
    }

    @Test(.enabled(if: fednoiseBinary != nil, "the fednoise binary is not built next to the tests"),
          .timeLimit(.minutes(3)))
    func certsThenServeAndJoinOverTLSKeepThePinnedBits() async throws {
        // Given: certificates for 10 clients on 2 nodes, written by `fednoise certs`
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let pki = directory.file("pki").path
        #expect(await FedCommandLine.run(["certs", "--out", pki, "--clients", "10", "--nodes", "2", "--days", "1"]) == 0)
        let mode = try FileManager.default.attributesOfItem(atPath: pki + "/clients-5-9-key.pem")[.posixPermissions]
        #expect(mode as? Int == 0o600)
        // When: the server and two nodes run the smoke FedAvg federation over TLS (a free port, found by binding 0)
        let port = try freeLoopbackPort()
        let sets = ["strategy.kind=fedAvg"].flatMap { ["--set", $0] }
        let (server, serverErrors) = try start(["serve", ResumeTests.smokePath, "--listen", "127.0.0.1:\(port)",
                                                "--tls", pki, "--quiet", "--set", "output=\(directory.url.path)/out"]
                                               + sets)
        let joins = try ["0..4", "5..9"].map { range in
            try start(["join", ResumeTests.smokePath, "--connect", "127.0.0.1:\(port)", "--clients", range,
                       "--tls", pki, "--quiet", "--threads", "1"] + sets)
        }
        // Bounded: a hung federation fails here instead of hanging the suite.
        let deadline = Date().addingTimeInterval(120)
        while ([server] + joins.map(\.0)).contains(where: \.isRunning) && Date() < deadline { usleep(10_000) }
        for process in [server] + joins.map(\.0) where process.isRunning { process.terminate() }
        for (process, errors) in [(server, serverErrors)] + joins {
            process.waitUntilExit()
            let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(process.terminationReason == .exit && process.terminationStatus == 0, "stderr: \(stderr)")
        }
        // Then: the in-process run's pinned rounds.csv, bit for bit
        let digest = try RoundsDigestTests.digest(directory.file("out/rounds.csv"))
        #expect(digest == RoundsDigestTests.expected["smoke-fedavg"])
    }
}

/// A loopback port nobody listens on right now (bound, then released).
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
        }
    }
    guard ok else { throw POSIXError(.EADDRNOTAVAIL) }
    return Int(UInt16(bigEndian: address.sin_port))
}
