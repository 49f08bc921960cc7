// Messages: everything the parameter server, clients and tracker say to each other (Codable, transport-agnostic).
import FedTensor
import FedTransport

/// The one message type of a federation. Actors exchange only these, through a `Transport`.
public enum FederationMessage: Codable, Sendable {
    /// Client → tracker: "I am alive" (sent once at start-up).
    case hello(client: Int, samples: Int)
    /// PS → tracker: which clients are live for `round`?
    case liveClientsRequest(round: Int)
    /// Tracker → PS: the live clients, ascending.
    case liveClients(round: Int, clients: [Int])
    /// PS → sampled client: train on the global weights and upload.
    case roundStart(RoundStart)
    /// NISS client → tracker: "I take part in this round with this many noise shares; who are my neighbours?"
    case neighbourRequest(NeighbourRequest)
    /// Tracker → NISS client: where each of its shares goes, and which shares it will receive.
    case neighbours(NeighbourAssignment)
    /// NISS client → client: one negated noise share.
    case share(NoiseShare)
    /// Client → PS: the client's (weighted, possibly noised) model.
    case upload(ClientUpload)
    /// Anyone → PS: stop waiting for the missing uploads of `attempt` of `round` (sent by the PS's own timer, or
    /// by tests). A deadline for another round or attempt is ignored.
    case deadline(round: Int, attempt: Int = 0)
    /// PS → everyone: the federation is over.
    case stop
}

/// What a sampled client needs for one round.
public struct RoundStart: Codable, Sendable {
    public var round: Int
    /// The global model, as one flat vector (4 bytes per value on the wire).
    @PackedFloats public var weights: [Float]
    /// Σ d_i over the clients sampled this round, so each client can compute p_k = d_k / Σ d_i.
    public var sampledSamples: Int
    /// The clients sampled this round, ascending.
    public var participants: [Int]
    /// 0 for the round's first try; a NISS round redone without dropped clients counts up.
    public var attempt: Int
    /// NISS: the unit share variance σ² of this round (nil for other strategies).
    public var unitNoiseVariance: Double?

    public init(round: Int, weights: [Float], sampledSamples: Int, participants: [Int], attempt: Int = 0,
                unitNoiseVariance: Double? = nil) {
        self.round = round
        self.weights = weights
        self.sampledSamples = sampledSamples
        self.participants = participants
        self.attempt = attempt
        self.unitNoiseVariance = unitNoiseVariance
    }
}

/// One client's contribution to a round.
public struct ClientUpload: Codable, Sendable {
    public var round: Int
    public var client: Int
    /// p_k · w_k (+ noise, for DP strategies): the PS only sums these (4 bytes per value on the wire).
    @PackedFloats public var payload: [Float]
    /// p_k = d_k / Σ d_i, so the PS can renormalise when a client is left out.
    public var weight: Double
    public var samples: Int
    public var trainLoss: Double
    /// The std σ_k of the Gaussian noise in `payload` (0 without DP).
    public var noiseStd: Double
    /// The L2 norm of the clipped quantity before clipping (nil without clipping).
    public var preClipNorm: Double?
    /// Simulation diagnostics only: the noise vector itself, so the run can report the realised aggregate noise.
    /// It reveals the noise: only sent when `diagnostics` is on, never in a deployment.
    @PackedOptionalFloats public var diagnosticNoise: [Float]?
    /// The attempt of the round this upload answers (see `RoundStart.attempt`).
    public var attempt: Int
    /// NISS: how this client's shares were exchanged (nil for other strategies).
    public var niss: NISSUploadReport?

    public init(round: Int, client: Int, payload: [Float], weight: Double, samples: Int, trainLoss: Double,
                noiseStd: Double = 0, preClipNorm: Double? = nil, diagnosticNoise: [Float]? = nil, attempt: Int = 0,
                niss: NISSUploadReport? = nil) {
        self.attempt = attempt
        self.niss = niss
        self.round = round
        self.client = client
        self.payload = payload
        self.weight = weight
        self.samples = samples
        self.trainLoss = trainLoss
        self.noiseStd = noiseStd
        self.preClipNorm = preClipNorm
        self.diagnosticNoise = diagnosticNoise
    }
}

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
    /// Diagnostics only: σ²·Σ_j (s_j − 1)², this client's realised contribution to the aggregate noise variance.
    public var distortion: Double?
    /// Only from a client that colludes with the PS: every share it created or received.
    public var reveal: CollusionReveal?

    public init(tau2: Double, targets: [Int], incoming: [ShareID], shareBytes: Int, denseBytes: Int,
                seededBytes: Int, distortion: Double?, reveal: CollusionReveal?) {
        self.tau2 = tau2
        self.targets = targets
        self.incoming = incoming
        self.shareBytes = shareBytes
        self.denseBytes = denseBytes
        self.seededBytes = seededBytes
        self.distortion = distortion
        self.reveal = reveal
    }
}

/// A colluding client's disclosure to the PS (Theorem 3's threat model).
public struct CollusionReveal: Codable, Sendable {
    /// Shares it created: each as sent (negated), with its receiver in `to`.
    public var created: [NoiseShare]
    /// Shares it received, as they arrived.
    public var received: [NoiseShare]

    public init(created: [NoiseShare], received: [NoiseShare]) {
        self.created = created
        self.received = received
    }
}
