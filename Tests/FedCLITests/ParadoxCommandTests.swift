// ParadoxCommandTests: `fednoise train --noise` and `fednoise paradox` end to end on the embedded data.
import FedCLI
import FedNN
import Foundation
import Testing

@Suite("Noise infusion on the command line", .serialized)
struct ParadoxCommandTests {
    func temporary() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("fednoise-paradox-\(UUID().uuidString)")
    }

    func configuration(_ argv: [String]) -> String {
        do {
            var args = try Arguments(argv, booleanFlags: ["dp"])
            let c = try TrainCommand.configuration(&args).0
            return c.noise?.summary ?? "none"
        } catch {
            return "\(error)"
        }
    }

    @Test func trainNoiseFlagsAndFilesAreCheckedByName() throws {
        #expect(configuration(["--noise", "M2", "--noise-level", "0.2"]) == "M2: gaussian activation σ = 0.2")
        #expect(configuration(["--noise", "M9"]).hasPrefix("--noise: 'M9' is neither a preset"))
        #expect(configuration(["--noise-level", "0.2"]).hasPrefix("--noise-level: give --noise"))
        #expect(configuration(["--noise", "M1", "--dp", "--noise-multiplier", "1"]).hasPrefix("--noise: noise infusion is not combined"))
        let dir = temporary()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.json")
        try #"{"mechanisms": [{"site": "input", "level": 0.1, "sigma": 1}]}"#.write(to: bad, atomically: true, encoding: .utf8)
        #expect(configuration(["--noise", bad.path]).contains("key 'mechanisms[0].sigma': unknown key 'sigma'"))
        let badSite = dir.appendingPathComponent("badsite.json")
        try #"{"mechanisms": [{"site": "weights", "level": 0.1}]}"#.write(to: badSite, atomically: true, encoding: .utf8)
        #expect(configuration(["--noise", badSite.path]).contains(
            "key 'mechanisms[0].site': unknown value 'weights' (allowed: input, activation, gradient, clientModel"))
        let wrongSite = dir.appendingPathComponent("site.json")
        try #"{"mechanisms": [{"site": "activation", "distribution": "speckle", "level": 0.1}]}"#
            .write(to: wrongSite, atomically: true, encoding: .utf8)
        #expect(configuration(["--noise", wrongSite.path]).hasPrefix("--noise: mechanisms[0].distribution: speckle is image noise"))
        #expect(configuration(["--noise", "M2", "--model", "large-cnn", "--weight-decay", "0.1"]).hasPrefix("--weight-decay:"))
    }

    /// The shipped study configs load; a bad level and an unknown key are refused naming the key.
    @Test func shippedStudyConfigsLoadAndBadKeysAreNamed() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../config")
            .standardized
        for name in ["paradox-smoke.json", "paradox-full.json"] {
            let c = try ParadoxConfiguration.load(dir.appendingPathComponent(name).path, overrides: [])
            #expect(!c.cells.isEmpty)
        }
        let smoke = dir.appendingPathComponent("paradox-smoke.json").path
        #expect(throws: UsageError.self) { try ParadoxConfiguration.load(smoke, overrides: ["mechanisms=[{\"preset\": \"M1\", \"levels\": [-1]}]"]) }
        #expect(throws: UsageError.self) { try ParadoxConfiguration.load(smoke, overrides: ["epoch=3"]) }
        do {
            _ = try ParadoxConfiguration.load(smoke, overrides: ["mechanisms=[{\"preset\": \"M1\", \"levels\": [-1]}]"])
        } catch {
            #expect("\(error)".contains("'mechanisms[0].levels[0]'"))
        }
    }

    @Test func trainWithNoiseWritesItsConfigurationAndSaysHeuristic() async throws {
        let dir = temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        let status = await FedCommandLine.run(["train", "--model", "mlp", "--noise", "author", "--epochs", "1",
                                               "--train-limit", "300", "--test-limit", "100", "--output", dir.path])
        #expect(status == 0)
        let summary = try String(contentsOf: dir.appendingPathComponent("summary.json"), encoding: .utf8)
        #expect(summary.contains("\"preset\" : \"author\""))
    }

    /// Two cells (baseline and M1 at 0.3) on 300 embedded samples; then the second row is deleted (an interruption
    /// after the first cell) and the study rerun: only the missing cell runs, and cells.csv comes out identical.
    @Test func twoCellStudyResumesToTheSameCSV() async throws {
        let dir = temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        var study = ParadoxConfiguration()
        study.models = [.smallCNN]
        study.settings = [.centralized]
        study.mechanisms = [StudyMechanism(preset: .m1, levels: [0.3])]
        study.seeds = [1]
        study.epochs = 1
        study.trainLimit = 300
        study.testLimit = 100
        study.attackSamples = 50
        study.output = dir.path
        var logged: [String] = []
        try await ParadoxCommand.runStudy(study) { logged.append($0) }
        let csv = dir.appendingPathComponent("cells.csv")
        let full = try String(contentsOf: csv, encoding: .utf8)
        let lines = full.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[1].hasPrefix("small-cnn,centralized,none,0.0,1,54410,"))
        #expect(lines[2].hasPrefix("small-cnn,centralized,M1,0.3,1,54410,"))
        try (lines[0...1].joined(separator: "\n") + "\n").write(to: csv, atomically: true, encoding: .utf8)
        logged = []
        try await ParadoxCommand.runStudy(study) { logged.append($0) }
        #expect(try String(contentsOf: csv, encoding: .utf8) == full)
        #expect(logged.filter { $0.hasPrefix("cell ") }.count == 1)
        let prices = try String(contentsOf: dir.appendingPathComponent("prices.csv"), encoding: .utf8)
        #expect(prices.split(separator: "\n").count == 3)  // header, M1, any
        for plot in ["accuracy-vs-level", "gap-vs-level", "snr-vs-accuracy", "mia-vs-accuracy"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("small-cnn-centralized-\(plot).svg").path))
        }
    }
}
