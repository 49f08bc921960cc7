// ClientMachine: one client's round logic as a pure state machine: round start, noise exchange, training, upload.
import FedPrivacy
import FedStrategy
import FedTensor
import FedTransport

/// Everything a client decides, with no actor, transport or training inside: the `ClientNode` actor feeds it
/// messages and the results of local training, and carries out the actions it returns. With a strategy that asks
/// for a noise exchange (NISS Alg. 2) the sequence is: ask the tracker for neighbours → on the assignment, send the
/// negated shares and train → once trained and every announced share is in, upload p_k·w_k + ñ_k. A newer round
/// start abandons the attempt; a duplicate or older one is ignored (at-least-once delivery).
public struct ClientMachine: Sendable {
    public enum Action: Sendable {
        case send(FederationMessage, to: EndpointID)
        /// Train locally from `start.weights`, then call `trained`.
        case train(RoundStart)
        case stop
    }

    public let client: Int
    /// d_k
    public let samples: Int
    public let strategy: any FederatedStrategy
    public let seed: UInt64
    /// h: the model's parameter count.
    public let length: Int
    /// Attach simulation diagnostics (noise vectors) to uploads.
    public let diagnostics: Bool
    private var last = (round: Int.min, attempt: Int.min)
    private var current: Attempt?

    private struct Attempt {
        var start: RoundStart
        var weight: Double
        var exchange: ShareExchange?
        var reveal = false
        var sentBytes = 0
        var prepared: (upload: PreparedUpload, loss: Double)?
        var exampleLevel: RDPAccountant.Run?
    }

    public init(client: Int, samples: Int, strategy: any FederatedStrategy, seed: UInt64, length: Int,
                diagnostics: Bool) {
        self.client = client
        self.samples = samples
        self.strategy = strategy
        self.seed = seed
        self.length = length
        self.diagnostics = diagnostics
    }

    /// A message arrived.
    public mutating func receive(_ message: FederationMessage) throws -> [Action] {
        switch message {
        case .roundStart(let start) where (start.round, start.attempt) > last:
            last = (start.round, start.attempt)
            let weight = Double(samples) / Double(start.sampledSamples)
            var attempt = Attempt(start: start, weight: weight)
            defer { current = attempt }
            guard let plan = try strategy.noiseExchange(ExchangeContext(
                client: client, round: start.round, attempt: start.attempt, weight: weight, samples: samples,
                parameters: start.parameters))
            else { return [.train(start)] }
            let exchange = ShareExchange(
                client: client, round: start.round, attempt: start.attempt, unitVariance: plan.unitVariance,
                shareCount: plan.shareCount, tau2: plan.tau2, encoding: plan.encoding, length: length, seed: seed)
            attempt.exchange = exchange
            attempt.reveal = plan.reveal
            return [.send(.neighbourRequest(exchange.request(participants: start.participants)), to: .tracker)]
        case .neighbours(let a) where a.client == client && current?.exchange?.assignment == nil
            && current.map({ ($0.start.round, $0.start.attempt) == (a.round, a.attempt) }) ?? false:
            // Shares that arrived before it are matched against its incoming list when the noise is built.
            current!.exchange!.setAssignment(a)
            let shares = current!.exchange!.outgoingShares()
            current!.sentBytes += shares.map(\.bytes).reduce(0, +)
            // Send the shares before training so neighbours are not kept waiting.
            return shares.map { .send(.share($0), to: .client($0.to)) } + [.train(current!.start)]
        case .share(let share) where current?.exchange != nil:
            try? current!.exchange!.receive(share)  // stale or unexpected shares are dropped
            return try uploadIfReady()
        case .stop:
            return [.stop]
        default:
            return []  // a stale round start, or a share or assignment of an abandoned attempt
        }
    }

    /// Local training of `round`'s `attempt` finished with model `weights` and last-epoch loss `loss` (and, under
    /// DP-SGD, the steps it ran).
    public mutating func trained(round: Int, attempt: Int, weights: [Float], loss: Double,
                                 exampleLevel: RDPAccountant.Run? = nil) throws -> [Action] {
        guard let a = current, (a.start.round, a.start.attempt) == (round, attempt) else { return [] }
        let upload = try strategy.prepareUpload(UploadContext(
            client: client, round: round, attempt: attempt, trained: weights, global: a.start.weights,
            weight: a.weight, samples: samples, noiseKey: StreamPurpose.uploadNoise.key(seed: seed, client, round),
            keepNoise: diagnostics))
        current!.prepared = (upload, loss)
        current!.exampleLevel = exampleLevel
        return try uploadIfReady()
    }

    /// Uploads once trained and (with an exchange) once every announced share is in.
    private mutating func uploadIfReady() throws -> [Action] {
        guard let a = current, let (prepared, loss) = a.prepared else { return [] }
        var payload = prepared.payload
        var report: NISSUploadReport?
        var extra: UploadDiagnostics? = prepared.noise.map { UploadDiagnostics(noise: $0) }
        if let exchange = a.exchange {
            guard exchange.isComplete else { return [] }
            let (noise, distortion) = exchange.noise()
            payload.withUnsafeMutableBufferPointer { p in
                noise.withUnsafeBufferPointer { axpy(1, $0.baseAddress!, p.baseAddress!, count: p.count) }
            }
            let v = exchange.shareCount
            report = NISSUploadReport(
                tau2: exchange.tau2, targets: exchange.assignment!.targets, incoming: exchange.assignment!.incoming,
                shareBytes: a.sentBytes, denseBytes: v * (NoiseShare.headerBytes + 4 * length),
                seededBytes: v * (NoiseShare.headerBytes + 16))
            extra = diagnostics ? UploadDiagnostics(
                noise: noise, distortion: distortion,
                reveal: a.reveal ? CollusionReveal(created: exchange.createdShares, received: exchange.receivedShares)
                    : nil) : nil
        }
        current = nil
        var upload = ClientUpload(
            round: a.start.round, client: client, payload: payload, weight: a.weight, samples: samples,
            trainLoss: loss, noiseStd: prepared.noiseStd, preClipNorm: prepared.preClipNorm,
            attempt: a.start.attempt, niss: report)
        upload.exampleLevel = a.exampleLevel
        return [.send(.upload(upload, diagnostics: extra), to: .parameterServer)]
    }
}
