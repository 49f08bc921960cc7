// RunResultFiles: rounds.csv, summary.json and rounds.svg of a federation, written into its output folder.
import FedRuntime
import Foundation

/// rounds.csv, summary.json and rounds.svg for a federation.
enum ResultFiles {
    static func write(_ summary: FederationSummary, configuration: FederationConfiguration) throws {
        let dir = URL(fileURLWithPath: configuration.output)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let csv = RoundsCSV.text(summary.rounds)
        try csv.write(to: dir.appendingPathComponent("rounds.csv"), atomically: true, encoding: .utf8)
        try ClientPrivacyFile.write(summary, to: dir)
        struct Accuracy: Encodable {
            var best: Double?
            var bestRound: Int?
            /// "0.99": the first evaluated round at or above 99% (null: never reached).
            var firstRoundReaching: [String: Int?]
        }
        struct Document: Encodable {
            /// "complete", "interrupted" (resume with `fednoise run --resume`) or "diverged" (stopped there).
            var status: String
            /// The last round the results hold.
            var lastCompletedRound: Int
            var configuration: FederationConfiguration
            var accuracy: Accuracy
            var summary: FederationSummary
            var privacy: String
            /// Each guarantee with its neighbouring relation (client-level; example-level under DP-SGD).
            var privacyByRelation: [PrivacyBlock.Entry]
            /// Configuration warnings, rounds no client answered, divergence: what the console said.
            var warnings: [String]
        }
        let best = summary.bestTestAccuracy
        let accuracySummary = Accuracy(
            best: best?.accuracy, bestRound: best?.round,
            firstRoundReaching: Dictionary(configuration.accuracyTargets.map {
                ("\($0)", summary.firstRound(reaching: $0))
            }, uniquingKeysWith: { first, _ in first }))
        let encoder = resultEncoder()
        let status = summary.interrupted ? "interrupted"
            : summary.rounds.count < configuration.rounds && summary.divergence != nil ? "diverged" : "complete"
        // Every client's ε per round is in clients_privacy.csv; summary.json keeps the worst of each round.
        var compact = summary
        for i in compact.rounds.indices { compact.rounds[i].privacy?.clients = [] }
        // Written to a temporary file and renamed over the old one (atomic): never half a summary.
        try encoder.encode(Document(status: status, lastCompletedRound: summary.rounds.last?.round ?? 0,
                                    configuration: configuration, accuracy: accuracySummary, summary: compact,
                                    privacy: "\(summary.privacy)", privacyByRelation: PrivacyBlock.entries(summary),
                                    warnings: summary.warnings))
            .write(to: dir.appendingPathComponent("summary.json"), options: .atomic)
        let evaluated = summary.rounds.filter { $0.testAccuracy != nil }
        let accuracy = LinePlot(
            title: "\(configuration.name): test accuracy per round", xLabel: "round", yLabel: "test accuracy",
            series: [PlotSeries(name: "test accuracy", points: evaluated.map { (Double($0.round), $0.testAccuracy!) })])
        let loss = LinePlot(
            title: "\(configuration.name): loss per round", xLabel: "round", yLabel: "cross-entropy",
            series: [
                PlotSeries(name: "test loss", points: evaluated.map { (Double($0.round), $0.testLoss!) }),
                PlotSeries(name: "train loss", points: summary.rounds.filter { !RoundAnswers.nobodyAnswered($0) }
                    .map { (Double($0.round), $0.meanTrainLoss) }),
            ])
        try LinePlot.stacked([accuracy, loss]).write(to: dir.appendingPathComponent("rounds.svg"), atomically: true,
                                                      encoding: .utf8)
    }
}

