// LocalBatchNorm: FedBN (Li et al. 2021): BatchNorm coordinates stay with each client, the rest is averaged.
import FedNN
import Synchronization

/// How a federation treats BatchNorm coordinates (config key `batchNorm`).
public enum BatchNormAggregation: String, Codable, Sendable, CaseIterable {
    /// Averaged like every weight (FedAvg of the whole state, as PyTorch's `state_dict`): the default.
    case average
    /// FedBN (Li et al. 2021, Alg. 1): each client keeps its own γ, β and running statistics across rounds.
    case local

    /// An unknown name is an error listing the allowed ones (the key is optional, so the configuration loader
    /// cannot list them itself).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let value = Self(rawValue: text) else {
            throw DecodingError.dataCorruptedError(
                in: c, debugDescription: "unknown value '\(text)' (allowed: "
                    + Self.allCases.map(\.rawValue).joined(separator: ", ") + ")")
        }
        self = value
    }
}

/// Each client's own BatchNorm coordinates (γ, β, r_μ, r_σ² of every BatchNorm layer, concatenated), written by that
/// client only, after its local training; a client reads only its own entry, so the run stays deterministic.
public final class LocalBatchNormStore: Sendable {
    private let state = Mutex<[Int: [Float]]>([:])
    public init() {}
    /// Client `k`'s coordinates (nil: it has not trained yet).
    public func coordinates(client k: Int) -> [Float]? { state.withLock { $0[k] } }
    func set(_ values: [Float], client k: Int) { state.withLock { $0[k] = values } }
}

/// Wraps a strategy with FedBN: before local training a client overwrites the BatchNorm slices of the broadcast
/// global model with its own (from its previous participation; the first time it starts from the global ones),
/// and after training it keeps the trained slices. Uploads still carry them, and the server averages every
/// coordinate as before, so the global model's BatchNorm slices are the p_k-weighted average of the
/// participants' own: those are what evaluation of the global model on the (pooled) test set uses — the pooled
/// estimate of the statistics, rather than one client's (client 0's would evaluate every test image with one
/// client's normalisation). Non-BatchNorm coordinates are FedAvg's; in the first round, before any client has
/// state, the run is bit for bit FedAvg's.
///
/// The store is in-process client state: a checkpoint does not hold it, so such a run cannot be resumed
/// (`Federation.run` refuses).
public struct LocalBatchNormStrategy: WrappingStrategy {
    public let inner: any FederatedStrategy
    /// The BatchNorm slices of the flat parameter vector.
    public let ranges: [Range<Int>]
    public let store: LocalBatchNormStore

    public init(_ inner: any FederatedStrategy, network: Network, store: LocalBatchNormStore = LocalBatchNormStore()) {
        self.inner = inner
        self.ranges = Self.batchNormRanges(network)
        self.store = store
    }

    /// The parameter slices of every BatchNorm layer of `network` (empty: it has none).
    public static func batchNormRanges(_ network: Network) -> [Range<Int>] {
        zip(network.layers, network.parameterRanges).compactMap { $0 is BatchNorm ? $1 : nil }
    }

    /// The concatenated BatchNorm slices of `parameters`.
    public func extract(_ parameters: [Float]) -> [Float] { ranges.flatMap { parameters[$0] } }

    /// Writes `values` (as `extract` gives) into the BatchNorm slices of `parameters`.
    public func insert(_ values: [Float], into parameters: inout [Float]) {
        var at = 0
        for r in ranges {
            parameters.replaceSubrange(r, with: values[at..<(at + r.count)])
            at += r.count
        }
    }

    public var name: String { inner.name + " (FedBN)" }

    public func localTrainer(client: Int, round: Int) -> any LocalTrainer {
        LocalBatchNormTrainer(inner: inner.localTrainer(client: client, round: round), strategy: self)
    }

    /// Keeps the trained slices before the inner strategy (noise infusion, …) touches the upload.
    public func prepareUpload(_ context: UploadContext) throws -> PreparedUpload {
        store.set(extract(context.trained), client: context.client)
        return try inner.prepareUpload(context)
    }
}

/// The inner trainer, started from the global model with the client's own BatchNorm slices.
struct LocalBatchNormTrainer: LocalTrainer {
    let inner: any LocalTrainer
    let strategy: LocalBatchNormStrategy

    func train(_ job: LocalTrainingJob, parameters: inout [Float], workspace: Workspace) throws -> LocalTrainingResult {
        if let own = strategy.store.coordinates(client: job.client) {
            strategy.insert(own, into: &parameters)
        }
        return try inner.train(job, parameters: &parameters, workspace: workspace)
    }
}
