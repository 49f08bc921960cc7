// StreamPurpose: the purpose codes that keep every random stream of a run independent.
import FedTensor

/// Random streams are `StreamKey(seed: runSeed, purpose, a, b…)`: one per (purpose, client, round, …).
public enum StreamPurpose: UInt64, Sendable {
    case initialWeights = 1
    case partition = 2
    case sampling = 3
    case localTraining = 4
    case uploadNoise = 5

    public func key(seed: UInt64, _ ids: Int...) -> StreamKey {
        StreamKey(seed: seed, path: [rawValue] + ids.map { UInt64(bitPattern: Int64($0)) })
    }
}
