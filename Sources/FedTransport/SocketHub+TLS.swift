// SocketHub+TLS: the hub's TLS handshakes on admission, and the identity checks on what a link registers and sends.
import Foundation
import Synchronization

/// A hub's TLS context and the handshakes under way (bounded: a flood of stalled peers cannot pile up threads).
final class TLSAdmission: Sendable {
    let context: TLSContext
    let inFlight = Atomic<Int>(0)

    init(_ context: TLSContext) { self.context = context }
}

extension SocketHub {
    /// A new connection: plaintext ones are admitted at once; TLS ones after a handshake on a thread of their own,
    /// so one stalling peer never holds up the others. A failed or stalled handshake is logged and closed.
    func accepted(_ fd: Int32, peer: String) {
        guard let tls else { return admit(PlainStream(fd: fd), peer: peer, identity: nil) }
        let started = tls.inFlight.add(1, ordering: .relaxed).newValue
        guard started <= limits.maximumConnections else {
            tls.inFlight.subtract(1, ordering: .relaxed)
            log("refused a connection from \(peer): \(limits.maximumConnections) TLS handshakes are under way")
            POSIXSocket.close(fd)
            return
        }
        let thread = Thread { [weak self] in
            defer { tls.inFlight.subtract(1, ordering: .relaxed) }
            do {
                let stream = try TLSStream.handshake(fd, context: tls.context, peer: peer)
                guard let self else { return stream.close() }
                self.admit(stream, peer: "\(peer) (\(stream.peerIdentity))", identity: stream.peerIdentity)
            } catch {
                POSIXSocket.close(fd)
                self?.log("refused \(peer): \(error)")
            }
        }
        thread.name = "socket-hub handshake \(peer)"
        thread.start()
    }

    /// Why `connection` may not register `endpoint` (logged), or nil if its certificate allows it.
    func refusal(registering endpoint: EndpointID, by connection: SocketConnection) -> SocketReply? {
        guard let identity = connection.identity, !identity.allows(endpoint) else { return nil }
        let why = "the certificate of \(connection.peer) does not allow registering \(endpoint)"
        log("refused a register: \(why)")
        return .failed(why)
    }

    /// Why `connection` may not send as `from` (logged), or nil: over TLS, `from` must be an endpoint this
    /// connection registered; a certificate granting every endpoint (`*`) may also send from one open nowhere else.
    /// Plaintext links are not checked (they are not authenticated anyway).
    func refusal(sending from: EndpointID, by connection: SocketConnection) -> SocketReply? {
        guard let identity = connection.identity else { return nil }
        let me = ObjectIdentifier(connection)
        let allowed = state.withLock { s in
            if let owner = s.remote[from] { return owner == me }
            return identity.grantsEverything && !s.mailboxes.hosts(from)
        }
        if allowed { return nil }
        let why = "\(connection.peer) may not send as \(from): it did not register that endpoint"
        log("refused a message: \(why)")
        return .failed(why)
    }
}
