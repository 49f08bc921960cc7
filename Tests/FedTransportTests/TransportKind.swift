// TransportKind: the implementations the contract suite runs on, the test message type, and mailbox helpers.
import FedTestKit
#if MPI
import FedMPI
#endif
import FedTransport

/// Every ``Transport`` implementation the contract suite must pass on; a new transport adds a case here.
enum TransportKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case inProcess
    case faultInjectingWithoutRules
    case serializing
    /// A ``SocketLink`` to a ``SocketHub`` over loopback TCP: every message crosses the socket twice.
    case socket
    /// The same over TLS 1.3 with mutual authentication (the link's certificate grants every endpoint, `*`).
    case socketTLS
    #if MPI
    /// Every endpoint on this rank, every envelope through MPI as bytes (`swift test --traits MPI`).
    case mpi
    #endif

    var description: String { rawValue }

    /// Whether messages reach the receiver as the sender's values (no encoding on the way).
    var sharesValues: Bool { self == .inProcess || self == .faultInjectingWithoutRules }

    func make() -> any Transport<TestMessage> {
        switch self {
        case .inProcess: InProcessTransport<TestMessage>()
        case .faultInjectingWithoutRules: FaultInjectingTransport(wrapping: InProcessTransport<TestMessage>(), seed: 1)
        case .serializing: SerializingTransport(wrapping: InProcessTransport<TestMessage>())
        case .socket: LoopbackSockets()
        case .socketTLS: LoopbackSockets(tls: TestPKI.shared.contexts(link: "*"))
        #if MPI
        case .mpi: try! MPITransport<TestMessage> { _ in 0 }  // a world of one rank under `swift test`
        #endif
        }
    }
}

/// A message type with a small payload, a text payload, a large payload and none.
enum TestMessage: Codable, Hashable, Sendable {
    case number(Int)
    case text(String)
    case weights([Float])
    case stop

    var number: Int? {
        if case .number(let n) = self { return n }
        return nil
    }
}

/// Everything the mailbox delivers until it ends. Tests close the endpoint (or shut down) before awaiting this, so a
/// lost message shows as a short result, never as a hang.
func drain<Message>(_ mailbox: Mailbox<Message>) async -> [Envelope<Message>] {
    var received: [Envelope<Message>] = []
    for await envelope in mailbox { received.append(envelope) }
    return received
}

/// The address of an array's storage, to tell a shared buffer from a copy.
func storageAddress(_ array: [Float]) -> UInt {
    array.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
}

/// The usage pattern of FedNoise's actors: register, loop over the mailbox, reply to the sender. Doubles numbers.
actor Doubler {
    let id: EndpointID
    let transport: any Transport<TestMessage>
    let mailbox: Mailbox<TestMessage>

    init(_ id: EndpointID, on transport: any Transport<TestMessage>) async throws {
        self.id = id
        self.transport = transport
        mailbox = try await transport.register(id)
    }

    /// Serves until the endpoint closes; returns how many requests it answered.
    func run() async throws -> Int {
        var answered = 0
        for await envelope in mailbox {
            guard let n = envelope.message.number else { continue }
            try await transport.send(.number(2 * n), from: id, to: envelope.from)
            answered += 1
        }
        return answered
    }
}

/// A hub on an ephemeral loopback port and one link to it, as one transport: endpoints are registered on the link,
/// so every send goes link → hub → link. Shutting it down shuts down both.
final class LoopbackSockets: Transport {
    let hub: SocketHub<TestMessage>
    let link: SocketLink<TestMessage>

    init(limits: SocketLimits = SocketLimits(), tls: (hub: TLSContext, link: TLSContext)? = nil) {
        // Loopback with an ephemeral port cannot fail on a working machine; a failure here is the test's failure.
        hub = try! SocketHub(listeningOn: SocketAddress(host: "127.0.0.1", port: 0), session: "contract",
                             tls: tls?.hub, limits: limits)
        link = try! SocketLink(connectingTo: hub.address, session: "contract", tls: tls?.link, limits: limits)
    }

    func register(_ endpoint: EndpointID) async throws -> Mailbox<TestMessage> { try await link.register(endpoint) }
    func send(_ message: TestMessage, from sender: EndpointID, to receiver: EndpointID) async throws {
        try await link.send(message, from: sender, to: receiver)
    }
    func forward(_ envelope: Envelope<TestMessage>) async throws { try await link.forward(envelope) }
    /// The hub's broadcast, as the parameter server's (hub → link; the other calls go link → hub → link).
    func broadcast(_ message: TestMessage, from sender: EndpointID,
                   to receivers: [EndpointID]) async throws -> [EndpointID] {
        try await hub.broadcast(message, from: sender, to: receivers)
    }
    func close(_ endpoint: EndpointID) async { await link.close(endpoint) }
    func shutdown() async {
        await link.shutdown()
        await hub.shutdown()
    }
}
