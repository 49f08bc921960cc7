// MainJob: what `fednoise` with no arguments runs: FedAvg, DP-FedAvg and NISS side by side on the embedded MNIST subset.
import FedRuntime
import FedStrategy
import Foundation

public enum MainJob {
    /// The runs of the main job: a strategy, and τ² for NISS.
    public struct Variant: Sendable {
        public var name: String
        public var kind: StrategyKind
        public var tau2: Double = 0
        public var directory: String
    }

    public static let variants = [
        Variant(name: "FedAvg", kind: .fedAvg, directory: "fedavg"),
        Variant(name: "DP-FedAvg", kind: .dpFedAvg, directory: "dpfedavg"),
        Variant(name: "NISS τ²=0", kind: .niss, tau2: 0, directory: "niss-tau0"),
        Variant(name: "NISS τ²=0.001", kind: .niss, tau2: 0.001, directory: "niss-tau0.001"),
    ]

    /// A small federation every checkout can run in under a minute: the McMahan CNN, 10 clients holding 200 of the
    /// 2,000 embedded training images each, all taking part in each of 6 rounds of one local epoch.
    public static func configuration(_ v: Variant) -> FederationConfiguration {
        var c = FederationConfiguration()
        c.name = v.name
        c.seed = 1
        c.rounds = 6
        c.model = .cnn
        c.clients.count = 10
        c.clients.fraction = 1
        c.training.localEpochs = 1
        c.training.batchSize = 10
        c.training.learningRate = 0.05
        c.evaluateEvery = 2
        // NISS rounds wait on share exchanges: a client silent this long is left out (and the round redone).
        c.deadlineSeconds = 300
        c.strategy.kind = v.kind
        // The NISS paper's budget (B.6): ζ = 3, ε = 10, δ = 1e-4 per round, with client-level sensitivity (Δ = ζ on
        // the clipped update, in the p_k-weighted domain) so the noise is what client-level DP really needs.
        c.strategy.dp = DPConfiguration(clipTarget: .update, clippingThreshold: 3, epsilon: 10, delta: 1e-4,
                                        sensitivity: .clientLevel, composition: .rdp)
        c.strategy.niss.tau2 = v.tau2
        c.output = "runs/main/" + v.directory
        return c
    }

    static func run() async throws {
        say("FedNoise main job: FedAvg, DP-FedAvg and NISS on the embedded MNIST subset (2,000 train / 500 test).")
        say("Options and other runs: fednoise help.\n")
        var results: [(Variant, FederationSummary)] = []
        for v in variants {
            // DP-FedAvg at client-level σ_k diverges on this small federation: that is a finding, shown, not an error.
            results.append((v, try await RunCommand.execute(configuration(v), quiet: true, allowDivergence: true)))
        }
        say("\n" + "strategy".padding(toLength: 14, withPad: " ", startingAt: 0) + "test accuracy".leftPad(15)
              + "mean σ_k".leftPad(12) + "aggregate noise var (expected / realised)".leftPad(44) + "seconds".leftPad(10))
        for (v, s) in results {
            let sigmas = s.rounds.flatMap(\.noiseStds)
            let meanSigma = sigmas.isEmpty ? 0 : sigmas.reduce(0, +) / Double(sigmas.count)
            let expected = s.rounds.map(\.expectedNoiseVariance).reduce(0, +) / Double(s.rounds.count)
            let realised = s.rounds.compactMap(\.realisedNoiseVariance)
            let noise = String(format: "%.3g / %@", expected,
                               realised.isEmpty ? "0" : String(format: "%.3g", realised.reduce(0, +) / Double(realised.count)))
            say(v.name.padding(toLength: 14, withPad: " ", startingAt: 0)
                  + (s.finalTestAccuracy.map { percent($0) } ?? "n/a").leftPad(15)
                  + String(format: "%.3g", meanSigma).leftPad(12) + noise.leftPad(44)
                  + fixed(s.seconds, 1).leftPad(10))
        }
        say("""

            Noise variances are per coordinate, averaged over rounds. DP-FedAvg's aggregate carries Σ σ_k²; NISS's
            shares cancel down to Σ σ_k²·τ² (Theorem 2): τ² = 0 gives FedAvg's model, with no DP noise left in it.
            """)
        for (v, s) in results { say("privacy, \(v.name): \(s.privacy)") }
        for (v, s) in results {
            for w in s.warnings where w.hasPrefix("diverged") {
                say("\(v.name) \(w): its client-level noise (σ_k above, on each of the model's parameters) "
                    + "overwhelms the update, so the test accuracy shown is chance; NISS cancels that noise")
            }
        }
    }
}
