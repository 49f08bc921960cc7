// Tracker: registers live clients and answers who is live; it never sees weights or noise.
import FedTransport

/// The pure registry behind the tracker actor.
public struct TrackerState: Sendable, Equatable {
    public private(set) var live: Set<Int> = []
    public init() {}
    public mutating func register(_ client: Int) { live.insert(client) }
    public mutating func remove(_ client: Int) { live.remove(client) }
    public var liveClients: [Int] { live.sorted() }
}

/// The tracker actor: a thin shell around `TrackerState`.
actor Tracker {
    private var state = TrackerState()
    private let transport: any Transport<FederationMessage>
    private let mailbox: Mailbox<FederationMessage>

    init(transport: any Transport<FederationMessage>, mailbox: Mailbox<FederationMessage>) {
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
            case .stop:
                return
            default:
                continue
            }
        }
    }
}
