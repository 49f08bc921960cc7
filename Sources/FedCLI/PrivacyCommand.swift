// PrivacyCommand: `fednoise privacy`, ε for a DP-SGD/DP-FedAvg setting, or the noise multiplier for a target ε.
import FedPrivacy
import Foundation

enum PrivacyCommand {
    static let help = """
    USAGE: fednoise privacy --noise-multiplier Z --sample-rate Q --steps T [--delta D] [--json]
           fednoise privacy --target-epsilon E --sample-rate Q --steps T [--delta D] [--json]
           fednoise privacy --gaussian --epsilon E --sensitivity S [--delta D] [--json]

    Answers the questions to ask before a run, with the RDP accountant of the sampled Gaussian mechanism
    (Mironov et al. 2019; ε from Balle et al. 2020, Thm. 21; opacus' orders):
      - ε after T steps with noise multiplier Z (noise std / sensitivity) and sampling rate Q;
      - the smallest noise multiplier whose ε after T steps is at most E (never above E);
      - with --gaussian, σ for one release of a query with L2 sensitivity S: classical c(δ)·S/ε and the
        analytic Gaussian mechanism (Balle & Wang 2018).
    A configuration without noise earns no ε, and none is printed.

    OPTIONS:
      --noise-multiplier Z   ≥ 0
      --target-epsilon E     > 0
      --sample-rate Q        in [0, 1] (1: every round / full batch)
      --steps T              ≥ 1
      --delta D              in (0, 1) (default 1e-5)
      --gaussian             single-release mode (with --epsilon and --sensitivity)
      --json                 print one JSON object with every value at full precision (shortest round-trip
                             decimal of each Double) instead of the 6-digit text
      -h, --help             show this help
    """

    static func run(_ argv: [String]) throws {
        var args = try Arguments(argv, booleanFlags: ["help", "gaussian", "json"])
        if args.flag("help") {
            say(help)
            return
        }
        let delta = try args.double("delta", in: 1e-300...0.999_999) ?? 1e-5
        let json = args.flag("json")
        if args.flag("gaussian") {
            guard let epsilon = try args.double("epsilon", in: 1e-9...1e6),
                  let sensitivity = try args.double("sensitivity", in: 1e-300...1e300) else {
                throw UsageError("--gaussian needs --epsilon and --sensitivity")
            }
            try args.finish()
            let classical = try GaussianMechanism.sigma(epsilon: epsilon, delta: delta, sensitivity: sensitivity)
            guard classical.isFinite else {
                throw UsageError("--sensitivity \(sensitivity) at --epsilon \(epsilon): σ = c(δ)·Δ/ε is beyond the "
                                 + "floating-point range (> 1.8e308); give a smaller sensitivity or a larger ε")
            }
            let analytic = try GaussianMechanism.analyticSigma(epsilon: epsilon, delta: delta, sensitivity: sensitivity)
            let earned = try GaussianMechanism.analyticEpsilon(sigma: classical, delta: delta, sensitivity: sensitivity)
            if json {
                return try printJSON(PrivacyAnswer(
                    mode: "gaussian", delta: delta, epsilon: epsilon, sensitivity: sensitivity,
                    classicalSigma: classical, c: try GaussianMechanism.c(delta: delta),
                    classicalEarnedEpsilon: earned.isFinite ? earned : nil, analyticSigma: analytic))
            }
            say("one Gaussian release, sensitivity \(sensitivity), target (ε = \(epsilon), δ = \(delta)):")
            say("  classical σ = c(δ)·Δ/ε = \(format(classical))   (c(δ) = \(format(try GaussianMechanism.c(delta: delta))); "
                  + "it really earns ε = \(format(earned)))")
            say("  analytic  σ = \(format(analytic))   (exact; the smallest σ that earns the target)")
            return
        }
        let q = try args.double("sample-rate", in: 0...1)
        let steps = try args.int("steps")
        let z = try args.double("noise-multiplier")
        let target = try args.double("target-epsilon", in: 1e-9...1e9)
        try args.finish()
        guard let q, let steps else { throw UsageError("give --sample-rate and --steps") }
        switch (z, target) {
        case (let z?, nil):
            var accountant = RDPAccountant()
            try accountant.step(noiseMultiplier: z, sampleRate: q, count: steps)
            let guarantee = try PrivacyGuarantee.accounted(by: accountant, delta: delta)
            if json {
                let order = guarantee.epsilon == nil ? nil : try accountant.epsilon(delta: delta).bestOrder
                return try printJSON(PrivacyAnswer(
                    mode: "epsilon", delta: delta, epsilon: guarantee.epsilon, noiseMultiplier: z, sampleRate: q,
                    steps: steps, bestOrder: order.flatMap { $0.isFinite ? $0 : nil }, guarantee: "\(guarantee)"))
            }
            say("noise multiplier \(z), sampling rate \(q), \(steps) steps, δ = \(delta):")
            if case .dp(let epsilon, _, _) = guarantee {
                let order = try accountant.epsilon(delta: delta).bestOrder
                say("  ε = \(format(epsilon))   (RDP, best order α = \(format(order)))")
            } else {
                say("  \(guarantee)")
            }
        case (nil, let target?):
            let z: Double
            do {
                z = try RDPAccountant.noiseMultiplier(targetEpsilon: target, delta: delta, sampleRate: q, steps: steps)
            } catch PrivacyError.unreachableBudget(_, _, let maximum) {
                throw unreachable(target: target, delta: delta, q: q, steps: steps, searched: maximum)
            }
            var accountant = RDPAccountant()
            try accountant.step(noiseMultiplier: z, sampleRate: q, count: steps)
            if json {
                return try printJSON(PrivacyAnswer(
                    mode: "noiseMultiplier", delta: delta, epsilon: try accountant.epsilon(delta: delta).epsilon,
                    noiseMultiplier: z, sampleRate: q, steps: steps, targetEpsilon: target))
            }
            say("target ε = \(target), sampling rate \(q), \(steps) steps, δ = \(delta):")
            say("  noise multiplier \(format(z)) gives ε = \(format(try accountant.epsilon(delta: delta).epsilon))")
        default:
            throw UsageError("give exactly one of --noise-multiplier and --target-epsilon")
        }
    }

    static func format(_ x: Double) -> String { String(format: "%.6g", x) }

    /// `--json`'s answer: the inputs and every computed value, nil (null) where a mode has none.
    struct PrivacyAnswer: Encodable {
        var mode: String
        var delta: Double
        /// ε: the accountant's (epsilon, noiseMultiplier modes) or the target (gaussian mode).
        var epsilon: Double?
        var sensitivity: Double?
        var classicalSigma: Double?
        var c: Double?
        /// What the classical σ really earns (analytic Gaussian curve).
        var classicalEarnedEpsilon: Double?
        var analyticSigma: Double?
        var noiseMultiplier: Double?
        var sampleRate: Double?
        var steps: Int?
        var bestOrder: Double?
        var targetEpsilon: Double?
        var guarantee: String?
    }

    /// One JSON object; Swift's encoder writes each Double as its shortest round-trip decimal (full precision).
    static func printJSON(_ answer: PrivacyAnswer) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        say(String(decoding: try encoder.encode(answer), as: UTF8.self))
    }

    /// Why no noise multiplier meets `--target-epsilon`: the RDP-to-(ε, δ) conversion has a floor (ε never falls
    /// below about log(1/δ)/(α_max − 1), whatever the noise), or the target needs more noise than the search tries.
    static func unreachable(target: Double, delta: Double, q: Double, steps: Int, searched: Double) -> UsageError {
        var accountant = RDPAccountant()
        let floor = (try? accountant.step(noiseMultiplier: 1e12, sampleRate: q, count: steps))
            .flatMap { try? accountant.epsilon(delta: delta).epsilon }
        if let floor, floor > target {
            return UsageError("--target-epsilon \(target) is unreachable at δ = \(delta): with the accountant's RDP "
                              + "orders ε never falls below \(format(floor)), whatever the noise multiplier; "
                              + "ask for ε ≥ \(format(floor)) or a larger --delta")
        }
        return UsageError("--target-epsilon \(target) at δ = \(delta), sampling rate \(q), \(steps) steps needs a noise "
                          + "multiplier above \(format(searched)), the largest this search tries; "
                          + "ask for a larger ε or fewer --steps")
    }
}
