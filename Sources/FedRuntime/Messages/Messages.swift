// Messages: what the parameter server, clients and tracker say to each other (Codable, transport-agnostic).
import FedPrivacy
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
    /// Client → PS: the client's (weighted, possibly noised) model; in simulation only, its diagnostics beside it.
    case upload(ClientUpload, diagnostics: UploadDiagnostics? = nil)
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
    /// What the strategy broadcasts beyond the model (NISS: the unit share variance σ²).
    public var parameters: RoundParameters

    public init(round: Int, weights: [Float], sampledSamples: Int, participants: [Int], attempt: Int = 0,
                parameters: RoundParameters = RoundParameters()) {
        self.round = round
        self.weights = weights
        self.sampledSamples = sampledSamples
        self.participants = participants
        self.attempt = attempt
        self.parameters = parameters
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
    /// The attempt of the round this upload answers (see `RoundStart.attempt`).
    public var attempt: Int
    /// NISS: how this client's shares were exchanged (nil for other strategies).
    public var niss: NISSUploadReport?
    /// DP-SGD local training: the steps this upload's training ran and their (σ, q), for the example-level
    /// accountant (nil without DP-SGD).
    public var exampleLevel: RDPAccountant.Run?

    public init(round: Int, client: Int, payload: [Float], weight: Double, samples: Int, trainLoss: Double,
                noiseStd: Double = 0, preClipNorm: Double? = nil, attempt: Int = 0, niss: NISSUploadReport? = nil) {
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
    }
}
