// KillAndResumeTests: the real fednoise binary, killed with SIGKILL after a checkpoint, resumes to the same bits.
import FedCLI
import FedRuntime
import FedTestKit
import Foundation
import Testing

/// The `fednoise` executable built next to this test bundle (SwiftPM puts both in one products folder), or the
/// one `FEDNOISE_BINARY` names; nil when neither exists (the test is then skipped, saying why).
let fednoiseBinary: URL? = {
    if let path = ProcessInfo.processInfo.environment["FEDNOISE_BINARY"] { return URL(fileURLWithPath: path) }
    #if os(Linux)
    let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    #else
    let me = Bundle.main.bundleURL
    #endif
    var folder = me.deletingLastPathComponent()
    for _ in 0..<4 {  // macOS: …/release/FedNoisePackageTests.xctest/Contents/MacOS/…
        let candidate = folder.appendingPathComponent("fednoise")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        folder = folder.deletingLastPathComponent()
    }
    return nil
}()

@Suite("SIGKILL and resume", .serialized)
struct KillAndResumeTests {
    static func launch(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = fednoiseBinary
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// SIGKILL: nothing runs after it (what a crash or the OOM killer leaves). SIGINT: the run finishes its round,
    /// writes an interrupted summary and a checkpoint, and exits with 130.
    /// Polls `file` until it holds a checkpoint of `round` or later, `process` ends, or a minute passes.
    static func waitForCheckpoint(_ file: URL, round: Int, while process: Process) -> Int {
        let deadline = Date().addingTimeInterval(60)
        var reached = 0
        while reached < round && process.isRunning && Date() < deadline {
            usleep(2_000)
            if let data = try? Data(contentsOf: file) { reached = (try? FederationCheckpoint(encoded: data))?.round ?? 0 }
        }
        return reached
    }

    @Test(.enabled(if: fednoiseBinary != nil,
                   "the fednoise binary is not built next to the tests (swift build -c release, or FEDNOISE_BINARY)"),
          arguments: [SIGKILL, SIGINT])
    func aKilledRunResumesToTheUninterruptedBits(signal: Int32) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let killed = directory.file("killed"), whole = directory.file("whole")
        // NISS with seeded shares: the strategy with the most per-round randomness (shares, distortions, graph).
        let sets = ["strategy.kind=niss", "strategy.niss.encoding=seeded", "deadlineSeconds=300", "rounds=40"]
        let child = try Self.launch(["run", ResumeTests.smokePath, "--quiet", "--threads", "1"]
                                    + sets.flatMap { ["--set", $0] } + ["--set", "output=\(killed.path)"])
        // Kill once a checkpoint after round 2 or later is on disk (polled; the run takes seconds, this < 1 s).
        let checkpoint = killed.appendingPathComponent("checkpoint.fnck")
        // Polled on this thread (usleep), not with Task.sleep: other suites' training can keep the cooperative
        // pool busy for seconds, long enough for the child to finish.
        let round = Self.waitForCheckpoint(checkpoint, round: 2, while: child)
        let wasRunning = child.isRunning
        kill(child.processIdentifier, signal)
        child.waitUntilExit()
        try #require(wasRunning, "the run ended before it could be killed (round \(round))")
        if signal == SIGKILL {
            #expect(child.terminationReason == .uncaughtSignal && child.terminationStatus == SIGKILL)
        } else {
            #expect(child.terminationReason == .exit && child.terminationStatus == 130)
            let status = try ResumeTests.status(killed)
            #expect(status.status == "interrupted")
            #expect(try ResumeTests.csvLines(killed).count - 1 == status.lastCompletedRound)
            let stored = try FederationCheckpoint(encoded: Data(contentsOf: checkpoint))
            #expect(stored.round == status.lastCompletedRound)
        }
        // What a kill leaves: a valid rounds.csv of at least the checkpoint's rounds, and the checkpoint.
        let rows = try ResumeTests.csvLines(killed).count - 1
        let stored = try FederationCheckpoint(encoded: Data(contentsOf: checkpoint))
        #expect(rows >= stored.round && stored.round >= 2 && stored.round < 40)
        let resumed = try Self.launch(["run", "--resume", killed.path, "--quiet"])
        resumed.waitUntilExit()
        #expect(resumed.terminationStatus == 0)
        var config = try RunCommand.loadConfiguration(ResumeTests.smokePath, overrides: sets)
        config.output = whole.path
        _ = try await RunCommand.execute(config, quiet: true)
        #expect(try RoundsDigestTests.digest(killed.appendingPathComponent("rounds.csv"))
                == RoundsDigestTests.digest(whole.appendingPathComponent("rounds.csv")))
        #expect(try ResumeTests.csvLines(killed).count == 41)
    }
}
