// AttackCommand: `fednoise attack`, DLG against each strategy's upload; CSV/JSON tables, a PNG figure, SVG curves.
import FedAttack
import FedData
import FedNN
import FedTensor
import Foundation

public enum AttackCommand {
    static let help = """
    USAGE: fednoise attack [CONFIG.json] [--set key.path=value]... [--output DIR] [--quiet] [--export FILE]

    A curious server runs Deep Leakage from Gradients (Zhu et al. 2019) with iDLG labels (Zhao et al. 2020) on
    what one client uploads, for each strategy of the config: FedAvg (a gradient, a one-step or an E-step update),
    DP-FedAvg (clip ζ, Gaussian noise σ_k = c(δ)·ζ/(m·ε) in the p_k-weighted domain) and NISS (own shares plus
    neighbours' negated shares, distorted by s ~ N(1, τ²); a fraction ρ of the partners may reveal their shares).
    The model is the DLG LeNet (sigmoid, U(−0.5, 0.5)) at initialisation; the client's batch is training images
    imageIndex… of the dataset, pixels in [0, 1]. Every iteration logs the matching loss, MSE, PSNR, SSIM
    (11×11 Gaussian window, valid region) and label accuracy against the true batch.

    Writes to DIR (default runs/attack/NAME): iterations.csv, summary.json, table.md (which settings leak: final
    MSE ≤ leakMSE), per batch size B figure-bB.png (one row per strategy: the true images, then the
    reconstructions at the snapshot iterations), figure-bB.svg (that PNG with row and column labels) and
    curves-bB.svg (log10 loss and log10 MSE per iteration).
    Without CONFIG it attacks a FedAvg gradient of embedded MNIST image 0 (about a second).

    OPTIONS:
      --set key.path=value   override a config key (e.g. --set iterations=100, --set optimizer=adam)
      --output DIR           where the results go
      --quiet                no progress line
      --export FILE          also write the first batch size's model parameters (FedNN layout), true images
                             (NHWC), labels and initial dummy images as JSON, for results/dlg/torch_dlg.py
      -h, --help             show this help
    """

    struct Row: Codable {
        var strategy: String
        var batch: Int
        var residualNoiseStd: Double
        var finalLoss: Double
        var finalMSE: Double
        var finalPSNR: Double
        var finalSSIM: Double
        var labelAccuracy: Double
        var labelSource: String
        var iterations: Int
        var evaluations: Int
        var firstLeakIteration: Int?
        var secondsToLeak: Double?
        var seconds: Double
        var recovered: Bool
    }

    public static func run(_ argv: [String]) throws {
        var args = try Arguments(argv, booleanFlags: ["help", "quiet"], repeatable: ["set"])
        if args.flag("help") {
            say(help)
            return
        }
        let overrides = args.strings("set")
        let output = args.string("output")
        let quiet = args.flag("quiet")
        let export = args.string("export")
        try args.finish(maxPositionals: 1)
        let path = args.positionals.first
        let (config, origins) = try ConfigurationFile.loadWithOrigins(AttackConfiguration.self,
                                                                      defaults: AttackConfiguration(), path: path,
                                                                      overrides: overrides)
        let data: Dataset
        do {
            try config.validate()
            data = try config.loadImages()
        } catch let p as AttackConfigProblem {
            throw UsageError("\(origins.source(of: p.key)): key '\(p.key)': \(p.message)")
        }
        let strategies = try config.strategies.map { try config.strategy($0) }
        let directory = URL(fileURLWithPath: output ?? "runs/attack/\(config.name)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let (h, w, c) = (data.height, data.width, data.channels)
        let model = try AttackModel(imageShape: [h, w, c], classes: data.classCount, key: StreamKey(seed: config.seed, 1))
        say("fednoise attack: \(config.name), DLG (\(config.optimizer.rawValue), \(config.distance.rawValue), labels "
            + "\(config.labels.rawValue)) on \(data.name), LeNet \(model.network.parameterCount.formatted()) parameters, "
            + "σ_k = \(fixed(try config.privacy.sigma(), 5)) (server sees σ_k/p_k = "
            + "\(fixed(try config.privacy.sigma() * Double(config.privacy.clientsPerRound), 3)))")
        var csv = "strategy,batch,iteration,evaluations,loss,mse,psnr,ssim,label_accuracy,seconds\n"
        var rows: [Row] = []
        let progress = ProgressLine(logInterval: 10)
        for batchSize in config.batchSizes {
            guard config.imageIndex + batchSize <= data.count else {
                throw UsageError("\(origins.source(of: "imageIndex")): key 'imageIndex': \(config.imageIndex) + batch "
                                 + "\(batchSize) exceeds the \(data.count) training images")
            }
            let n = h * w * c
            let images = Array(data.images[(config.imageIndex * n)..<((config.imageIndex + batchSize) * n)])
            let truth = ClientBatch(images: nhwc(fromNCHW: images, count: batchSize, channels: c, height: h, width: w),
                                    labels: Array(data.labels[config.imageIndex..<(config.imageIndex + batchSize)]))
            if let export, batchSize == config.batchSizes[0] {
                try exportReference(model: model, truth: truth, key: StreamKey(seed: config.seed, 3, UInt64(batchSize)),
                                    to: export)
            }
            var figureRows: [(truth: [Float], snapshots: [[Float]])] = []
            var curves: [(String, [IterationRecord])] = []
            for (i, strategy) in strategies.enumerated() {
                let observed = strategy.observedGradient(model: model, batch: truth,
                                                         key: StreamKey(seed: config.seed, 2, UInt64(i), UInt64(batchSize)))
                var settings = AttackSettings()
                settings.optimizer = config.optimizer
                settings.iterations = config.iterations
                settings.distance = config.distance
                settings.labels = config.labels
                settings.adamLearningRate = config.adamLearningRate
                settings.snapshots = config.snapshots
                if config.unrollLocalSteps, case let .update(steps, lr) = strategy.upload { settings.unroll = (steps, lr) }
                let result = runDLG(model: model, observed: observed, truth: truth, settings: settings,
                                    key: StreamKey(seed: config.seed, 3, UInt64(batchSize))) { r in
                    if !quiet {
                        progress.update("  B=\(batchSize) \(strategy.name): iteration \(r.iteration)/\(config.iterations)"
                                        + ", loss \(String(format: "%.3e", r.loss)), MSE \(String(format: "%.3e", r.mse))")
                    }
                }
                progress.clear()
                for r in result.records {
                    csv += "\"\(strategy.name)\",\(batchSize),\(r.iteration),\(r.evaluations),"
                        + [r.loss, r.mse, r.psnr, r.ssim, r.labelAccuracy, r.seconds]
                            .map { String(format: "%.6g", $0) }.joined(separator: ",") + "\n"
                }
                let last = result.records.last!
                let leak = result.records.first { $0.mse <= config.leakMSE }
                let row = Row(strategy: strategy.name, batch: batchSize, residualNoiseStd: strategy.residualNoiseStd,
                              finalLoss: last.loss, finalMSE: last.mse, finalPSNR: last.psnr, finalSSIM: last.ssim,
                              labelAccuracy: last.labelAccuracy, labelSource: result.labelSource,
                              iterations: last.iteration, evaluations: last.evaluations,
                              firstLeakIteration: leak?.iteration, secondsToLeak: leak?.seconds,
                              seconds: result.seconds, recovered: last.mse <= config.leakMSE)
                rows.append(row)
                say("  B=\(batchSize) \(strategy.name): MSE \(String(format: "%.2e", row.finalMSE)), PSNR "
                    + "\(fixed(row.finalPSNR, 1)) dB, SSIM \(fixed(row.finalSSIM, 3)), labels \(percent(row.labelAccuracy, digits: 0)) "
                    + "(\(row.labelSource)), \(row.recovered ? "RECOVERED" : "not recovered")"
                    + (leak.map { " at iteration \($0.iteration) (\(fixed($0.seconds, 2)) s)" } ?? "")
                    + ", \(fixed(row.seconds, 2)) s")
                let shots = config.snapshots.map { result.snapshots[$0] ?? result.final }
                figureRows.append((truth.images, shots))
                curves.append((strategy.name, result.records))
            }
            let png = reconstructionGrid(rows: figureRows, batch: batchSize, height: h, width: w, channels: c)
            let bytes = png.encoded()
            try Data(bytes).write(to: directory.appendingPathComponent("figure-b\(batchSize).png"))
            try labelledFigure("figure-b\(batchSize).png", png: png, names: strategies.map(\.name), snapshots: config.snapshots,
                               batch: batchSize, imageWidth: w)
                .write(to: directory.appendingPathComponent("figure-b\(batchSize).svg"), atomically: true, encoding: .utf8)
            try curvesSVG(curves, batch: batchSize)
                .write(to: directory.appendingPathComponent("curves-b\(batchSize).svg"), atomically: true, encoding: .utf8)
        }
        try csv.write(to: directory.appendingPathComponent("iterations.csv"), atomically: true, encoding: .utf8)
        try resultEncoder().encode(rows).write(to: directory.appendingPathComponent("summary.json"))
        try table(rows, config: config).write(to: directory.appendingPathComponent("table.md"), atomically: true,
                                              encoding: .utf8)
        say("wrote \(directory.path)/{iterations.csv, summary.json, table.md, figure-b*.png, figure-b*.svg, curves-b*.svg}")
    }

    /// What an independent implementation needs to attack the same model and image from the same start.
    static func exportReference(model: AttackModel, truth: ClientBatch, key: StreamKey, to path: String) throws {
        struct Reference: Codable {
            var imageShape: [Int], classes: Int, parameters: [Float], images: [Float], labels: [Int32], dummy: [Float]
        }
        var rng = Philox(key)  // the first draws of runDLG's dummy stream
        let dummy = (0..<(truth.count * model.inputSize)).map { _ in Float(rng.nextGaussian()) }
        let r = Reference(imageShape: model.imageShape, classes: model.classes, parameters: model.parameters,
                          images: truth.images, labels: truth.labels, dummy: dummy)
        try JSONEncoder().encode(r).write(to: URL(fileURLWithPath: path))
    }

    /// An SVG showing the PNG next to it (by relative link) with the row names and column headings.
    static func labelledFigure(_ file: String, png image: PNGImage, names: [String], snapshots: [Int], batch: Int,
                               imageWidth: Int) -> String {
        let left = 190.0, top = 24.0, cell = Double(batch * imageWidth * 2 + (batch - 1) * 2 + 4)
        let rowH = Double(image.height - 4) / Double(max(names.count, 1))
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(left + Double(image.width))\" "
            + "height=\"\(top + Double(image.height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<image x=\"\(left)\" y=\"\(top)\" width=\"\(image.width)\" height=\"\(image.height)\" "
            + "href=\"\(file)\"/>\n"
        for (k, heading) in (["truth"] + snapshots.map { "it \($0)" }).enumerated() {
            s += "<text x=\"\(left + 4 + (Double(k) + 0.5) * cell)\" y=\"16\" text-anchor=\"middle\">\(heading)</text>\n"
        }
        for (r, name) in names.enumerated() {
            let escaped = name.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            s += "<text x=\"\(left - 6)\" y=\"\(top + 4 + (Double(r) + 0.5) * rowH + 4)\" text-anchor=\"end\">"
                + "\(escaped)</text>\n"
        }
        return s + "</svg>\n"
    }

    /// log10 of the matching loss and of the MSE per iteration, one line per strategy.
    static func curvesSVG(_ curves: [(String, [IterationRecord])], batch: Int) -> String {
        func series(_ value: (IterationRecord) -> Double) -> [PlotSeries] {
            curves.map { name, records in
                PlotSeries(name: name, points: records.map { (Double($0.iteration), log10(max(value($0), 1e-30))) })
            }
        }
        let loss = LinePlot(title: "DLG matching loss, batch \(batch)", xLabel: "iteration", yLabel: "log10 loss",
                            series: series(\.loss))
        let mse = LinePlot(title: "Reconstruction MSE, batch \(batch)", xLabel: "iteration", yLabel: "log10 MSE",
                           series: series(\.mse))
        return LinePlot.stacked([loss, mse])
    }

    /// The Markdown table: which settings leak, against the NISS paper's narrative (Fig. 4).
    static func table(_ rows: [Row], config: AttackConfiguration) -> String {
        var s = "| strategy | B | noise std in Δ̂ | final MSE | PSNR dB | SSIM | labels | leak at it. (s) | "
            + "recovered (MSE ≤ \(config.leakMSE)) | paper's narrative |\n"
        s += "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n"
        for r in rows {
            let narrative: String
            let name = r.strategy.lowercased()
            if name.contains("sigma x") || name.contains("σ ×") { narrative = "(a control, not in the paper)" }
            else if name.contains("niss") { narrative = name.contains("ρ") || name.contains("rho") ? "(not in the paper)" : "not recovered" }
            else if name.contains("dp") { narrative = "partially / not recovered" }
            else { narrative = "recovered" }
            s += "| \(r.strategy) | \(r.batch) | \(String(format: "%.3g", r.residualNoiseStd)) | "
                + "\(String(format: "%.2e", r.finalMSE)) | \(fixed(r.finalPSNR, 1)) | \(fixed(r.finalSSIM, 3)) | "
                + "\(percent(r.labelAccuracy, digits: 0)) \(r.labelSource) | "
                + "\(r.firstLeakIteration.map { "\($0) (\(fixed(r.secondsToLeak ?? 0, 2)))" } ?? "—") | "
                + "\(r.recovered ? "yes" : "no") | \(narrative) |\n"
        }
        return s
    }
}
