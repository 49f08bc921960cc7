// ParameterServer: the PS actor: a thin shell that carries out `ServerMachine`'s actions over the transport.
import FedNN
import FedTensor
import FedTransport

/// The parameter server. Every decision is `ServerMachine`'s; this actor only receives messages, reads the clock,
/// runs deadline timers, evaluates the model and sends what the machine says.
actor ParameterServer {
    private var machine: ServerMachine
    private let network: Network
    private let test: any SampleSource
    private let transport: any Transport<FederationMessage>
    private let mailbox: Mailbox<FederationMessage>
    private let clock: any FederationClock
    /// In-process flow control: each upload the PS takes in returns a credit to the clients (see `UploadCredits`).
    private let credits: UploadCredits?
    private let emit: @Sendable (FederationEvent) -> Void
    /// What the shell does with the run's control: stop requests, and where checkpoints go.
    private let control: ServerControl
    private var timers = DeadlineTimers()
    /// Sends of round starts under way: the PS folds uploads meanwhile, so early clients' uploads never wait.
    /// Each attempt's broadcast, answering which participants it could not reach.
    private var broadcasts: [Task<(round: Int, attempt: Int, unreachable: [Int]), any Error>] = []

    init(machine: ServerMachine, network: Network, test: any SampleSource, transport: any Transport<FederationMessage>,
         mailbox: Mailbox<FederationMessage>, clock: any FederationClock, credits: UploadCredits? = nil,
         control: ServerControl = ServerControl(), emit: @escaping @Sendable (FederationEvent) -> Void) {
        self.control = control
        self.machine = machine
        self.network = network
        self.test = test
        self.transport = transport
        self.mailbox = mailbox
        self.clock = clock
        self.credits = credits
        self.emit = emit
    }

    var globalWeights: [Float] { machine.weights }

    /// The weights of the last evaluation and every test example's loss under them (`evaluateWithLosses`).
    private var lastEvaluation: (weights: [Float], losses: [Double])?

    /// Every test example's cross-entropy under the final global model, when the last evaluation was of it (nil
    /// otherwise): what the evaluation computed anyway, for a caller that attacks or analyses the final model.
    var finalTestLosses: [Double]? {
        guard let last = lastEvaluation, last.weights == machine.weights else { return nil }
        return last.losses
    }

    /// Runs every round, then tells everyone to stop. Returns the run's summary.
    func run() async throws -> FederationSummary {
        defer { timers.cancelAll(); for b in broadcasts { b.cancel() } }
        let evaluation = Workspace(network: network, capacity: network.parameterCount > 1_000_000 ? 100 : 500)
        var iterator = mailbox.makeAsyncIterator()
        var queue = try machine.handle(.start, now: clock.now)
        while true {
            while !queue.isEmpty {
                switch queue.removeFirst() {
                case .requestLiveClients(let round):
                    if control.stop?.stops(before: round) == true {  // between rounds: the completed ones are kept
                        queue = try machine.handle(.stop, now: clock.now)
                        continue
                    }
                    for b in broadcasts { _ = try await b.value }  // a round never overtakes the last one's broadcast
                    broadcasts = []
                    try await transport.send(.liveClientsRequest(round: round), from: .parameterServer, to: .tracker)
                case .broadcast(let start, let clients):
                    broadcasts.append(Task { [transport] in
                        // Encoded once for every client by transports that serialise (SocketHub).
                        let closed = Set(try await transport.broadcast(.roundStart(start), from: .parameterServer,
                                                                       to: clients.map { .client($0) }))
                        // A closed client's process died: the deadline leaves it out.
                        return (start.round, start.attempt, clients.filter { closed.contains(.client($0)) })
                    })
                case .startDeadline(let round, let attempt, let seconds):
                    timers.start(round: round, attempt: attempt, seconds: seconds, clock: clock, transport: transport)
                case .cancelDeadline(let round, let attempt):
                    timers.cancel(round: round, attempt: attempt)
                case .evaluate(let round, let weights):
                    let (e, losses) = evaluateWithLosses(network, parameters: weights, on: test,
                                                         workspace: evaluation)
                    lastEvaluation = (weights, losses)
                    try control.evaluated?(round, weights)
                    queue += try machine.handle(.evaluated(round: round, e), now: clock.now)
                case .emit(let event):
                    if case .roundCompleted(let report) = event { try control.completed?(report) }
                    emit(event)
                case .recordReleases:
                    await credits?.reset()  // the attempt is closed: credits of uploads that never came are void
                case .ignored:
                    continue
                case .checkpoint(let snapshot):
                    try control.save?(snapshot)
                case .finish(let summary):
                    for b in broadcasts { _ = try await b.value }
                    try await transport.send(.stop, from: .parameterServer, to: .tracker)
                    for client in 0..<machine.settings.clientCount {
                        do {
                            try await transport.send(.stop, from: .parameterServer, to: .client(client))
                        } catch TransportError.endpointClosed {
                            continue  // a client that has already gone (another process) needs no stop
                        }
                    }
                    return summary
                }
            }
            guard let envelope = await iterator.next() else { throw FederationError.mailboxClosed }
            switch envelope.message {
            case .liveClients(let round, let clients):
                queue = try machine.handle(.liveClients(round: round, clients: clients), now: clock.now)
            case .upload(let upload, let diagnostics):
                queue = try machine.handle(.upload(upload, diagnostics: diagnostics), now: clock.now)
                await credits?.release()
            case .deadline(let round, let attempt):
                var unreachable: [Int] = []
                for b in broadcasts {
                    if let sent = try? await b.value, sent.round == round && sent.attempt == attempt {
                        unreachable += sent.unreachable
                    }
                }
                queue = unreachable.isEmpty ? [] : try machine.handle(
                    .unreachable(round: round, attempt: attempt, clients: unreachable), now: clock.now)
                queue += try machine.handle(.deadline(round: round, attempt: attempt), now: clock.now)
            default:
                continue
            }
        }
    }
}
