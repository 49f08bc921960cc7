// ClientPrivacyFile: clients_privacy.csv, every accounted client's cumulative ε after every round (long format).
import FedPrivacy
import FedRuntime
import Foundation

/// `clients_privacy.csv`: one row per (round, client) for every client with something accounted after that round:
/// round, client, rounds_participated, epsilon (client-level, at the client's δ_k), and under DP-SGD training
/// dpsgd_steps and epsilon_example (example-level). Nothing is written when no round carries privacy figures.
enum ClientPrivacyFile {
    static func write(_ summary: FederationSummary, to dir: URL) throws {
        let url = dir.appendingPathComponent("clients_privacy.csv")
        guard summary.rounds.contains(where: { $0.privacy != nil }) else {
            if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
            return
        }
        let example = summary.rounds.contains { $0.privacy?.epsilonWorstExample != nil }
        var csv = "round,client,rounds_participated,epsilon" + (example ? ",dpsgd_steps,epsilon_example" : "") + "\n"
        for r in summary.rounds {
            for c in r.privacy?.clients ?? [] {
                csv += "\(r.round),\(c.client),\(c.roundsParticipated),\(c.epsilon)"
                if example {
                    csv += ",\(c.exampleSteps.map(String.init) ?? ""),\(c.exampleEpsilon.map { "\($0)" } ?? "")"
                }
                csv += "\n"
            }
        }
        try csv.write(to: url, atomically: true, encoding: .utf8)
    }
}

/// The run's guarantees, each labelled with its neighbouring relation; never summed into one number.
enum PrivacyBlock {
    struct Entry: Encodable {
        var relation: String
        var guarantee: String
        var epsilon: Double?
        var delta: Double?
    }

    static let clientLevel = "client-level (add/remove one client's update; cohort sample counts public)"
    static let exampleLevel = "example-level (add/remove one example of a client's data)"

    static func entries(_ summary: FederationSummary) -> [Entry] {
        func entry(_ relation: String, _ g: PrivacyGuarantee) -> Entry {
            var delta: Double?
            if case .dp(_, let d, _) = g { delta = d }
            return Entry(relation: relation, guarantee: "\(g)", epsilon: g.epsilon, delta: delta)
        }
        var list = [entry(clientLevel, summary.privacy)]
        if let example = summary.exampleLevelPrivacy { list.append(entry(exampleLevel, example)) }
        return list
    }
}
