// RunResultFiles: rounds.csv, summary.json and rounds.svg of a federation, written into its output folder.
import FedRuntime
import Foundation

/// rounds.csv, summary.json and rounds.svg for a federation.
enum ResultFiles {
    static func write(_ summary: FederationSummary, configuration: FederationConfiguration) throws {
        let dir = URL(fileURLWithPath: configuration.output)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var csv = "round,sampled,dropped,train_loss,test_loss,test_accuracy,sigma_min,sigma_max,"
            + "expected_noise_variance,realised_noise_variance,seconds,weights_digest,attempts,"
            + "unit_noise_variance,shares_min,shares_max,share_bytes,dense_share_bytes,seeded_share_bytes,"
            + "distortion_variance,collusion_min_residual_over_sigma2,epsilon_worst_client,epsilon_worst_example\n"
        for r in summary.rounds {
            let n = r.niss
            let collusion = n?.collusion.map { $0.residualVariance / $0.clientVariance }.min()
            let fields: [String] = [
                "\(r.round)", "\(r.sampled.count)", "\(r.dropped.count)",
                RoundAnswers.nobodyAnswered(r) ? "" : "\(r.meanTrainLoss)",
                r.testLoss.map { "\($0)" } ?? "", r.testAccuracy.map { "\($0)" } ?? "",
                r.noiseStds.min().map { "\($0)" } ?? "", r.noiseStds.max().map { "\($0)" } ?? "",
                "\(r.expectedNoiseVariance)", r.realisedNoiseVariance.map { "\($0)" } ?? "", fixed(r.seconds, 3),
                r.weightsDigest, "\(r.attempts)", n.map { "\($0.unitNoiseVariance)" } ?? "",
                n?.shares.min().map { "\($0)" } ?? "", n?.shares.max().map { "\($0)" } ?? "",
                n.map { "\($0.shareBytes)" } ?? "", n.map { "\($0.denseShareBytes)" } ?? "",
                n.map { "\($0.seededShareBytes)" } ?? "", n?.distortionVariance.map { "\($0)" } ?? "",
                collusion.map { "\($0)" } ?? "",
                r.privacy?.epsilonWorstClient.map { "\($0)" } ?? "",
                r.privacy?.epsilonWorstExample.map { "\($0)" } ?? "",
            ]
            csv += fields.joined(separator: ",") + "\n"
        }
        try csv.write(to: dir.appendingPathComponent("rounds.csv"), atomically: true, encoding: .utf8)
        try ClientPrivacyFile.write(summary, to: dir)
        struct Accuracy: Encodable {
            var best: Double?
            var bestRound: Int?
            /// "0.99": the first evaluated round at or above 99% (null: never reached).
            var firstRoundReaching: [String: Int?]
        }
        struct Document: Encodable {
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
        // Every client's ε per round is in clients_privacy.csv; summary.json keeps the worst of each round.
        var compact = summary
        for i in compact.rounds.indices { compact.rounds[i].privacy?.clients = [] }
        try encoder.encode(Document(configuration: configuration, accuracy: accuracySummary, summary: compact,
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

