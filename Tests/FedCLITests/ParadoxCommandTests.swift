// ParadoxCommandTests: `fednoise train --noise` and `fednoise paradox` end to end on the embedded data.
import FedCLI
import FedNN
import FedPrivacy
import FedTensor
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
        // timing.csv: one row per cell trained (2 in the first run, 1 more on resume), each cell's seconds and its
        // overhead in percent of its training time as the ledger computes it; the study's closing line says it.
        let timing = try String(contentsOf: dir.appendingPathComponent("timing.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(timing.count == 4)
        #expect(timing[0].joined(separator: ",") == "model,setting,mechanism,level,seed,train_seconds,"
                + "measure_seconds,files_seconds,overhead_percent,calibration_seconds")
        #expect(timing.dropFirst().map { $0.prefix(5).joined(separator: ",") }
                == ["small-cnn,centralized,none,0.0,1", "small-cnn,centralized,M1,0.3,1", "small-cnn,centralized,M1,0.3,1"])
        for row in timing.dropFirst() {
            let v = row.dropFirst(5).compactMap { Double($0) }
            #expect(v.count == 5 && v[0] > 0 && v[1] > 0 && v[2] >= 0 && v[4] == 0)
            // Each column is printed to 6 decimals (±5e-7): the percent recomputed from the printed seconds may be
            // off by what those roundings propagate, and by its own.
            let slack = 100 * (2 * 5e-7 / v[0] + (v[1] + v[2]) * 5e-7 / (v[0] * v[0])) + 5e-7
            #expect(abs(v[3] - 100 * (v[1] + v[2]) / v[0]) <= 1.01 * slack)
        }
        #expect(logged.contains { $0.hasPrefix("study overhead: ") && $0.contains("% of ") })
        let prices = try String(contentsOf: dir.appendingPathComponent("prices.csv"), encoding: .utf8)
        #expect(prices.split(separator: "\n").count == 3)  // header, M1, any
        for plot in ["accuracy-vs-level", "gap-vs-level", "snr-vs-accuracy", "mia-vs-accuracy"] {
            #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("small-cnn-centralized-\(plot).svg").path))
        }
        // A row an interruption cut short (no newline) is dropped and its cell runs again; the rows finished before
        // it stay, and the finished file is the same.
        try (lines[0...1].joined(separator: "\n") + "\n" + lines[2].prefix(40)).write(to: csv, atomically: true,
                                                                                       encoding: .utf8)
        logged = []
        try await ParadoxCommand.runStudy(study) { logged.append($0) }
        #expect(try String(contentsOf: csv, encoding: .utf8) == full)
        #expect(logged.filter { $0.hasPrefix("cell ") }.count == 1)
        #expect(logged.contains { $0.contains("set-up ") })
    }

    /// A tiny grid: `small-cnn`, seed 1, 1 epoch or 1 round of 2 clients, the first 200 / 100 images, 50 attacked.
    func tinyStudy(_ settings: [ParadoxSetting], _ mechanisms: [StudyMechanism]) -> ParadoxConfiguration {
        var study = ParadoxConfiguration()
        study.models = [.smallCNN]
        study.settings = settings
        study.mechanisms = mechanisms
        study.seeds = [1]
        study.epochs = 1
        study.rounds = 1
        study.clients = 2
        study.trainLimit = 200
        study.testLimit = 100
        study.attackSamples = 50
        return study
    }

    /// `--jobs 2`: the two cells of a grid (a federated baseline and M4) train at once on one thread each, and
    /// cells.csv is byte for byte the sequential study's.
    @Test func concurrentCellsWriteTheSequentialCSV() async throws {
        var study = tinyStudy([.federated], [StudyMechanism(preset: .m4, levels: [0.1])])
        var files: [String] = []
        for jobs in [1, 2] {
            let dir = temporary()
            defer { try? FileManager.default.removeItem(at: dir) }
            study.output = dir.path
            var logged: [String] = []
            try await ParadoxCommand.runStudy(study, jobs: jobs) { logged.append($0) }
            #expect(logged.filter { $0.hasPrefix("cell ") }.count == 2)
            files.append(try String(contentsOf: dir.appendingPathComponent("cells.csv"), encoding: .utf8))
        }
        #expect(files[0].split(separator: "\n").count == 3)
        #expect(files[0] == files[1])
    }

    @Test func jobsIsBounded() async throws {
        #expect(await FedCommandLine.run(["paradox", "--jobs", "0"]) != 0)
        #expect(await FedCommandLine.run(["paradox", "--jobs", "65"]) != 0)
    }

    /// DP cells: DP-SGD (centralised, σ = 1) and DP-FedAvg (federated, per-round ε = 10) beside M4. They print and
    /// store the ε they spent (DP-SGD's equals the RDP accountant's for its ⌊1/q⌋ = 3 steps at q = 64/200); the
    /// heuristic cells leave the field empty and never print one; matched.csv pairs each DP cell with a non-DP one.
    @Test func dpCellsReportEpsilonAndAreMatched() async throws {
        let dir = temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        var study = tinyStudy([.centralized, .federated], [StudyMechanism(preset: .m4, levels: [0.1])])
        study.dp.noiseMultipliers = [1]
        study.dp.epsilons = [10]
        study.output = dir.path
        var logged: [String] = []
        try await ParadoxCommand.runStudy(study) { logged.append($0) }
        let rows = try String(contentsOf: dir.appendingPathComponent("cells.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        let e = try #require(rows[0].firstIndex(of: "epsilon"))
        #expect(rows.dropFirst().map { $0[2] } == ["none", "M4", "DP-SGD", "none", "M4", "DP-FedAvg"])
        for r in rows.dropFirst() {
            let isDP = r[2].hasPrefix("DP-")
            #expect(isDP ? (Double(r[e]) ?? .nan) > 0 : r[e] == "", "\(r[2])")
        }
        var accountant = RDPAccountant()
        try accountant.step(noiseMultiplier: 1, sampleRate: 64.0 / 200, count: 3)
        let expected = try accountant.epsilon(delta: 1e-5).epsilon
        #expect(abs(Double(rows[3][e])! - expected) < 1e-9 * expected)
        let cellLines = logged.filter { $0.hasPrefix("cell ") }
        #expect(cellLines.count == 6)
        for line in cellLines { #expect(line.contains("[small-cnn,") && (line.contains(",DP-") == line.contains("ε ="))) }
        let matched = try String(contentsOf: dir.appendingPathComponent("matched.csv"), encoding: .utf8)
            .split(separator: "\n")
        #expect(matched.count == 3)
        #expect(matched[1].hasPrefix("small-cnn,centralized,1,DP-SGD,1.0,"))
        #expect(matched[2].hasPrefix("small-cnn,federated,1,DP-FedAvg,10.0,"))
        // Invalid DP values are refused naming the key.
        #expect(throws: UsageError.self) { try ParadoxConfiguration.load(nil, overrides: ["dp.epsilons=[0]"]) }
    }

    /// referenceModels 2: a cell also gets the calibrated attack (offline LiRA, AUC and TPR at 1% FPR in [0, 1]);
    /// without it the two fields stay empty; K = 1 is refused naming the key.
    @Test func calibratedAttackColumns() async throws {
        let dir = temporary()
        defer { try? FileManager.default.removeItem(at: dir) }
        var study = tinyStudy([.centralized], [])
        study.referenceModels = 2
        study.output = dir.path
        try await ParadoxCommand.runStudy(study) { _ in }
        let rows = try String(contentsOf: dir.appendingPathComponent("cells.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.count == 2 && rows[0].suffix(2) == ["lira_auc", "lira_tpr_at_1pct_fpr"])
        for v in rows[1].suffix(2) {
            let x = try #require(Double(v))
            #expect(x >= 0 && x <= 1)
        }
        // The reference models' training is timed apart from the study's overhead (timing.csv's last column).
        let timing = try String(contentsOf: dir.appendingPathComponent("timing.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",") }
        #expect(timing.count == 2 && (Double(timing[1][9]) ?? 0) > 0)
        #expect(throws: UsageError.self) { try ParadoxConfiguration.load(nil, overrides: ["referenceModels=1"]) }
    }

    /// cells.csv's order: rows inserted one by one as cells finish (`insert`) equal a stable sort by grid place of
    /// all rows so far, the oracle, at every step, with duplicate keys and rows of cells outside the grid (last, in
    /// their order). Negative control: appending each row instead breaks the order in this shuffled finish order.
    @Test func rowsFinishingInAnyOrderKeepTheGridOrder() throws {
        struct Counter: RandomNumberGenerator {
            var state: UInt64
            mutating func next() -> UInt64 { state &+= 1; return splitMix64(state) }
        }
        let cells = try ParadoxConfiguration.load(nil, overrides: ["seeds=[1,2,3]"]).cells
        #expect(cells.count >= 20)
        let place = ParadoxCommand.gridPlaces(cells)
        var rng = Counter(state: 7)
        var rows = (0..<60).map { j -> String in
            j < 45 ? cells[(j * 7) % min(cells.count, 30)].key + ",row\(j)" : "other,federated,M9,\(j).0,9,row\(j)"
        }
        rows.shuffle(using: &rng)
        #expect(ParadoxCommand.rowKey("a,b,c,0.5,1,x,y") == "a,b,c,0.5,1")
        func oracle(_ r: [String]) -> [String] {
            r.enumerated().map { (place[ParadoxCommand.rowKey($0.element)] ?? Int.max, $0.offset, $0.element) }
                .sorted { ($0.0, $0.1) < ($1.0, $1.1) }.map(\.2)
        }
        var inserted = ParadoxCommand.inGridOrder(Array(rows.prefix(5)), place: place)
        var appended = inserted
        var mismatches = 0, appendMismatches = 0
        for k in 5..<rows.count {
            ParadoxCommand.insert(rows[k], into: &inserted, place: place)
            appended.append(rows[k])
            let expected = oracle(Array(rows.prefix(k + 1)))
            if inserted != expected { mismatches += 1 }
            if appended != expected { appendMismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(appendMismatches > 0)
    }
}

