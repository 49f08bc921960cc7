// ClientPrivacyLedgerTests: per-client ε after each round, budgets, Poisson client sampling and its amplification.
import FedNN
import FedPrivacy
import FedRuntime
import FedStrategy
import FedTensor
import Foundation
import Testing

@Suite("Per-client privacy ledger")
struct ClientPrivacyLedgerTests {
    static func machine(clients: Int = 4, fraction: Double = 1, rounds: Int = 3, epsilon: Double = 2,
                        sampling: ClientSampling = .fixed, budget: PrivacyBudget? = nil) -> ServerMachine {
        let dp = DPConfiguration(epsilon: epsilon, delta: 1e-5)
        return ServerMachine(
            settings: .init(name: "t", seed: 3, rounds: rounds, clientCount: clients, fraction: fraction,
                            evaluateEvery: 1, deadlineSeconds: nil, diagnostics: false,
                            samplesOf: [Int](repeating: 10, count: clients), sampling: sampling, budget: budget),
            strategy: DPFedAvg(dp: dp, rounds: rounds), initialWeights: [0, 0])
    }

    /// Runs the machine to its end with every sampled client answering at once; returns the summary.
    static func drive(_ m: inout ServerMachine) throws -> FederationSummary {
        var queue = try m.handle(.start, now: 0)
        while !queue.isEmpty {
            switch queue.removeFirst() {
            case .requestLiveClients(let r):
                queue += try m.handle(.liveClients(round: r, clients: Array(0..<m.settings.clientCount)), now: 0)
            case .broadcast(let start, let to):
                for c in to {
                    let p = 10 / Double(start.sampledSamples)
                    queue += try m.handle(.upload(ClientUpload(round: start.round, client: c, payload: [0, 0],
                                                               weight: p, samples: 10, trainLoss: 1,
                                                               attempt: start.attempt), diagnostics: nil), now: 0)
                }
            case .evaluate(let r, _):
                queue += try m.handle(.evaluated(round: r, Evaluation(loss: 1, accuracy: 0.5, count: 1)), now: 0)
            case .finish(let s):
                return s
            default:
                continue
            }
        }
        throw FederationError.mailboxClosed
    }

    /// ε of `steps` steps (z, q) at δ = 1e-5, straight from the accountant.
    static func closed(z: Double, q: Double, steps: Int) throws -> Double {
        try RDPAccountant(history: [.init(noiseMultiplier: z, sampleRate: q, steps: steps)]).epsilon(delta: 1e-5).epsilon
    }

    @Test func everyClientsEpsilonAfterEachRoundIsTheAccountantsOverItsOwnRounds() throws {
        var m = Self.machine(clients: 6, fraction: 0.5, rounds: 5)
        let summary = try Self.drive(&m)
        let z = try DPConfiguration(epsilon: 2, delta: 1e-5).noiseMultiplier(client: 0, samples: 10, rounds: 5)
        var count = [Int](repeating: 0, count: 6)
        for r in summary.rounds {
            for k in r.sampled { count[k] += 1 }
            let p = try #require(r.privacy)
            #expect(p.clients.map(\.client) == count.indices.filter { count[$0] > 0 })
            for c in p.clients {
                #expect(c.roundsParticipated == count[c.client])
                #expect(c.epsilon == (try Self.closed(z: z, q: 1, steps: count[c.client])))
            }
            #expect(p.epsilonWorstClient == p.clients.map(\.epsilon).max())
        }
        // The run's guarantee is the last round's worst client, and what the release counts always gave.
        let strategy = DPFedAvg(dp: DPConfiguration(epsilon: 2, delta: 1e-5), rounds: 5)
        let old = try strategy.privacy(releases: count, samples: [Int](repeating: 10, count: 6), rounds: 5)
        #expect(summary.privacy.epsilon == summary.rounds.last!.privacy!.epsilonWorstClient)
        #expect(summary.privacy == old)
        // The ledger is a plain value: it survives JSON unchanged.
        let copy = try JSONDecoder().decode(ClientPrivacyLedger.self, from: JSONEncoder().encode(m.ledger))
        #expect(copy == m.ledger && m.ledger.releases == count)
    }

    @Test func stopPolicyEndsTheRunBeforeTheRoundThatWouldPassTheBudget() throws {
        let z = try DPConfiguration(epsilon: 2, delta: 1e-5).noiseMultiplier(client: 0, samples: 10, rounds: 5)
        let (two, three) = (try Self.closed(z: z, q: 1, steps: 2), try Self.closed(z: z, q: 1, steps: 3))
        for sampling in ClientSampling.allCases {
            // q = C = 1: Poisson takes everyone too, so both modes spend one full release per round.
            var m = Self.machine(rounds: 5, sampling: sampling,
                                 budget: PrivacyBudget(totalEpsilon: (two + three) / 2, policy: .stop))
            let summary = try Self.drive(&m)
            #expect(summary.rounds.count == 2, "\(sampling)")
            #expect(summary.warnings.last?.contains("round 3 would take") == true, "\(summary.warnings)")
            #expect(summary.privacy.epsilon == two)
        }
        // Negative control: a budget just above three releases' ε lets a third round run.
        var m = Self.machine(rounds: 3, budget: PrivacyBudget(totalEpsilon: three * (1 + 1e-9), policy: .stop))
        #expect(try Self.drive(&m).rounds.count == 3)
    }

    @Test func excludeClientsLeavesSpentClientsOutAndStopsWhenTooFewRemain() throws {
        let z = try DPConfiguration(epsilon: 2, delta: 1e-5).noiseMultiplier(client: 0, samples: 10, rounds: 9)
        let one = try Self.closed(z: z, q: 1, steps: 1), two = try Self.closed(z: z, q: 1, steps: 2)
        // K = 6, m = 2, a budget of one release each: three rounds on disjoint pairs, then nobody is left.
        var m = Self.machine(clients: 6, fraction: 0.34, rounds: 9,
                             budget: PrivacyBudget(totalEpsilon: (one + two) / 2, policy: .excludeClients))
        let summary = try Self.drive(&m)
        #expect(summary.rounds.count == 3)
        #expect(Set(summary.rounds.flatMap(\.sampled)) == Set(0..<6))
        #expect(summary.rounds.map { $0.privacy!.excludedClients } == [0, 2, 4])
        #expect(m.ledger.releases == [Int](repeating: 1, count: 6))
        #expect(summary.warnings.last?.contains("only 0 client(s) can take part in round 4") == true)
    }

    @Test func poissonCohortSizesHaveBinomialMeanAndVariance() {
        let k = 1000, q = 0.1, n = 400
        func sizes(_ rate: Double) -> [Double] {
            (1...n).map { r in Double(ClientSampling.poisson(live: Array(0..<k), rate: rate, totalClients: k,
                                                              key: StreamPurpose.sampling.key(seed: 11, r)).count) }
        }
        func moments(_ x: [Double]) -> (mean: Double, variance: Double) {
            let mean = x.reduce(0, +) / Double(x.count)
            return (mean, x.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(x.count - 1))
        }
        // Binomial(K, q): mean qK = 100, variance qK(1 − q) = 90. Standard errors from n rounds: the mean's
        // √(90/n) = 0.47; the sample variance's ≈ 90·√(2/(n − 1)) = 6.4. Bounds at 4.5 standard errors.
        let (mean, variance) = moments(sizes(q))
        let v = q * Double(k) * (1 - q)
        #expect(abs(mean - q * Double(k)) < 4.5 * (v / Double(n)).squareRoot())
        #expect(abs(variance - v) < 4.5 * v * (2 / Double(n - 1)).squareRoot())
        // Negative controls: q = 0.11 must fail the mean bound; fixed-size sampling (variance 0) the variance bound.
        #expect(abs(moments(sizes(0.11)).mean - q * Double(k)) > 4.5 * (v / Double(n)).squareRoot())
        let fixed = (1...n).map { r in Double(ServerMachine.sample(live: Array(0..<k), fraction: q, totalClients: k,
                                                                  key: StreamPurpose.sampling.key(seed: 11, r)).count) }
        #expect(abs(moments(fixed).variance - v) > 4.5 * v * (2 / Double(n - 1)).squareRoot())
        // Only live clients are drawn, and the draw is seeded.
        let live = Array(stride(from: 0, to: k, by: 2))
        let a = ClientSampling.poisson(live: live, rate: q, totalClients: k, key: StreamPurpose.sampling.key(seed: 1, 1))
        #expect(a.allSatisfy { $0 % 2 == 0 } && !a.isEmpty
                && a == ClientSampling.poisson(live: live, rate: q, totalClients: k,
                                               key: StreamPurpose.sampling.key(seed: 1, 1)))
    }

    @Test func poissonSamplingIsAccountedWithAmplificationAtQEqualsC() throws {
        // K = 20, q = C = 0.1, T = 30 rounds, ε = 2 per round: every client's accountant holds 30 steps at q = 0.1.
        var m = Self.machine(clients: 20, fraction: 0.1, rounds: 30, sampling: .poisson)
        let summary = try Self.drive(&m)
        let z = try DPConfiguration(epsilon: 2, delta: 1e-5).noiseMultiplier(client: 0, samples: 10, rounds: 30)
        let amplified = try Self.closed(z: z, q: 0.1, steps: 30)
        let last = try #require(summary.rounds.last?.privacy)
        #expect(last.clients.count == 20 && last.clients.allSatisfy { $0.epsilon == amplified })
        #expect(summary.privacy.epsilon == amplified)
        // Cohorts vary, empty ones included as rounds nobody answered; participation counts match the cohorts.
        let participated = (0..<20).map { k in summary.rounds.filter { $0.sampled.contains(k) }.count }
        #expect(last.clients.map(\.roundsParticipated) == participated)
        #expect(Set(summary.rounds.map(\.sampled.count)).count > 1)
        // Without amplification the same clients would be charged one full release per participation.
        let unamplified = try participated.map { try Self.closed(z: z, q: 1, steps: max($0, 1)) }.max()!
        #expect(amplified < unamplified, "amplified \(amplified), unamplified \(unamplified)")
    }

    @Test func emptyPoissonCohortIsARoundNobodyAnswered() throws {
        var m = Self.machine(clients: 3, fraction: 0.01, rounds: 4, sampling: .poisson)
        let summary = try Self.drive(&m)
        #expect(summary.rounds.count == 4)
        let empty = try #require(summary.rounds.first { $0.sampled.isEmpty })
        #expect(empty.noiseStds.isEmpty && empty.attempts == 1 && !empty.skipped)
    }
}
