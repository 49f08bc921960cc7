// ShareExchange: one NISS client's side of a round attempt: its shares out, its neighbours' shares in, its noise ñ_k.
import FedStrategy
import FedTensor

/// The pure state of client k's share exchange (NISS paper Alg. 2, `ClientShare`, with spec B.3's correction: each
/// share n_i ~ N(0, σ²·I)). The client actor feeds it the tracker's assignment and the shares that arrive, in any order;
/// the noise it returns is the same, bit for bit, whatever that order and whatever the encoding.
///
/// Every share is generated from a key derived from (run seed, creator, round, attempt, index): the seeded encoding
/// sends that key, the dense one sends −n itself; a receiver's distortion s ~ N(1, τ_k²) comes from a key of
/// (run seed, receiver, round, attempt, creator, index). Received shares are summed in ascending share order.
public struct ShareExchange: Sendable {
    public let client: Int
    public let round: Int
    public let attempt: Int
    /// σ: the std of every share.
    public let unitStd: Float
    /// v_k
    public let shareCount: Int
    public let tau2: Double
    public let encoding: ShareEncoding
    /// h: the model's parameter count.
    public let length: Int
    private let seed: UInt64
    public private(set) var assignment: NeighbourAssignment?
    private var received: [ShareID: SharePayload] = [:]

    public init(client: Int, round: Int, attempt: Int, unitVariance: Double, shareCount: Int, tau2: Double,
                encoding: ShareEncoding, length: Int, seed: UInt64) {
        self.length = length
        self.client = client
        self.round = round
        self.attempt = attempt
        self.unitStd = Float(unitVariance.squareRoot())
        self.shareCount = shareCount
        self.tau2 = tau2
        self.encoding = encoding
        self.seed = seed
    }

    /// The generator key of share `index` of `creator`.
    public static func shareKey(seed: UInt64, creator: Int, round: Int, attempt: Int, index: Int) -> StreamKey {
        StreamPurpose.nissShare.key(seed: seed, creator, round, attempt, index)
    }

    /// s ~ N(1, τ²) for share `id` received by `receiver`.
    public static func distortion(seed: UInt64, receiver: Int, round: Int, attempt: Int, share id: ShareID,
                                  tau2: Double) -> Float {
        guard tau2 > 0 else { return 1 }
        var rng = Philox(StreamPurpose.nissDistortion.key(seed: seed, receiver, round, attempt, id.from, id.index))
        return Float(1 + tau2.squareRoot() * rng.nextGaussian())
    }

    private func key(_ index: Int) -> StreamKey {
        Self.shareKey(seed: seed, creator: client, round: round, attempt: attempt, index: index)
    }

    /// The request the client sends the tracker.
    public func request(participants: [Int]) -> NeighbourRequest {
        NeighbourRequest(round: round, attempt: attempt, client: client, shares: shareCount,
                         participants: participants)
    }

    /// Takes the tracker's assignment.
    public mutating func setAssignment(_ a: NeighbourAssignment) {
        precondition(a.client == client && a.round == round && a.attempt == attempt && a.targets.count == shareCount,
                     "assignment for another client or attempt")
        precondition(!a.targets.contains(client), "a client never sends a share to itself")
        assignment = a
    }

    /// The negated shares to send, one per target of the assignment.
    public func outgoingShares() -> [NoiseShare] { ownShares(payload: payload) }

    /// The client's own shares with their receivers, each carrying `payload(i)`.
    private func ownShares(payload: (Int) -> SharePayload) -> [NoiseShare] {
        (assignment?.targets ?? []).enumerated().map { i, to in
            NoiseShare(round: round, attempt: attempt, id: ShareID(from: client, index: i), to: to, payload: payload(i))
        }
    }

    /// Share i's payload in this exchange's encoding.
    private func payload(_ i: Int) -> SharePayload {
        switch encoding {
        case .seeded: .seeded(key(i))
        case .dense: .dense(Self.expand(key(i), std: unitStd, length: length, negated: true))
        }
    }

    /// The client's own shares as a colluder reveals them: keys (the creator always knows them), with receivers.
    public var createdShares: [NoiseShare] { ownShares { .seeded(key($0)) } }

    /// σ·z (negated: −σ·z) of stream `key`, h floats.
    public static func expand(_ key: StreamKey, std: Float, length: Int, negated: Bool) -> [Float] {
        [Float](unsafeUninitializedCapacity: length) { b, n in
            fillGaussian(b, key: key, std: negated ? -std : std)
            n = length
        }
    }

    public enum Rejection: Error, Equatable {
        case wrongAttempt, unexpected(ShareID), duplicate(ShareID)
    }

    /// A share arrived (before or after the assignment).
    public mutating func receive(_ share: NoiseShare) throws(Rejection) {
        guard share.round == round, share.attempt == attempt, share.to == client else { throw .wrongAttempt }
        if let a = assignment, !a.incoming.contains(share.id) { throw .unexpected(share.id) }
        guard received[share.id] == nil else { throw .duplicate(share.id) }
        received[share.id] = share.payload
    }

    /// Whether the assignment and every share it announced are in.
    public var isComplete: Bool {
        guard let a = assignment else { return false }
        return a.incoming.allSatisfy { received[$0] != nil }
    }

    /// The shares received so far, as they arrived (what a colluder reveals).
    public var receivedShares: [NoiseShare] {
        received.keys.sorted().map {
            NoiseShare(round: round, attempt: attempt, id: $0, to: client, payload: received[$0]!)
        }
    }

    /// ñ_k = Σ_i n_i + Σ_j s_j·r_j (Alg. 2, `ClientShare`), own shares in index order then received ones in
    /// ascending share order, and σ²·Σ_j (s_j − 1)², this client's realised contribution to Theorem 2's variance.
    public func noise() -> (noise: [Float], distortion: Double) {
        precondition(isComplete, "noise before the exchange completed")
        var total = [Float](repeating: 0, count: length)
        var scratch = [Float](repeating: 0, count: length)
        var distortion = 0.0
        total.withUnsafeMutableBufferPointer { t in
            scratch.withUnsafeMutableBufferPointer { s in
                for i in 0..<shareCount {
                    fillGaussian(s, key: key(i), std: unitStd)
                    axpy(1, s.baseAddress!, t.baseAddress!, count: length)
                }
                for id in assignment!.incoming {
                    let factor = Self.distortion(seed: seed, receiver: client, round: round, attempt: attempt,
                                                 share: id, tau2: tau2)
                    distortion += Double(factor - 1) * Double(factor - 1)
                    received[id]!.accumulate(factor, into: t, scratch: s, unitStd: unitStd)
                }
            }
        }
        return (total, distortion * Double(unitStd) * Double(unitStd))
    }
}

extension SharePayload {
    /// y += factor·r for the negated share r = −n this payload carries, h = `y.count` floats. A seeded payload is
    /// expanded into `scratch` and added as (−factor)·n, which is the same float as the dense path's factor·(−n):
    /// both encodings give bit-identical sums.
    func accumulate(_ factor: Float, into y: UnsafeMutableBufferPointer<Float>,
                    scratch: UnsafeMutableBufferPointer<Float>, unitStd: Float) {
        switch self {
        case .dense(let r):
            precondition(r.count == y.count, "dense share of the wrong length")
            r.withUnsafeBufferPointer { axpy(factor, $0.baseAddress!, y.baseAddress!, count: y.count) }
        case .seeded(let key):
            fillGaussian(scratch, key: key, std: unitStd)
            axpy(-factor, scratch.baseAddress!, y.baseAddress!, count: y.count)
        }
    }
}
