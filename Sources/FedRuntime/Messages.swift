// Messages: everything the parameter server, clients and tracker say to each other (Codable, transport-agnostic).

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
    /// Client → PS: the client's (weighted, possibly noised) model.
    case upload(ClientUpload)
    /// Anyone → PS: stop waiting for round `round`'s missing uploads (sent by the PS's own timer, or by tests).
    case deadline(round: Int)
    /// PS → everyone: the federation is over.
    case stop
}

/// What a sampled client needs for one round.
public struct RoundStart: Codable, Sendable {
    public var round: Int
    /// The global model, as one flat vector.
    public var weights: [Float]
    /// Σ d_i over the clients sampled this round, so each client can compute p_k = d_k / Σ d_i.
    public var sampledSamples: Int
    /// The clients sampled this round, ascending.
    public var participants: [Int]

    public init(round: Int, weights: [Float], sampledSamples: Int, participants: [Int]) {
        self.round = round
        self.weights = weights
        self.sampledSamples = sampledSamples
        self.participants = participants
    }
}

/// One client's contribution to a round.
public struct ClientUpload: Codable, Sendable {
    public var round: Int
    public var client: Int
    /// p_k · w_k (+ noise, for DP strategies): the PS only sums these.
    public var payload: [Float]
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
    public var diagnosticNoise: [Float]?

    public init(round: Int, client: Int, payload: [Float], weight: Double, samples: Int, trainLoss: Double,
                noiseStd: Double = 0, preClipNorm: Double? = nil, diagnosticNoise: [Float]? = nil) {
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
