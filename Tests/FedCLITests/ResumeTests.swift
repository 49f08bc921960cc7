// ResumeTests: interrupted runs and sweeps continue from their checkpoints to the uninterrupted run's exact results.
import FedCLI
import FedRuntime
import FedTestKit
import Foundation
import Synchronization
import Testing

@Suite("Interruption and resume", .serialized)
struct ResumeTests {
    static let smokePath = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../config/smoke.json").standardized.path

    /// The smoke config under `kind` (NISS with seeded shares), `rounds` rounds, writing into `output`.
    static func smoke(_ kind: String, rounds: Int, output: URL) throws -> FederationConfiguration {
        var sets = ["strategy.kind=\(kind)", "rounds=\(rounds)", "output=\(output.path)"]
        if kind == "niss" { sets += ["strategy.niss.encoding=seeded", "deadlineSeconds=300"] }
        return try RunCommand.loadConfiguration(smokePath, overrides: sets)
    }

    struct Status: Decodable {
        var status: String
        var lastCompletedRound: Int
    }

    static func status(_ dir: URL) throws -> Status {
        try JSONDecoder().decode(Status.self, from: Data(contentsOf: dir.appendingPathComponent("summary.json")))
    }

    /// rounds.csv's lines; every one must have the header's number of fields (a valid CSV after any stop).
    static func csvLines(_ dir: URL) throws -> [Substring] {
        let text = try String(contentsOf: dir.appendingPathComponent("rounds.csv"), encoding: .utf8)
        #expect(text.hasSuffix("\n"), "rounds.csv ends with a whole row")
        let lines = text.split(separator: "\n")
        let fields = try #require(lines.first).split(separator: ",", omittingEmptySubsequences: false).count
        for line in lines { #expect(line.split(separator: ",", omittingEmptySubsequences: false).count == fields) }
        return lines
    }

    static func hasCheckpoint(_ dir: URL) -> Bool {
        FileManager.default.fileExists(atPath: dir.appendingPathComponent("checkpoint.fnck").path)
    }

    @Test(arguments: ["fedAvg", "dpFedAvg", "niss"])
    func aRunStoppedAfterRound2ResumesToTheSameBits(kind: String) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let whole = directory.file("whole"), parts = directory.file("parts")
        _ = try await RunCommand.execute(try Self.smoke(kind, rounds: 4, output: whole), quiet: true,
                                         allowDivergence: true)
        #expect(!Self.hasCheckpoint(whole), "a finished run leaves no checkpoint")
        let config = try Self.smoke(kind, rounds: 4, output: parts)
        do {
            _ = try await RunCommand.execute(config, quiet: true, allowDivergence: true,
                                             stop: StopRequest(afterRound: 2))
            Issue.record("a stopped run must throw RunInterrupted")
        } catch let error as RunInterrupted {
            #expect(error.status == 130 && error.description.contains("--resume \(parts.path)"))
        }
        let stopped = try Self.status(parts)
        #expect(stopped.status == "interrupted" && stopped.lastCompletedRound == 2)
        #expect(try Self.csvLines(parts).count == 1 + 2 && Self.hasCheckpoint(parts))
        let summary = try await RunCommand.execute(config, quiet: true, allowDivergence: true, resume: true)
        #expect(summary.rounds.count == 4 && !summary.interrupted && !Self.hasCheckpoint(parts))
        #expect(try Self.status(parts).status == "complete")
        // Every row but its seconds, the final weights' digest included, is the uninterrupted run's.
        let a = try RoundsDigestTests.digest(whole.appendingPathComponent("rounds.csv"))
        let b = try RoundsDigestTests.digest(parts.appendingPathComponent("rounds.csv"))
        #expect(a == b)
        // Negative control: the digest sees a changed bit.
        var other = config
        other.output = directory.file("other").path
        other.seed += 1
        _ = try await RunCommand.execute(other, quiet: true, allowDivergence: true)
        #expect(try RoundsDigestTests.digest(directory.file("other").appendingPathComponent("rounds.csv")) != a)
    }

    @Test func aRunStoppedBeforeItsFirstRoundWritesEmptyResultsAndResumes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let dir = directory.file("run")
        let config = try Self.smoke("fedAvg", rounds: 2, output: dir)
        await #expect(throws: RunInterrupted.self) {
            _ = try await RunCommand.execute(config, quiet: true, stop: StopRequest(afterRound: 0))
        }
        let status = try Self.status(dir)
        #expect(status.status == "interrupted" && status.lastCompletedRound == 0)
        #expect(try Self.csvLines(dir).count == 1 && Self.hasCheckpoint(dir))
        let summary = try await RunCommand.execute(config, quiet: true, resume: true)
        #expect(try summary.rounds.map(\.round) == [1, 2] && Self.csvLines(dir).count == 3)
    }

    @Test func resumingWithAnotherConfigurationIsRefusedByName() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let dir = directory.file("run")
        _ = try? await RunCommand.execute(try Self.smoke("fedAvg", rounds: 3, output: dir), quiet: true,
                                          stop: StopRequest(afterRound: 1))
        let errors = Mutex("")
        let status = await ConsoleCapture.$current.withValue(ConsoleCapture { text, isError in
            if isError { errors.withLock { $0 += text } }
        }) {
            await FedCommandLine.run(["run", Self.smokePath, "--set", "rounds=3", "--set", "training.learningRate=0.1",
                                      "--resume", dir.path, "--quiet"])
        }
        #expect(status == 2 && errors.withLock { $0 }.contains("training.learningRate"))
        // The checkpoint's own configuration resumes.
        #expect(await FedCommandLine.run(["run", "--resume", dir.path, "--quiet"]) == 0)
        #expect(try Self.status(dir).status == "complete")
        #expect(await FedCommandLine.run(["run", "--resume", dir.path, "--quiet"]) == 2, "nothing left to resume")
    }

    @Test func resumeFailuresAreUsageErrorsNamingTheFile() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        func error(_ arguments: [String]) async -> (Int32, String) {
            let said = Mutex("")
            let status = await ConsoleCapture.$current.withValue(ConsoleCapture { text, isError in
                if isError { said.withLock { $0 += text } }
            }) { await FedCommandLine.run(arguments) }
            return (status, said.withLock { $0 })
        }
        let empty = directory.file("empty")
        let (s1, e1) = await error(["run", "--resume", empty.path])
        #expect(s1 == 2 && e1.contains("holds no checkpoint.fnck"))
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: empty.appendingPathComponent("checkpoint.fnck"))
        let (s2, e2) = await error(["run", "--resume", empty.path])
        #expect(s2 == 2 && e2.contains("checkpoint.fnck: not a FedNoise checkpoint"))
        let (s3, e3) = await error(["run", "--resume", empty.path, "--set", "rounds=3"])
        #expect(s3 == 2 && e3.contains("give the config file too"))
    }

    @Test func aFreshRunRemovesAnOlderRunsResultsFirst() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let dir = directory.file("run")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in ["rounds.csv", "summary.json", "rounds.svg", "checkpoint.fnck"] {
            try Data("old".utf8).write(to: dir.appendingPathComponent(name))
        }
        try Data("keep".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        // The data folder does not exist: the run fails after clearing the old results and before training.
        var config = try Self.smoke("fedAvg", rounds: 2, output: dir)
        config.dataset.path = directory.file("no-such-data").path
        await #expect(throws: (any Error).self) { _ = try await RunCommand.execute(config, quiet: true) }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(left == ["notes.txt"])
    }

    @Test func anInterruptedSweepKeepsFinishedRunsAndResumesTheOther() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let whole = directory.file("whole"), parts = directory.file("parts")
        let sets = ["--set", "model=logistic", "--set", "rounds=3", "--quiet"]
        #expect(await FedCommandLine.run(["sweep", Self.smokePath, "--tau2", "0,1", "--set", "output=\(whole.path)"]
                                         + sets) == 0)
        // What an interrupted sweep leaves: X = 0 finished, X = 1 stopped after round 1 with a checkpoint.
        #expect(await FedCommandLine.run(["sweep", Self.smokePath, "--tau2", "0", "--set", "output=\(parts.path)"]
                                         + sets) == 0)
        var x1 = try RunCommand.loadConfiguration(Self.smokePath, overrides: [
            "model=logistic", "rounds=3", "strategy.kind=niss", "output=\(parts.path)"])
        x1.strategy.niss.tau2 = 1
        x1.output = parts.appendingPathComponent("X=1").path
        await #expect(throws: RunInterrupted.self) {
            _ = try await RunCommand.execute(x1, quiet: true, stop: StopRequest(afterRound: 1))
        }
        let said = Mutex("")
        let status = await ConsoleCapture.$current.withValue(ConsoleCapture { text, _ in
            said.withLock { $0 += text }
        }) {
            await FedCommandLine.run(["sweep", Self.smokePath, "--tau2", "0,1", "--resume",
                                      "--set", "output=\(parts.path)"] + sets)
        }
        #expect(status == 0)
        let console = said.withLock { $0 }
        #expect(console.contains("X = τ² = 0 finished before: kept") && console.contains("X = τ² = 1 (resumed)"))
        #expect(console.contains("resuming after round 1 of 3"))
        for file in ["sweep.csv", "X=0/rounds.csv", "X=1/rounds.csv"] {
            let a = try RoundsDigestTests.digestIfCSV(whole.appendingPathComponent(file))
            let b = try RoundsDigestTests.digestIfCSV(parts.appendingPathComponent(file))
            #expect(a == b, "\(file)")
        }
    }
}

extension RoundsDigestTests {
    /// `digest` for files with a seconds column; the text itself for those without (sweep.csv).
    static func digestIfCSV(_ url: URL) throws -> String {
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.hasPrefix("round,tau2") ? text : try digest(url)
    }
}
