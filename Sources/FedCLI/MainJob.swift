// MainJob: what `fednoise` with no arguments runs: FedAvg against DP-FedAvg on the embedded MNIST subset.
import FedRuntime
import FedStrategy
import Foundation

enum MainJob {
    /// A small federation every checkout can run in under a minute: the McMahan CNN, 10 clients holding 200 of the
    /// 2,000 embedded training images each, all taking part in each of 6 rounds.
    static func configuration(_ kind: StrategyKind) -> FederationConfiguration {
        var c = FederationConfiguration()
        c.name = kind == .fedAvg ? "FedAvg" : "DP-FedAvg"
        c.seed = 1
        c.rounds = 6
        c.model = .cnn
        c.clients.count = 10
        c.clients.fraction = 1
        c.training.localEpochs = 2
        c.training.batchSize = 10
        c.training.learningRate = 0.05
        c.evaluateEvery = 2
        c.strategy.kind = kind
        // The NISS paper's setting (B.6): ζ = 3, ε = 10, δ = 1e-4, NbAFL sensitivity 2ζ/d_k per release.
        c.strategy.dp = DPConfiguration(clipTarget: .update, clippingThreshold: 3, epsilon: 10, delta: 1e-4,
                                        sensitivity: .nbafl, composition: .rdp)
        c.output = "runs/main/" + (kind == .fedAvg ? "fedavg" : "dpfedavg")
        return c
    }

    static func run() async throws {
        say("FedNoise main job: FedAvg vs DP-FedAvg on the embedded MNIST subset (2,000 train / 500 test).")
        say("Options and other runs: fednoise help.\n")
        let plain = try await RunCommand.execute(configuration(.fedAvg))
        let dp = try await RunCommand.execute(configuration(.dpFedAvg))
        say("\n" + "strategy".padding(toLength: 12, withPad: " ", startingAt: 0) + "test accuracy".leftPad(15)
              + "mean σ_k".leftPad(12) + "noise var (expected / realised)".leftPad(34) + "seconds".leftPad(10))
        for (name, s) in [("FedAvg", plain), ("DP-FedAvg", dp)] {
            let sigmas = s.rounds.flatMap(\.noiseStds)
            let meanSigma = sigmas.isEmpty ? 0 : sigmas.reduce(0, +) / Double(sigmas.count)
            let last = s.rounds.last!
            let noise = String(format: "%.3g / %@", last.expectedNoiseVariance,
                               last.realisedNoiseVariance.map { String(format: "%.3g", $0) } ?? "0")
            say(name.padding(toLength: 12, withPad: " ", startingAt: 0)
                  + (s.finalTestAccuracy.map { percent($0) } ?? "n/a").leftPad(15)
                  + String(format: "%.3g", meanSigma).leftPad(12) + noise.leftPad(34)
                  + fixed(s.seconds, 1).leftPad(10))
        }
        say("\nprivacy: FedAvg: \(plain.privacy)\n         DP-FedAvg: \(dp.privacy)")
    }
}
