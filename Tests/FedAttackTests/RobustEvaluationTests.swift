// RobustEvaluationTests: robust accuracy and adversarial loss of a trained MNIST MLP, the gradient-masking checks.
import FedAttack
import FedData
import FedNN
import FedTensor
import Testing

@Suite struct RobustEvaluationTests {
    let network: Network
    let parameters: [Float]
    let test: DatasetSamples
    let space = PixelSpace(mean: DatasetKind.mnist.standardMean, std: DatasetKind.mnist.standardStd)

    /// The MLP after 2 epochs on the embedded 2,000 MNIST images (≈ 88% on the 500 test images).
    init() throws {
        let (train, test) = try DatasetLoader.embeddedMNIST()
        self.test = DatasetSamples(test)
        network = try ModelKind.mlp.network(inputShape: [28, 28, 1], classes: 10)
        var p = network.initialParameters(key: StreamKey(seed: 1))
        let workspace = Workspace(network: network, capacity: 32)
        FedNN.train(network, parameters: &p, on: DatasetSamples(train),
                    settings: TrainingSettings(epochs: 2, batchSize: 32, learningRate: 0.05, momentum: 0.9),
                    key: StreamKey(seed: 2), workspace: workspace)
        parameters = p
    }

    func run(_ attack: AdversarialAttack, capacity: Int = 100, limit: Int = 200,
             outcome: ((RobustOutcome) -> Void)? = nil) -> RobustEvaluation {
        let attacker = AdversarialAttacker(network: network, workspace: Workspace(network: network, capacity: capacity),
                                           pixels: space)
        return attacker.evaluate(parameters: parameters, on: test, indices: Array(0..<limit), attack: attack,
                                 key: StreamKey(seed: 11), outcome: outcome)
    }

    /// ε = 0 is the clean evaluation bit for bit (δ ≡ 0, so the inputs are the clean ones), for FGSM and PGD.
    @Test func zeroBudgetIsClean() {
        let clean = evaluate(network, parameters: parameters, on: test, indices: Array(0..<200),
                             workspace: Workspace(network: network, capacity: 100))
        for attack in [AdversarialAttack.fgsm(epsilon: 0), .pgd(epsilon: 0), .pgd(.l2, epsilon: 0)] {
            let r = run(attack)
            #expect(r.adversarial.accuracy == clean.accuracy, "\(attack)")
            #expect(abs(r.adversarial.loss - clean.loss) <= 1e-12 * clean.loss, "\(attack)")
            #expect(r.clean.accuracy == clean.accuracy)
        }
    }

    /// At the same L∞ budget (ε = 0.1 pixels, spec C.2's MNIST setting) PGD-10 ends with a mean loss at least FGSM's
    /// and a robust accuracy at most FGSM's, which is at most the clean accuracy; more steps and restarts never raise
    /// accuracy, and a larger ε never does either (pitfalls §7, gradient-masking checks). Fixed seeds.
    @Test func pgdIsStrongerThanFGSMAndMonotone() {
        let fgsm = run(.fgsm(epsilon: 0.1))
        let pgd = run(.pgd(epsilon: 0.1, steps: 10))
        let pgd20 = run(.pgd(epsilon: 0.1, steps: 20, stepSize: 0.025, restarts: 2))
        let bigger = run(.pgd(epsilon: 0.2, steps: 10))
        print("clean \(pgd.clean.accuracy), FGSM \(fgsm.adversarial.accuracy) loss \(fgsm.adversarial.loss), "
              + "PGD-10 \(pgd.adversarial.accuracy) loss \(pgd.adversarial.loss), PGD-20×2 \(pgd20.adversarial.accuracy), "
              + "PGD-10 ε=0.2 \(bigger.adversarial.accuracy)")
        #expect(pgd.clean.accuracy > 0.8)
        #expect(fgsm.adversarial.accuracy < pgd.clean.accuracy - 0.05, "FGSM barely hurts: the attack is broken")
        #expect(pgd.adversarial.loss >= fgsm.adversarial.loss)
        #expect(pgd.adversarial.accuracy <= fgsm.adversarial.accuracy)
        #expect(pgd20.adversarial.accuracy <= pgd.adversarial.accuracy)
        #expect(bigger.adversarial.accuracy <= pgd.adversarial.accuracy)
        #expect(bigger.adversarial.accuracy < 0.1, "ε = 0.2 should break a non-robust MLP")
    }

    /// Robust accuracy never exceeds clean accuracy, per example: a robust example is clean-correct. And at a
    /// large L2 budget the attack flips most examples.
    @Test func robustImpliesCleanCorrect() {
        var violations = 0, robust = 0
        let r = run(.pgd(.l2, epsilon: 1.0, steps: 10)) { o in
            if o.robust && !o.cleanCorrect { violations += 1 }
            if o.robust { robust += 1 }
            #expect(o.adversarialLoss >= 0)
        }
        #expect(violations == 0)
        #expect(r.adversarial.accuracy <= r.clean.accuracy)
        #expect(Double(robust) / 200 == r.adversarial.accuracy)
        #expect(r.adversarial.loss > r.clean.loss)
    }

    /// Random starts are keyed per example, so the batch split does not change any outcome.
    @Test func resultsDoNotDependOnTheBatchSplit() {
        var a: [RobustOutcome] = [], b: [RobustOutcome] = []
        _ = run(.pgd(epsilon: 0.1, steps: 3), capacity: 64, limit: 100) { a.append($0) }
        _ = run(.pgd(epsilon: 0.1, steps: 3), capacity: 7, limit: 100) { b.append($0) }
        #expect(a.map(\.robust) == b.map(\.robust))
        let worst = zip(a, b).map { abs($0.adversarialLoss - $1.adversarialLoss) }.max()!
        #expect(worst <= 1e-4, "largest per-example loss difference \(worst)")
    }
}
