// RoundStateMachine: the parameter server's pure round logic: sample, collect in any order, close at a deadline.
import FedStrategy
import FedTensor

/// The parameter server's decisions for one round at a time, with no actors, transport or clock: the
/// `ParameterServer` actor feeds it events and carries out the actions it returns. Tests drive it synchronously.
public struct RoundStateMachine: Sendable {
    public enum State: Sendable, Equatable {
        case idle
        case collecting(round: Int)
    }

    /// What the shell must do after an event.
    public enum Action: Sendable, Equatable {
        /// Nothing yet: keep waiting for uploads.
        case wait
        /// Every sampled client answered or was given up: aggregate.
        case aggregate(round: Int)
        /// The message was not for the current round (late, duplicate or unknown sender); it is ignored.
        case ignore(reason: String)
    }

    public private(set) var state: State = .idle
    public private(set) var sampled: [Int] = []
    public private(set) var sampledSamples = 0
    /// The attempt being collected (NISS redoes a round without clients that dropped after the share exchange).
    public private(set) var attempt = 0
    private var sum: OrderedSum?
    private var noiseSum: OrderedSum?
    private var weights: [Int: Double] = [:]
    private var reports: [Int: ClientUpload] = [:]
    public private(set) var dropped: [Int] = []
    private let length: Int

    /// - Parameter length: the model's parameter count.
    public init(length: Int) {
        self.length = length
    }

    /// Picks m = max(⌊C·K⌋, 1) of `live` clients with the round's own generator (never the clients' streams).
    /// `samplesOf` gives each client's d_k.
    public static func sample(live: [Int], fraction: Double, totalClients: Int, key: StreamKey) -> [Int] {
        let m = min(max(Int((fraction * Double(totalClients)).rounded(.down)), 1), live.count)
        var pool = live.sorted()
        var rng = Philox(key)
        // Partial Fisher–Yates: the first m positions are a uniform sample without replacement.
        for i in 0..<m {
            let j = i + RandomDraws.index(below: pool.count - i, using: &rng)
            pool.swapAt(i, j)
        }
        return pool[..<m].sorted()
    }

    /// Opens `round` for the `sampled` clients (ascending) with their sample counts.
    public mutating func start(round: Int, sampled: [Int], samples: [Int], diagnostics: Bool, attempt: Int = 0) {
        precondition(state == .idle, "a round is already open")
        precondition(sampled == sampled.sorted() && sampled.count == samples.count, "sampled clients must be sorted")
        state = .collecting(round: round)
        self.attempt = attempt
        self.sampled = sampled
        sampledSamples = samples.reduce(0, +)
        sum = OrderedSum(length: length, expected: sampled)
        noiseSum = diagnostics ? OrderedSum(length: length, expected: sampled) : nil
        weights = [:]
        reports = [:]
        dropped = []
    }

    /// An upload arrived.
    public mutating func receive(_ upload: ClientUpload) -> Action {
        guard case .collecting(let round) = state else { return .ignore(reason: "no round is open") }
        guard upload.round == round else { return .ignore(reason: "upload for round \(upload.round) during \(round)") }
        guard upload.attempt == attempt else {
            return .ignore(reason: "upload for attempt \(upload.attempt) of round \(round) during attempt \(attempt)")
        }
        do {
            try sum!.add(upload.payload, from: upload.client)
        } catch {
            return .ignore(reason: "upload from client \(upload.client) rejected: \(error)")
        }
        if noiseSum != nil, let noise = upload.diagnosticNoise { try? noiseSum!.add(noise, from: upload.client) }
        weights[upload.client] = upload.weight
        var report = upload
        report.payload = []
        report.diagnosticNoise = nil
        reports[upload.client] = report
        return sum!.isComplete ? .aggregate(round: round) : .wait
    }

    /// The deadline for `round` passed: missing clients are left out.
    public mutating func deadlinePassed(round: Int, attempt: Int = 0) -> Action {
        guard case .collecting(let current) = state, current == round, attempt == self.attempt else {
            return .ignore(reason: "deadline for a round or attempt that is not open")
        }
        for client in sum!.outstanding {
            sum!.skip(client)
            noiseSum?.skip(client)
            dropped.append(client)
        }
        return .aggregate(round: round)
    }

    /// Closes the round: the new global model Σ p_k w_k / Σ p_k over the clients that answered (renormalised when
    /// some were left out), the per-client reports in id order, and the diagnostic noise sum if collected.
    public mutating func finish() -> (weights: [Float]?, reports: [ClientUpload], noise: [Float]?, dropped: [Int]) {
        guard case .collecting = state, let s = sum, s.isComplete else {
            preconditionFailure("finish() before the round is complete")
        }
        state = .idle
        let received = s.added
        let reportsInOrder = received.compactMap { reports[$0] }
        guard !received.isEmpty else { return (nil, [], nil, dropped) }
        var result = s.sum
        let total = received.reduce(0.0) { $0 + weights[$1]! }
        if abs(total - 1) > 1e-12 {
            let factor = Float(1 / total)
            for i in result.indices { result[i] *= factor }
        }
        var noise = noiseSum.map(\.sum)
        if let n = noise, abs(total - 1) > 1e-12 { noise = n.map { $0 / Float(total) } }
        return (result, reportsInOrder, noise, dropped)
    }
}
