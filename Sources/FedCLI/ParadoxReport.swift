// ParadoxReport: the noise study's prices table and plots, computed from cells.csv (so resumed studies agree).
import FedNN
import Foundation

enum ParadoxReport {
    /// One parsed row of cells.csv: its key fields and numeric columns by name.
    struct Row {
        var model: String
        var setting: String
        var mechanism: String
        var level: Double
        var seed: String
        var values: [String: Double]
        func callAsFunction(_ column: String) -> Double { values[column] ?? .nan }
    }

    static func parse(_ text: String) throws -> [Row] {
        let lines = text.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first else { return [] }
        return try lines.dropFirst().enumerated().map { i, f in
            guard f.count == header.count, let level = Double(f[3]) else {
                throw UsageError("cells.csv line \(i + 2): expected \(header.count) fields")
            }
            var values: [String: Double] = [:]
            for (name, v) in zip(header, f).dropFirst(5) { values[name] = Double(v) ?? .nan }
            return Row(model: f[0], setting: f[1], mechanism: f[2], level: level, seed: f[4], values: values)
        }
    }

    /// Mean of a column over seeds per (mechanism, level) of one model × setting.
    static func means(_ rows: [Row], _ column: String) -> [String: [(level: Double, value: Double)]] {
        var groups: [String: [Double: [Double]]] = [:]
        for r in rows { groups[r.mechanism, default: [:]][r.level, default: []].append(r(column)) }
        return groups.mapValues { byLevel in
            byLevel.map { ($0.key, $0.value.reduce(0, +) / Double($0.value.count)) }.sorted { $0.level < $1.level }
        }
    }

    /// A heuristic noise mechanism (not the baseline, not a real-DP cell): the prices and level plots are theirs.
    static func isHeuristic(_ mechanism: String) -> Bool {
        mechanism != "none" && StudyDPKind(rawValue: mechanism) == nil
    }

    static func write(_ rows: [Row], study: ParadoxConfiguration, to dir: URL) throws {
        try ParadoxMatching.write(rows, to: dir)
        var prices = "model,setting,mechanism,admissible_cells,pos_accuracy,poa_accuracy,pos_loss,poa_loss,"
            + "baseline_test_accuracy,best_test_accuracy,optimal_level,optimal_snr_db,seed_std_test_accuracy\n"
        let groups = Dictionary(grouping: rows) { "\($0.model)|\($0.setting)" }
        for key in groups.keys.sorted() {
            let g = groups[key]!
            let (model, setting) = (g[0].model, g[0].setting)
            let acc = means(g, "test_accuracy"), loss = means(g, "test_loss"), snr = means(g, "snr_power_db")
            guard let a0 = acc["none"]?.first?.value, let l0 = loss["none"]?.first?.value else { continue }
            func cell(_ m: String, _ i: Int) -> (level: Double, acc: Double, loss: Double, snr: Double) {
                (acc[m]![i].level, acc[m]![i].value, loss[m]![i].value, snr[m]![i].value)
            }
            let mechanisms = acc.keys.filter(isHeuristic).sorted()
            var everyAdmissible: [(accuracy: Double, loss: Double)] = []
            var lines: [String] = []
            for m in mechanisms {
                let points = (0..<acc[m]!.count).map { cell(m, $0) }
                let admissible = points.filter { p in
                    if let s = study.admissibleSNRdB { return p.snr <= s }
                    if let l = study.admissibleLevelAtLeast { return p.level >= l }
                    return true
                }.map { (accuracy: $0.acc, loss: $0.loss) }
                everyAdmissible += admissible
                let optimum = StabilityMetrics.optimalLevel(points.map { (level: $0.level, accuracy: $0.acc) }, baseline: a0,
                                                            tolerance: study.tolerance)
                let optimumSNR = points.first { $0.level == optimum }?.snr ?? .nan
                let seedStd = optimum.map { o in
                    StabilityMetrics.standardDeviation(g.filter { $0.mechanism == m && $0.level == o }
                        .map { $0("test_accuracy") })
                } ?? .nan
                lines.append(priceLine(model, setting, m, a0, l0, admissible, points.map(\.acc).max() ?? .nan,
                                       optimum, optimumSNR, seedStd))
            }
            let baseStd = StabilityMetrics.standardDeviation(g.filter { $0.mechanism == "none" }.map { $0("test_accuracy") })
            lines.append(priceLine(model, setting, "any", a0, l0, everyAdmissible,
                                   everyAdmissible.map(\.accuracy).max() ?? .nan, nil, .nan, baseStd))
            prices += lines.joined()
            try plots(g, acc: acc, snr: snr, baseline: a0, study: study, name: "\(model)-\(setting)", to: dir)
        }
        try prices.write(to: dir.appendingPathComponent("prices.csv"), atomically: true, encoding: .utf8)
    }

    static func priceLine(_ model: String, _ setting: String, _ m: String, _ a0: Double, _ l0: Double,
                          _ admissible: [(accuracy: Double, loss: Double)], _ best: Double, _ optimum: Double?,
                          _ optimumSNR: Double, _ seedStd: Double) -> String {
        let p = NoisePrices(baselineAccuracy: a0, baselineLoss: l0, admissible: admissible)
        let f: [Double] = [p?.stabilityAccuracy ?? .nan, p?.anarchyAccuracy ?? .nan, p?.stabilityLoss ?? .nan,
                           p?.anarchyLoss ?? .nan, a0, best, optimum ?? .nan, optimumSNR, seedStd]
        return "\(model),\(setting),\(m),\(admissible.count)," + f.map { "\($0)" }.joined(separator: ",") + "\n"
    }

    /// accuracy-vs-level, gap-vs-level, snr-vs-accuracy (optimum marked) and mia-vs-accuracy for one model × setting.
    static func plots(_ g: [Row], acc: [String: [(level: Double, value: Double)]],
                      snr: [String: [(level: Double, value: Double)]], baseline: Double, study: ParadoxConfiguration,
                      name: String, to dir: URL) throws {
        let gap = means(g, "generalization_gap"), auc = means(g, "mia_auc")
        let mechanisms = acc.keys.filter(isHeuristic).sorted()
        // The MIA plot also shows the real-DP cells and the baseline (their levels are on another scale).
        let attacked = acc.keys.sorted()
        func withBaseline(_ table: [String: [(level: Double, value: Double)]], _ m: String) -> [(x: Double, y: Double)] {
            ((table["none"] ?? []) + (table[m] ?? [])).map { (x: $0.level, y: $0.value) }
        }
        func save(_ plot: LinePlot, _ file: String) throws {
            try plot.render().write(to: dir.appendingPathComponent("\(name)-\(file).svg"), atomically: true,
                                    encoding: .utf8)
        }
        try save(LinePlot(title: "\(name): test accuracy vs noise level", xLabel: "level (σ or λ; 0 = no noise)",
                          yLabel: "test accuracy",
                          series: mechanisms.map { PlotSeries(name: $0, points: withBaseline(acc, $0)) }), "accuracy-vs-level")
        try save(LinePlot(title: "\(name): generalisation gap vs noise level", xLabel: "level (σ or λ)",
                          yLabel: "train − test accuracy",
                          series: mechanisms.map { PlotSeries(name: $0, points: withBaseline(gap, $0)) }), "gap-vs-level")
        var snrSeries = mechanisms.map { m in
            PlotSeries(name: m, points: zip(snr[m] ?? [], acc[m] ?? []).map { (x: $0.value, y: $1.value) }
                .filter { $0.x.isFinite }.sorted { $0.x < $1.x })
        }
        // The optimum: per mechanism, the point of its optimal level.
        var marks: [(x: Double, y: Double)] = []
        for m in mechanisms {
            let points = (acc[m] ?? []).map { (level: $0.level, accuracy: $0.value) }
            if let o = StabilityMetrics.optimalLevel(points, baseline: baseline, tolerance: study.tolerance),
               let i = acc[m]?.firstIndex(where: { $0.level == o }), let s = snr[m]?[i].value, s.isFinite {
                marks.append((x: s, y: acc[m]![i].value))
            }
        }
        snrSeries.append(PlotSeries(name: "optimum", points: marks.sorted { $0.x < $1.x }))
        try save(LinePlot(title: "\(name): test accuracy vs SNR", xLabel: "SNR (power, dB)", yLabel: "test accuracy",
                          series: snrSeries), "snr-vs-accuracy")
        try save(LinePlot(title: "\(name): membership-inference AUC vs test accuracy", xLabel: "test accuracy",
                          yLabel: "MIA AUC (loss threshold)",
                          series: attacked.map { m in
                              PlotSeries(name: m, points: zip(acc[m] ?? [], auc[m] ?? [])
                                .map { (x: $0.value, y: $1.value) }.sorted { $0.x < $1.x })
                          }), "mia-vs-accuracy")
    }
}
