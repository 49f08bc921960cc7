// StreamPurpose: the purpose codes that keep every random stream of a run independent.
import FedTensor

/// Random streams are `StreamKey(seed: runSeed, purpose, a, b…)`: one per (purpose, client, round, …).
public enum StreamPurpose: UInt64, Sendable {
    case initialWeights = 1
    case partition = 2
    case sampling = 3
    case localTraining = 4
    case uploadNoise = 5
    /// NISS: the generator key of a client's share (client, round, attempt, share index).
    case nissShare = 6
    /// NISS: the distortion s ~ N(1, τ²) a receiver applies to one share (receiver, round, attempt, sender, index).
    case nissDistortion = 7
    /// The tracker's own generator for neighbour lists (round, attempt): never the PS's.
    case trackerNeighbours = 8
    /// Which clients collude with the PS in a collusion study.
    case colluders = 9
    /// Noise infusion (Part A) on parameter vectors: client uploads (client, round, attempt) and the global
    /// model (−1, round, 0). Layer and gradient noise derive from the client's local-training stream.
    case noiseInfusion = 10
    /// Which training examples of `dataset.minorityClass` a federation keeps (issue 15's class imbalance).
    case minoritySubsampling = 15

    public func key(seed: UInt64, _ ids: Int...) -> StreamKey {
        StreamKey(seed: seed, path: [rawValue] + ids.map { UInt64(bitPattern: Int64($0)) })
    }
}
