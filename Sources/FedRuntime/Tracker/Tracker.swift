// Tracker: registers live clients, answers who is live, and hands NISS clients their neighbours; it never sees noise.
import FedTensor
import FedTransport

/// The pure logic behind the tracker actor.
public struct TrackerState: Sendable {
    public private(set) var live: Set<Int> = []
    /// The tracker's own seed: neighbour lists never come from the PS's generator (Theorem 3's assumption).
    private let seed: UInt64
    /// Requests of the attempt being gathered, by client.
    private var pending: [Int: NeighbourRequest] = [:]
    private var gathering: (round: Int, attempt: Int)?

    public init(seed: UInt64 = 0) {
        self.seed = seed
    }

    public mutating func register(_ client: Int) { live.insert(client) }
    public mutating func remove(_ client: Int) { live.remove(client) }
    public var liveClients: [Int] { live.sorted() }

    /// A NISS client asks for neighbours. Once every participant of its round attempt has asked, returns everyone's
    /// assignment (a newer attempt discards an unfinished older one). Requests for older attempts are ignored.
    public mutating func request(_ r: NeighbourRequest) throws(ShareGraph.Failure) -> [NeighbourAssignment] {
        if let g = gathering, (r.round, r.attempt) < (g.round, g.attempt) { return [] }
        if gathering.map({ $0 != (r.round, r.attempt) }) ?? true {
            gathering = (r.round, r.attempt)
            pending = [:]
        }
        guard r.participants.contains(r.client) else { return [] }
        pending[r.client] = r
        guard r.participants.allSatisfy({ pending[$0] != nil }) else { return [] }
        let shares = Dictionary(uniqueKeysWithValues: r.participants.map { ($0, pending[$0]!.shares) })
        pending = [:]
        gathering = nil
        let graph = try ShareGraph.assign(
            shares: shares, round: r.round, attempt: r.attempt,
            key: StreamPurpose.trackerNeighbours.key(seed: seed, r.round, r.attempt))
        return r.participants.map { graph[$0]! }
    }
}

/// The tracker actor: a thin shell around `TrackerState`.
actor Tracker {
    private var state: TrackerState
    private let transport: any Transport<FederationMessage>
    private let mailbox: Mailbox<FederationMessage>

    init(seed: UInt64, transport: any Transport<FederationMessage>, mailbox: Mailbox<FederationMessage>) {
        self.state = TrackerState(seed: seed)
        self.transport = transport
        self.mailbox = mailbox
    }

    func run() async throws {
        for await envelope in mailbox {
            switch envelope.message {
            case .hello(let client, _):
                state.register(client)
            case .liveClientsRequest(let round):
                try await transport.send(.liveClients(round: round, clients: state.liveClients), from: .tracker,
                                         to: envelope.from)
            case .neighbourRequest(let request):
                // The PS checked feasibility before the round; a failure here would be a bug, so it ends the run.
                for assignment in try state.request(request) {
                    try await transport.send(.neighbours(assignment), from: .tracker, to: .client(assignment.client))
                }
            case .stop:
                return
            default:
                continue
            }
        }
    }
}
