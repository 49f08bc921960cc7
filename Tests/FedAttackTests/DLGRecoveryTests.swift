// DLGRecoveryTests: DLG recovers an embedded MNIST image from a FedAvg gradient, iDLG finds its label, DP noise stops it.
import FedAttack
import FedData
import FedNN
import FedTensor
import Foundation
import Testing

/// The first `count` embedded MNIST training images from `offset`, pixels in [0, 1].
func embeddedBatch(offset: Int, count: Int) throws -> ClientBatch {
    let train = try DatasetLoader.embeddedMNIST(normalization: .unit).train
    let n = train.featureCount
    return ClientBatch(images: Array(train.images[(offset * n)..<((offset + count) * n)]),
                       labels: Array(train.labels[offset..<(offset + count)]))
}

@Suite struct DLGRecoveryTests {
    @Test func recoversOneImageFromAFedAvgGradient() throws {
        let model = try AttackModel(imageShape: [28, 28, 1], classes: 10, key: StreamKey(seed: 1234, 1))
        let batch = try embeddedBatch(offset: 0, count: 1)
        let fedavg = Strategy(name: "FedAvg", upload: .gradient, noise: .none)
        let g = fedavg.observedGradient(model: model, batch: batch, key: StreamKey(seed: 7, 2))
        var settings = AttackSettings()
        settings.iterations = 300
        let r = runDLG(model: model, observed: g, truth: batch, settings: settings, key: StreamKey(seed: 7, 3))
        let last = r.records.last!
        print("DLG: \(last.iteration) it, \(last.evaluations) evals, loss \(last.loss), MSE \(last.mse), SSIM \(last.ssim), \(r.seconds) s")
        #expect(last.mse < 1e-3)
        #expect(r.inferredLabels == batch.labels)
    }
}
