// SocketLink+Reconnect: a link whose connection drops connects again, with bounded backoff, and re-registers.
import Foundation

/// How a ``SocketLink`` retries after its connection to the hub drops (not after the hub shuts the run down or
/// refuses the link): up to `attempts` connections, the first after `initialDelay` seconds, each wait doubling up to
/// `maximumDelay`. Requests made while it reconnects fail at once with ``SocketTransportError/connectionLost(_:)``
/// (their messages are lost, as a dead client's are: a server deadline copes); mailboxes stay open.
public struct SocketReconnect: Sendable {
    /// Connections tried before giving up (0: give up at once, ending every mailbox).
    public var attempts: Int
    /// Seconds before the first attempt.
    public var initialDelay: Double
    /// The longest wait between attempts.
    public var maximumDelay: Double

    public init(attempts: Int = 5, initialDelay: Double = 0.2, maximumDelay: Double = 5) {
        precondition(attempts >= 0 && initialDelay >= 0 && maximumDelay >= initialDelay)
        self.attempts = attempts
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// Never reconnect.
    public static let never = SocketReconnect(attempts: 0)
}

extension SocketLink {
    /// Connects again (as ``reconnect`` says) and registers every endpoint still open here; gives up with a reason
    /// naming the drop and the last failure.
    func reconnectLoop(after drop: String) async {
        var delay = reconnect.initialDelay
        var last = "no attempt was made"
        for attempt in 1...reconnect.attempts {
            try? await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, reconnect.maximumDelay)
            if state.withLock({ $0.isShutDown || $0.lost != nil }) { break }
            let connection: SocketConnection
            do {
                connection = try Self.connect(hub, tls: tls, limits: limits)
                state.withLock { s in
                    s.connection = connection
                    s.reconnecting = nil
                }
                try start(connection)
                try await registerAgain()
                let up = state.withLock { s in
                    guard s.reconnecting == nil else { return false }  // it dropped again meanwhile
                    s.reconnections += 1
                    s.inReconnectLoop = false
                    return true
                }
                guard up else { throw SocketTransportError.connectionLost("the new connection dropped too") }
                log("reconnected to \(hub) (attempt \(attempt) of \(reconnect.attempts))")
                return
            } catch {
                last = "\(error)"
                let current = state.withLock { s -> SocketConnection? in
                    if s.lost == nil && s.reconnecting == nil { s.reconnecting = drop }
                    return s.connection
                }
                current?.close(abort: true)
                failPending("\(drop); reconnecting")
                log("reconnection \(attempt) of \(reconnect.attempts) to \(hub) failed: \(error)")
            }
        }
        state.withLock { $0.inReconnectLoop = false }
        end("the connection to \(hub) dropped (\(drop)) and \(reconnect.attempts) reconnection attempt(s) failed; "
            + "the last: \(last)")
    }

    /// Registers the endpoints open here on the new connection, in name order. The hub may not yet have noticed
    /// that the old connection is gone (it then still owns them): such a register is retried for up to 2 s.
    private func registerAgain() async throws {
        let endpoints = state.withLock { $0.mailboxes.open.keys.sorted() }
        for endpoint in endpoints {
            let deadline = ContinuousClock.now + .seconds(2)
            while true {
                do {
                    try await request { .register(request: $0, endpoint: endpoint) }
                    break
                } catch TransportError.alreadyRegistered(let id) where ContinuousClock.now < deadline {
                    _ = id
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
        }
    }
}
