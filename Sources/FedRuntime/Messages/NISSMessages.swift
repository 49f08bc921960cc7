// NISSMessages: what NISS clients and the tracker say: neighbour requests and assignments, noise shares, reports.
import FedTensor
import FedTransport

/// A noise share's name: the `index`-th share created by client `from` (in one round attempt).
public struct ShareID: Codable, Sendable, Hashable, Comparable {
    public var from: Int
    public var index: Int

    public init(from: Int, index: Int) {
        self.from = from
        self.index = index
    }

    public static func < (a: ShareID, b: ShareID) -> Bool { (a.from, a.index) < (b.from, b.index) }
}

/// NISS client → tracker.
public struct NeighbourRequest: Codable, Sendable {
    public var round: Int
    public var attempt: Int
    public var client: Int
    /// v_k: how many shares the client will send.
    public var shares: Int
    /// The round's participants (from `RoundStart`): the tracker assigns once all of them have asked.
    public var participants: [Int]

    public init(round: Int, attempt: Int, client: Int, shares: Int, participants: [Int]) {
        self.round = round
        self.attempt = attempt
        self.client = client
        self.shares = shares
        self.participants = participants
    }
}

/// Tracker → NISS client: its part of the round's share graph.
public struct NeighbourAssignment: Codable, Sendable, Equatable {
    public var round: Int
    public var attempt: Int
    public var client: Int
    /// `targets[i]`: the neighbour that receives the client's share i (never the client itself).
    public var targets: [Int]
    /// The shares the client will receive, ascending.
    public var incoming: [ShareID]

    public init(round: Int, attempt: Int, client: Int, targets: [Int], incoming: [ShareID]) {
        self.round = round
        self.attempt = attempt
        self.client = client
        self.targets = targets
        self.incoming = incoming
    }
}

/// How a share travels (see `ShareEncoding`).
public enum SharePayload: Codable, Sendable {
    /// The negated share r = −n, h floats.
    case dense([Float])
    /// The generator key of n; the receiver expands n and negates it.
    case seeded(StreamKey)

    /// Bytes of the payload as a binary encoding carries it: 4 per float (packed), or 16 for a key.
    public var bytes: Int {
        switch self {
        case .dense(let v): 4 * v.count
        case .seeded: 16
        }
    }

    private enum CodingKeys: String, CodingKey { case dense, seeded }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        guard container.allKeys.count == 1 else {
            throw DecodingError.dataCorrupted(DecodingError.Context(
                codingPath: decoder.codingPath,
                debugDescription: "a share payload has exactly one of 'dense' and 'seeded', got "
                    + "\(container.allKeys.map(\.stringValue))"))
        }
        if container.contains(.dense) {
            self = .dense(try container.decode(PackedFloats.self, forKey: .dense).wrappedValue)
        } else {
            self = .seeded(try container.decode(StreamKey.self, forKey: .seeded))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .dense(let values): try container.encode(PackedFloats(wrappedValue: values), forKey: .dense)
        case .seeded(let key): try container.encode(key, forKey: .seeded)
        }
    }
}

/// NISS client → client: one negated noise share (Alg. 2, "send (−n_i) to u_i").
public struct NoiseShare: Codable, Sendable {
    public var round: Int
    public var attempt: Int
    public var id: ShareID
    public var to: Int
    public var payload: SharePayload

    /// Header bytes of a share message as a binary encoding carries it: round, attempt, from, index, to (8 each).
    public static let headerBytes = 40

    public init(round: Int, attempt: Int, id: ShareID, to: Int, payload: SharePayload) {
        self.round = round
        self.attempt = attempt
        self.id = id
        self.to = to
        self.payload = payload
    }

    /// Bytes this message puts on a transport: header plus payload.
    public var bytes: Int { Self.headerBytes + payload.bytes }
}

/// What a NISS client tells the PS about its share exchange (counts and bytes; the shares themselves stay secret).
public struct NISSUploadReport: Codable, Sendable {
    /// τ_k² of the client.
    public var tau2: Double
    /// The neighbour that received each of the client's v_k shares.
    public var targets: [Int]
    /// The shares it received and distorted.
    public var incoming: [ShareID]
    /// Bytes of the share messages this client sent, in the encoding used.
    public var shareBytes: Int
    /// The same shares' bytes in the dense and the seeded encoding.
    public var denseBytes: Int
    public var seededBytes: Int

    public init(tau2: Double, targets: [Int], incoming: [ShareID], shareBytes: Int, denseBytes: Int,
                seededBytes: Int) {
        self.tau2 = tau2
        self.targets = targets
        self.incoming = incoming
        self.shareBytes = shareBytes
        self.denseBytes = denseBytes
        self.seededBytes = seededBytes
    }
}
