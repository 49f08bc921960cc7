// PlotCommandTests: `fednoise plot` overlays CSV columns in one SVG and names the file, line and column it rejects.
import FedCLI
import Foundation
import Testing

@Suite("fednoise plot")
struct PlotCommandTests {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fednoise-plot-\(UUID().uuidString)")

    func write(_ name: String, _ text: String) throws -> String {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    @Test func overlaysOneLinePerSourcePlusTheTarget() async throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        // A run folder (rounds.csv, with an unevaluated round) and a bare reference CSV.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("run"),
                                                withIntermediateDirectories: true)
        _ = try write("run/rounds.csv", "round,train_loss,test_accuracy\n1,0.5,0.91\n2,0.3,\n3,0.2,0.97\n")
        let reference = try write("torch.csv", "round,test_accuracy,seconds\n1,0.80,3\n2,0.95,3\n3,0.96,3\n")
        let svg = dir.appendingPathComponent("out/compare.svg").path
        #expect(await FedCommandLine.run(["plot", dir.appendingPathComponent("run").path, reference,
                                          "--name", "FedNoise", "--name", "PyTorch", "--target", "0.99",
                                          "--y-min", "0.9", "--output", svg]) == 0)
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(count("<polyline", in: text) == 3)
        #expect(text.contains(">FedNoise<") && text.contains(">PyTorch<") && text.contains(">target 0.99<"))
        // The run's unevaluated round 2 is skipped (2 points); the reference's 0.80, below --y-min, is clipped (2 of
        // 3 points drawn as dots, the line cut at the frame); the target line has 2.
        #expect(count("<circle", in: text) == 2 + 2 + 2)
        #expect(count("clip-path=\"url(#", in: text) == 3)
        #expect(text.contains(">round<"))
    }

    @Test func errorsNameTheFileLineAndColumn() async throws {
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = try write("bad.csv", "round,test_accuracy\n1,0.5\n\n3,abc\n")
        let short = try write("short.csv", "round,test_accuracy\n1\n")
        func message(_ args: [String]) -> String {
            do {
                try PlotCommand.run(args)
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        // Line 3 is blank: the bad value is on line 4 of the file.
        #expect(message([bad, "--output", "/dev/null"])
            == "\(bad): line 4, column 'test_accuracy': 'abc' is not a number")
        #expect(message([bad, "--column", "loss", "--output", "/dev/null"])
            == "\(bad): no column 'loss' (columns: round, test_accuracy)")
        #expect(message([short, "--output", "/dev/null"]) == "\(short): line 2 has 1 fields, the header has 2")
        #expect(message([dir.path + "/missing.csv", "--output", "/dev/null"]).hasSuffix("no such file or folder"))
        #expect(message([bad, bad, "--name", "one", "--output", "/dev/null"])
            == "--name is given 1 time(s) for 2 source(s)")
        #expect(message([bad]) == "--output FILE.svg is required")
        #expect(message([bad, "--column", "round", "--y-min", "9", "--output", "/dev/null"])
            == "--y-min 9.0 is not below the data's largest value 3.0")
        // A run folder's epochs.csv is plotted against epochs and labelled so; mixing it with rounds is an error.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("train"),
                                                withIntermediateDirectories: true)
        _ = try write("train/epochs.csv", "epoch,test_accuracy\n1,0.9\n2,0.95\n")
        let train = dir.appendingPathComponent("train").path
        let svg = dir.appendingPathComponent("epochs.svg").path
        #expect(message([train, "--output", svg]) == "accepted")
        #expect(try String(contentsOfFile: svg, encoding: .utf8).contains(">epoch<"))
        let rounds = try write("rounds.csv", "round,test_accuracy\n1,0.5\n")
        #expect(message([train, rounds, "--output", "/dev/null"])
            == "\(rounds): its x column is 'round' but an earlier source's is 'epoch' (give --x to choose one)")
    }
}
