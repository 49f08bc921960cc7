// LocalTrainer: the strategy's hook for how a client trains in a round: SGD by default, with gradient and step hooks.
import FedNN
import FedPrivacy
import FedTensor

/// One client's local training job for one round.
public struct LocalTrainingJob: Sendable {
    public var client: Int
    public var round: Int
    public var network: Network
    public var data: any SampleSource
    /// The client's sample indices into `data`.
    public var indices: [Int]
    /// E, B, η and momentum of the configuration.
    public var settings: TrainingSettings
    /// The client's training stream (run seed, client, round).
    public var key: StreamKey
    /// The round's global model w_t (the training starts from it).
    public var global: [Float]
}

/// What local training reports back.
public struct LocalTrainingResult: Sendable {
    /// The training loss of the last epoch.
    public var loss: Double
    /// Optimiser steps taken (for accountants that count them).
    public var steps: Int
    /// DP-SGD training: the steps and their (σ, q) for the client's example-level accountant (nil otherwise).
    public var exampleLevel: RDPAccountant.Run?

    public init(loss: Double, steps: Int) {
        self.loss = loss
        self.steps = steps
    }
}

/// How a client trains locally: given the job and a workspace, it turns `parameters` (w_t on entry) into w_k.
public protocol LocalTrainer: Sendable {
    func train(_ job: LocalTrainingJob, parameters: inout [Float], workspace: Workspace) throws -> LocalTrainingResult
}

/// E epochs of minibatch SGD (`FedNN.Trainer`), with optional hooks: a gradient transform (FedProx's proximal term,
/// gradient noise) and a replacement optimiser step, each made per job so it can see w_t.
public struct SGDTraining: LocalTrainer {
    public var gradientTransform: (@Sendable (LocalTrainingJob) -> GradientTransform)?
    /// A transform applied block by block inside the SGD step, after `gradientTransform`
    /// (`Trainer.blockGradientTransform`: noise infusion's gradient noise).
    public var blockGradientTransform: (@Sendable (LocalTrainingJob) -> BlockGradientTransform)?
    public var optimizerStep: (@Sendable (LocalTrainingJob) -> OptimizerStep)?
    /// The training time noise layers' schedules read (`Trainer.noiseTime`; nil: the epoch). Noise infusion sets
    /// the round.
    public var noiseTime: Int?

    public init(gradientTransform: (@Sendable (LocalTrainingJob) -> GradientTransform)? = nil,
                optimizerStep: (@Sendable (LocalTrainingJob) -> OptimizerStep)? = nil) {
        self.gradientTransform = gradientTransform
        self.optimizerStep = optimizerStep
    }

    public func train(_ job: LocalTrainingJob, parameters: inout [Float],
                      workspace: Workspace) throws -> LocalTrainingResult {
        var trainer = Trainer(network: job.network, settings: job.settings, key: job.key)
        trainer.gradientTransform = gradientTransform?(job)
        trainer.blockGradientTransform = blockGradientTransform?(job)
        trainer.optimizerStep = optimizerStep?(job)
        trainer.noiseTime = noiseTime
        var last = Double.nan
        for epoch in 0..<job.settings.epochs {
            last = trainer.runEpoch(epoch, parameters: &parameters, on: job.data, indices: job.indices,
                                    workspace: workspace).loss
        }
        let b = job.settings.batchSize
        return LocalTrainingResult(loss: last, steps: job.settings.epochs * ((job.indices.count + b - 1) / b))
    }
}
