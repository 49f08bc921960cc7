// CustomStrategyTests: FedProx and FedAvgM written outside the package, from the public strategy protocol alone.
import FedData
import FedNN
import FedRuntime
import FedTensor
import FedTestKit
import Testing

/// FedProx (Li et al. 2020): local training minimises F_k(w) + μ/2·‖w − w_t‖², i.e. adds μ·(w − w_t) to every
/// gradient; the server averages as FedAvg.
struct FedProx: FederatedStrategy {
    var mu: Float
    var name: String { "FedProx" }
    func localTrainer(client: Int, round: Int) -> any LocalTrainer {
        let mu = self.mu
        return SGDTraining(gradientTransform: { job in
            let global = job.global
            return { parameters, gradient in
                global.withUnsafeBufferPointer { g in
                    for i in 0..<gradient.count { gradient[i] += mu * (parameters[i] - g[i]) }
                }
            }
        })
    }
    func prepareUpload(_ context: UploadContext) throws -> PreparedUpload { weightedModel(context) }
}

/// FedAvgM (Hsu et al. 2019): server momentum on the pseudo-gradient Δ = w_t − average:
/// v ← β·v + Δ, w_{t+1} = w_t − η_s·v.
struct FedAvgM: FederatedStrategy {
    var beta: Float
    var serverLearningRate: Float
    var name: String { "FedAvgM" }
    func prepareUpload(_ context: UploadContext) throws -> PreparedUpload { weightedModel(context) }
    func makeAggregator() -> any Aggregator { Momentum(beta: beta, rate: serverLearningRate) }

    struct Momentum: Aggregator {
        let beta: Float
        let rate: Float
        var velocity: [Float] = []
        mutating func combine(previous: [Float], average: [Float], round: Int) -> [Float] {
            if velocity.isEmpty { velocity = [Float](repeating: 0, count: previous.count) }
            var next = previous
            for i in previous.indices {
                velocity[i] = beta * velocity[i] + (previous[i] - average[i])
                next[i] = previous[i] - rate * velocity[i]
            }
            return next
        }
    }
}

struct CustomStrategyTests {
    static func configuration() -> FederationConfiguration {
        var c = FederationConfiguration()
        c.model = .mlp
        c.rounds = 2
        c.clients.count = 6
        c.clients.fraction = 0.5
        c.training.localEpochs = 1
        c.training.learningRate = 0.05
        c.seed = 11
        return c
    }

    static func run(_ strategy: (any FederatedStrategy)?, _ c: FederationConfiguration = configuration())
        async throws -> (weights: [Float], initial: [Float], summary: FederationSummary) {
        let (train, test) = try DatasetLoader.embeddedMNIST()
        let federation = try Federation(configuration: c, train: DatasetSamples(train.subset(indices: 0..<300)),
                                        test: DatasetSamples(test.subset(indices: 0..<100)), strategy: strategy)
        let summary = try await federation.run()
        let initial = federation.network.initialParameters(key: StreamPurpose.initialWeights.key(seed: c.seed),
                                                          scheme: c.initialization)
        return (federation.globalWeights!, initial, summary)
    }

    static func distance(_ a: [Float], _ b: [Float]) -> Double {
        zip(a, b).reduce(0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
    }

    @Test func fedProxAtMuZeroIsFedAvgAndItsProximalTermHoldsClientsNearTheGlobalModel() async throws {
        let fedAvg = try await Self.run(FedAvg())
        let prox0 = try await Self.run(FedProx(mu: 0))
        // μ = 0: the unfused SGD step gives the same bits as FedAvg's fused one.
        #expect(prox0.weights == fedAvg.weights)
        let prox = try await Self.run(FedProx(mu: 5))
        #expect(prox.weights != fedAvg.weights)
        // The proximal pull keeps the global model closer to where it started.
        #expect(Self.distance(prox.weights, prox.initial) < 0.8 * Self.distance(fedAvg.weights, fedAvg.initial))
        #expect(prox.summary.rounds.count == 2 && prox.summary.finalTestAccuracy != nil)
    }

    @Test func fedAvgMFollowsTheClosedFormOfServerMomentum() async throws {
        // Every client "trains" to w_t + d (a stub), so each round's average is w_t + d exactly up to rounding and
        // the server's pseudo-gradient is −d: v_1 = −d, w_1 = w_0 + η·d; v_2 = −(1 + β)·d, w_2 = w_1 + η·(1 + β)·d.
        let d: Float = 0.01, beta: Float = 0.5, rate: Float = 1
        let stub = StubTraining { _, _, global in global.map { $0 + d } }
        let result = try await Self.run(FedAvgM(beta: beta, serverLearningRate: rate).training(stub))
        let expected = result.initial.map { $0 + rate * d + rate * (1 + beta) * d }
        let error = zip(result.weights, expected).map { abs($0 - $1) }.max()!
        #expect(error < 1e-5, "max |w − closed form| = \(error)")
        // Negative control: plain averaging of the same stub moves only 2·d.
        let plain = try await Self.run(FedAvg().training(stub))
        let plainError = zip(plain.weights, expected).map { abs($0 - $1) }.max()!
        #expect(plainError > 1e-3)
    }
}
