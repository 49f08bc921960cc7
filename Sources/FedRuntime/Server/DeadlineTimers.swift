// DeadlineTimers: the PS's deadline timers on the injected clock; each sends `.deadline` to the PS unless cancelled.
import FedTransport

/// One timer per open round attempt: after `seconds` on the clock it sends `.deadline(round, attempt)` to the
/// parameter server's own mailbox, where `ServerMachine` decides what it means (a stale one is ignored).
struct DeadlineTimers {
    private var tasks: [[Int]: Task<Void, Never>] = [:]

    mutating func start(round: Int, attempt: Int, seconds: Double, clock: any FederationClock,
                        transport: any Transport<FederationMessage>) {
        tasks[[round, attempt]] = Task {
            guard (try? await clock.sleep(seconds: seconds)) != nil, !Task.isCancelled else { return }
            try? await transport.send(.deadline(round: round, attempt: attempt), from: .parameterServer,
                                      to: .parameterServer)
        }
    }

    mutating func cancel(round: Int, attempt: Int) { tasks.removeValue(forKey: [round, attempt])?.cancel() }

    func cancelAll() { for task in tasks.values { task.cancel() } }
}
