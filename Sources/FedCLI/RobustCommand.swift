// RobustCommand: `fednoise robust`, clean and adversarial (FGSM / PGD) accuracy and loss of saved weights per ε.
import FedAttack
import FedData
import FedNN
import FedTensor
import Foundation

/// What `fednoise robust` evaluates; read from flags.
struct RobustSettings: Equatable {
    var weights = ""
    /// nil: the model the weights file names.
    var model: ModelKind?
    var dataset: DatasetKind = .mnist
    var data: String?
    var attack = "pgd"
    var norm: AttackNorm = .linf
    var epsilons: [Double] = [0, 0.05, 0.1, 0.2, 0.3]
    var steps = 10
    /// Pixel units; nil: 2.5·ε/steps (pitfalls-dpsgd-attacks §7), which is ε/4 at 10 steps (spec C.2).
    var stepSize: Double?
    var restarts = 1
    var limit: Int?
    var seed: UInt64 = 1
    var batchSize = 250
    var output = "runs/robust"

    /// The attack at budget `epsilon`.
    func attack(epsilon: Double) -> AdversarialAttack {
        if attack == "fgsm" { return .fgsm(norm, epsilon: Float(epsilon)) }
        let alpha = stepSize ?? 2.5 * epsilon / Double(steps)
        return .pgd(norm, epsilon: Float(epsilon), steps: steps, stepSize: Float(alpha), randomStart: true,
                    restarts: restarts)
    }
}

/// One row of robust.csv.
struct RobustRow: Codable, Equatable {
    var attack: String
    var norm: String
    var epsilon: Double
    var steps: Int
    var stepSize: Double
    var restarts: Int
    var examples: Int
    var cleanAccuracy: Double
    var cleanLoss: Double
    var robustAccuracy: Double
    var adversarialLoss: Double
    var seconds: Double

    static let header = "attack,norm,epsilon,steps,step_size,restarts,examples,clean_accuracy,clean_loss,"
        + "robust_accuracy,adversarial_loss,seconds"
    var csv: String {
        "\(attack),\(norm),\(epsilon),\(steps),\(stepSize),\(restarts),\(examples),\(cleanAccuracy),\(cleanLoss),"
            + "\(robustAccuracy),\(adversarialLoss),\(seconds)"
    }
}

enum RobustCommand {
    static let help = """
    USAGE: fednoise robust --weights FILE [--model NAME] [--data DIR] [options]

    Evaluates saved weights (`fednoise train --save-weights`) on the test set, clean and under an FGSM or PGD
    attack (Madry et al. 2018) at each budget ε: uniform random start in the ε-ball, K steps of size α, each
    projected onto the ball around the ORIGINAL image and clamped to pixels in [0, 1]; ε and α are in pixel units
    (the model sees normalised inputs). An example is robust when it is classified right clean AND after every
    restart; the adversarial loss is the mean cross-entropy at the attack's point (the worst restart).
    Writes robust.csv (one row per ε: clean and robust accuracy, clean and adversarial loss, seconds) and
    robust-vs-epsilon.svg into --output.

    OPTIONS:
      --weights FILE     the weights (required); the file names its model, input shape and classes
      --model NAME       cnn | mlp | logistic | tanh-cnn | lenet | small-cnn | large-cnn (default: the file's);
                         refused when the file holds another model's weights
      --dataset NAME     mnist | fashion-mnist | cifar10                (default mnist)
      --data DIR         dataset directory (default: the embedded 500-image MNIST test subset)
      --attack NAME      pgd | fgsm                                     (default pgd)
      --norm NAME        linf | l2                                      (default linf)
      --epsilons LIST    comma-separated budgets in pixel units, each in [0, 1000] (default 0,0.05,0.1,0.2,0.3)
      --steps K          PGD steps, 1…10000 (default 10)
      --step-size A      PGD step α in pixel units (default 2.5·ε/K per ε, i.e. ε/4 at K = 10)
      --restarts R       PGD random restarts, 1…100 (default 1)
      --limit N          attack only the first N test images (default: all)
      --seed N           random-start seed (default 1)
      --batch-size N     images per attacked batch, 1…4096 (default 250)
      --threads N        compute threads (default: all cores)
      --output DIR       result folder (default runs/robust; checked before any work)
      -h, --help         show this help
    """

    static func run(_ argv: [String]) throws {
        var args = try Arguments(argv, booleanFlags: ["help"])
        if args.flag("help") {
            say(help)
            return
        }
        let (settings, threads) = try settings(&args)
        if let threads { ComputeThreads.count = threads }
        try evaluate(settings)
    }

    /// Reads and checks every flag; errors name the flag.
    static func settings(_ args: inout Arguments) throws -> (RobustSettings, threads: Int?) {
        var s = RobustSettings()
        guard let weights = args.string("weights") else {
            throw UsageError("--weights FILE is required (weights written by 'fednoise train --save-weights')")
        }
        s.weights = weights
        s.model = try args.choice("model", ModelKind.self)
        s.dataset = try args.choice("dataset", DatasetKind.self) ?? s.dataset
        s.data = args.string("data")
        if let a = args.string("attack") {
            guard ["pgd", "fgsm"].contains(a) else { throw UsageError("--attack must be one of: pgd, fgsm; got '\(a)'") }
            s.attack = a
        }
        s.norm = try args.choice("norm", AttackNorm.self) ?? s.norm
        if let list = args.string("epsilons") { s.epsilons = try epsilons(list) }
        s.steps = try args.int("steps", in: 1...10_000) ?? s.steps
        s.stepSize = try args.double("step-size", in: 0...1_000)
        s.restarts = try args.int("restarts", in: 1...100) ?? s.restarts
        s.limit = try args.int("limit")
        if let seed = try args.int("seed", in: 0...Int.max) { s.seed = UInt64(seed) }
        s.batchSize = try args.int("batch-size", in: 1...4_096) ?? s.batchSize
        s.output = args.string("output") ?? s.output
        let threads = try args.int("threads", in: 1...ComputeThreads.maximum)
        try args.finish()
        if s.attack == "fgsm" {
            for (flag, given) in [("steps", s.steps != 10), ("step-size", s.stepSize != nil), ("restarts", s.restarts != 1)]
            where given {
                throw UsageError("--\(flag) applies to --attack pgd only (FGSM is one step of size ε, no random start)")
            }
        }
        if s.data?.isEmpty == true { throw UsageError("--data is empty; give a folder or leave it out") }
        if s.data == nil && s.dataset != .mnist {
            throw UsageError("--dataset \(s.dataset.rawValue) needs --data DIR; the embedded subset is MNIST only")
        }
        return (s, threads)
    }

    /// "0,0.1,0.3" → [0, 0.1, 0.3]; the error names the flag and the bad item.
    static func epsilons(_ text: String) throws(UsageError) -> [Double] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        guard items.count <= 100 else { throw UsageError("--epsilons: at most 100 budgets, got \(items.count)") }
        var out: [Double] = []
        for item in items {
            let t = item.trimmingCharacters(in: .whitespaces)
            guard let v = Double(t), v.isFinite, v >= 0, v <= 1_000 else {
                throw UsageError("--epsilons: '\(t)' is not a number in [0, 1000] (give e.g. 0,0.05,0.1)")
            }
            out.append(v)
        }
        return out
    }

    static func evaluate(_ s: RobustSettings) throws {
        let dir = try OutputPlace.prepareFolder(s.output, origin: "--output")
        let file = try readWeights(s.weights)
        let model = s.model ?? ModelKind(rawValue: file.model)
        guard let model else {
            throw UsageError("--weights: \(s.weights): names the model '\(file.model)', which this build does not know; "
                             + "give --model")
        }
        let (_, test) = try loadSamples(kind: s.dataset, path: s.data, trainLimit: 1, testLimit: s.limit)
        let network = try model.network(inputShape: test.sampleShape, classes: test.classCount)
        let parameters: [Float]
        do {
            parameters = try WeightsFile.read(s.weights, expecting: ModelWeights(
                model: model.rawValue, inputShape: network.inputShape, outputs: network.outputSize,
                parameters: [Float](repeating: 0, count: network.parameterCount)))
        } catch {
            throw UsageError("--weights: \(error)")
        }
        let pixels = PixelSpace(mean: s.dataset.standardMean, std: s.dataset.standardStd)
        let capacity = min(s.batchSize, test.sampleCount)
        try Preflight.checkMemory(network: network, capacity: capacity, concurrent: 1, key: "batch-size")
        let attacker = AdversarialAttacker(network: network, workspace: Workspace(network: network, capacity: capacity),
                                           pixels: pixels)
        say("\(model.rawValue) from \(s.weights) on \(test.name): \(test.sampleCount.formatted()) images, "
            + "\(s.epsilons.count) budget(s), \(ComputeThreads.count) thread(s)")
        let line = ProgressLine()
        var rows: [RobustRow] = []
        for (k, eps) in s.epsilons.enumerated() {
            let attack = s.attack(epsilon: eps)
            let t0 = monotonicSeconds()
            var done = 0
            let result = attacker.evaluate(parameters: parameters, on: test, attack: attack,
                                           key: StreamKey(seed: s.seed, 15)) { _ in
                done += 1
                if done % capacity == 0 {
                    line.update("ε \(k + 1)/\(s.epsilons.count) (\(eps)): \(done)/\(test.sampleCount) images, "
                                + "\(fixed(monotonicSeconds() - t0, 1)) s")
                }
            }
            line.clear()
            // α as the Float it is (0.0125, not 0.012500000186264515).
            let row = RobustRow(attack: s.attack, norm: s.norm.rawValue, epsilon: eps, steps: attack.steps,
                                stepSize: Double("\(attack.stepSize)") ?? Double(attack.stepSize),
                                restarts: attack.restarts,
                                examples: result.clean.count, cleanAccuracy: result.clean.accuracy,
                                cleanLoss: result.clean.loss, robustAccuracy: result.adversarial.accuracy,
                                adversarialLoss: result.adversarial.loss, seconds: monotonicSeconds() - t0)
            rows.append(row)
            say("\(attack): clean \(percent(row.cleanAccuracy)) (loss \(fixed(row.cleanLoss))), robust "
                + "\(percent(row.robustAccuracy)) (adversarial loss \(fixed(row.adversarialLoss))), "
                + "\(fixed(row.seconds, 1)) s")
        }
        try write(rows, settings: s, to: dir)
        say("wrote \(s.output)/robust.csv and robust-vs-epsilon.svg")
    }

    /// The weights file, or a usage error naming the flag, the file and the byte offset.
    static func readWeights(_ path: String) throws -> ModelWeights {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UsageError("--weights: \(path): no such readable file")
        }
        guard data.count <= 1 << 32 else { throw UsageError("--weights: \(path): \(data.count) bytes is too large") }
        do {
            return try WeightsFile.decode([UInt8](data), file: path)
        } catch {
            throw UsageError("--weights: \(error)")
        }
    }

    static func write(_ rows: [RobustRow], settings s: RobustSettings, to dir: URL) throws {
        let csv = ([RobustRow.header] + rows.map(\.csv)).joined(separator: "\n") + "\n"
        try csv.write(to: dir.appendingPathComponent("robust.csv"), atomically: true, encoding: .utf8)
        let name = s.attack == "fgsm" ? "FGSM" : "PGD-\(s.steps)"
        var plot = LinePlot(title: "\(name) \(s.norm == .linf ? "L∞" : "L2"): accuracy against the budget ε",
                            xLabel: "ε (pixel units)", yLabel: "test accuracy",
                            series: [PlotSeries(name: "robust", points: rows.map { ($0.epsilon, $0.robustAccuracy) }),
                                     PlotSeries(name: "clean", points: rows.map { ($0.epsilon, $0.cleanAccuracy) })])
        plot.yRange = 0...1
        try plot.render().write(to: dir.appendingPathComponent("robust-vs-epsilon.svg"), atomically: true,
                                encoding: .utf8)
    }
}
