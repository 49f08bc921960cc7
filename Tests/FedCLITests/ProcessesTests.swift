// ProcessesTests: `fednoise run --processes 3` (the real binary, 3 processes over loopback) keeps the pinned bits.
import FedCLI
import FedTestKit
import Foundation
import Testing

@Suite("Multi-process federations", .serialized)
struct ProcessesTests {
    /// The smoke runs across three processes (PS and tracker; clients 0..4; clients 5..9) give rounds.csv with the
    /// very bits pinned for the in-process runs in `RoundsDigestTests`.
    @Test(.enabled(if: fednoiseBinary != nil,
                   "the fednoise binary is not built next to the tests (swift build -c release, or FEDNOISE_BINARY)"),
          .timeLimit(.minutes(3)),
          arguments: [("smoke-fedavg", ["strategy.kind=fedAvg"]),
                      ("smoke-niss-seeded", ["strategy.kind=niss", "strategy.niss.encoding=seeded",
                                             "deadlineSeconds=300"])])
    func runAcrossProcessesKeepsThePinnedBits(name: String, sets: [String]) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let process = Process()
        process.executableURL = fednoiseBinary
        process.arguments = ["run", ResumeTests.smokePath, "--processes", "3", "--quiet", "--threads", "2"]
            + (sets + ["output=\(directory.url.path)"]).flatMap { ["--set", $0] }
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        // Bounded: a hung federation fails here after two minutes instead of hanging the suite.
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "stderr: \(stderr)")
        let digest = try RoundsDigestTests.digest(directory.file("rounds.csv"))
        #expect(digest == RoundsDigestTests.expected[name])
    }
}
