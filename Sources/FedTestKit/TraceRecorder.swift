// TraceRecorder: a transport wrapper that keeps, per round and client, the noise, shares, upload and global model.
import FedRuntime
import FedTransport
import Synchronization

/// Records what a federation's actors say to each other, for invariant tests: wrap the transport, run the
/// federation over it, then ask per round and client. It keeps every vector it sees: use it on small models.
///
/// ```swift
/// let trace = TraceRecorder()
/// _ = try await federation.run(transport: trace)
/// for k in trace.clients(round: 1) { #expect(trace.client(k, round: 1).sharesSent.allSatisfy { $0.to != k }) }
/// ```
public final class TraceRecorder: Transport {
    public typealias Message = FederationMessage

    /// What one client did in one round (its last attempt).
    public struct ClientTrace: Sendable {
        public var attempt = 0
        /// The upload the PS received (p_k·w_k plus noise).
        public var upload: ClientUpload?
        /// The noise in it (simulation diagnostics; nil when diagnostics are off or the strategy adds none).
        public var noise: [Float]?
        public var sharesSent: [NoiseShare] = []
        public var sharesReceived: [NoiseShare] = []
    }

    private struct State {
        var clients: [Int: [Int: ClientTrace]] = [:]
        var globals: [Int: [Float]] = [:]
    }

    private let inner: any Transport<FederationMessage>
    private let state = Mutex(State())

    /// Wraps `inner` (a fresh in-process transport by default).
    public init(wrapping inner: any Transport<FederationMessage> = InProcessTransport<FederationMessage>()) {
        self.inner = inner
    }

    /// Client `client`'s trace in `round` (empty if it took no part).
    public func client(_ client: Int, round: Int) -> ClientTrace {
        state.withLock { $0.clients[round]?[client] } ?? ClientTrace()
    }

    /// The clients that uploaded in `round`, ascending.
    public func clients(round: Int) -> [Int] {
        state.withLock { s in (s.clients[round] ?? [:]).filter { $0.value.upload != nil }.keys.sorted() }
    }

    /// The global model broadcast at the start of `round` (so the aggregate of round r is `globalModel(r + 1)`).
    public func globalModel(round: Int) -> [Float]? { state.withLock { $0.globals[round] } }

    private func record(_ envelope: Envelope<FederationMessage>) {
        state.withLock { s in
            switch envelope.message {
            case .roundStart(let start):
                s.globals[start.round] = start.weights
                if let k = envelope.to.clientID { Self.reset(&s, round: start.round, client: k, attempt: start.attempt) }
            case .share(let share):
                if let from = envelope.from.clientID {
                    s.clients[share.round, default: [:]][from, default: ClientTrace()].sharesSent.append(share)
                }
                s.clients[share.round, default: [:]][share.to, default: ClientTrace()].sharesReceived.append(share)
            case .upload(let upload, let diagnostics):
                s.clients[upload.round, default: [:]][upload.client, default: ClientTrace()].upload = upload
                s.clients[upload.round, default: [:]][upload.client, default: ClientTrace()].noise = diagnostics?.noise
            default:
                break
            }
        }
    }

    /// A new attempt starts the client's round trace afresh.
    private static func reset(_ s: inout State, round: Int, client: Int, attempt: Int) {
        s.clients[round, default: [:]][client] = ClientTrace(attempt: attempt)
    }

    public func register(_ endpoint: EndpointID) async throws -> Mailbox<FederationMessage> {
        try await inner.register(endpoint)
    }

    public func send(_ message: FederationMessage, from sender: EndpointID, to receiver: EndpointID) async throws {
        record(Envelope(from: sender, to: receiver, sequence: 0, message: message))
        try await inner.send(message, from: sender, to: receiver)
    }

    public func forward(_ envelope: Envelope<FederationMessage>) async throws {
        record(envelope)
        try await inner.forward(envelope)
    }

    public func close(_ endpoint: EndpointID) async { await inner.close(endpoint) }
    public func shutdown() async { await inner.shutdown() }
}

extension EndpointID {
    /// k for `.client(k)`, else nil.
    fileprivate var clientID: Int? { role == EndpointID.client(0).role ? index : nil }
}
