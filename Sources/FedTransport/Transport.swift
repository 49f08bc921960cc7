// Transport: the protocol every message transport implements, and its errors.

/// Moves `Codable` messages between named endpoints. Actors hold a transport, never each other.
///
/// An endpoint calls ``register(_:)`` once and consumes the returned ``Mailbox``; anyone may ``send(_:from:to:)``
/// to a registered endpoint. The transport knows nothing about the messages it carries.
///
/// **Guarantees every implementation gives** (the contract tests in `FedTransportTests` check them):
/// - *FIFO per pair:* if a send from A to B returns before another send from A to B starts, B receives the first
///   one first. Sends that race (started from different tasks without ordering between them) arrive in some order.
/// - *No silent loss:* once `send` returns without throwing, the envelope is in the receiver's mailbox (or, for a
///   remote transport, accepted for delivery); a message that cannot be delivered makes `send` throw.
/// - *No duplication:* each successful send is delivered once.
/// - *Termination:* ``close(_:)`` and ``shutdown()`` end the affected mailboxes' loops once their buffered envelopes
///   have been consumed.
///
/// Messages are `Codable` even when an implementation never serialises them (``InProcessTransport`` passes values
/// as they are): a socket transport must be able to carry the same types. Check with ``roundTrip(_:)``.
///
/// ```swift
/// actor Echo {
///     let id: EndpointID
///     let transport: any Transport<String>
///     let mailbox: Mailbox<String>
///     init(_ id: EndpointID, on transport: any Transport<String>) async throws {
///         self.id = id
///         self.transport = transport
///         mailbox = try await transport.register(id)
///     }
///     func run() async throws {   // returns when the endpoint is closed or the transport shuts down
///         for await envelope in mailbox {
///             try await transport.send("echo: " + envelope.message, from: id, to: envelope.from)
///         }
///     }
/// }
/// ```
public protocol Transport<Message>: Sendable {
    /// The message type carried; a socket transport will encode it, so it must be `Codable`.
    associatedtype Message: Codable & Sendable

    /// Creates `endpoint` and returns its mailbox. An endpoint closed earlier may register again (with a new mailbox).
    /// - Throws: ``TransportError/alreadyRegistered(_:)`` if it is open already; ``TransportError/shutDown``.
    func register(_ endpoint: EndpointID) async throws -> Mailbox<Message>

    /// Sends `message` from `sender` to `receiver`, stamping the sender's next sequence number. `sender` is the
    /// address replies go to; it need not be registered on this transport.
    /// - Throws: ``TransportError/unknownEndpoint(_:)`` if `receiver` was never registered;
    ///   ``TransportError/endpointClosed(_:)`` if it was closed or its consumer has gone; ``TransportError/shutDown``.
    func send(_ message: Message, from sender: EndpointID, to receiver: EndpointID) async throws

    /// Sends `message` from `sender` to each of `receivers`, as one ``send(_:from:to:)`` per receiver in that order
    /// would (each stamped with the sender's next sequence number), except that a receiver that is closed is
    /// returned instead of thrown for. A transport that serialises messages may encode `message` once for all
    /// receivers and send to several at once (``SocketHub`` does); the default is that loop of sends.
    /// - Returns: the receivers that were closed (``TransportError/endpointClosed(_:)``), in the order given.
    /// - Throws: the first other error, in receiver order (the receivers after it may or may not have the message).
    func broadcast(_ message: Message, from sender: EndpointID, to receivers: [EndpointID]) async throws -> [EndpointID]

    /// Delivers an envelope that already carries its sequence number, unchanged, to `envelope.to`. For wrappers and
    /// relays (``FaultInjectingTransport``, a socket transport's receiving side); endpoints use ``send(_:from:to:)``.
    /// - Throws: as ``send(_:from:to:)``.
    func forward(_ envelope: Envelope<Message>) async throws

    /// Closes `endpoint`: its mailbox ends after the envelopes already in it; later sends to it throw
    /// ``TransportError/endpointClosed(_:)``. Closing an unknown or closed endpoint does nothing.
    func close(_ endpoint: EndpointID) async

    /// Closes every endpoint and refuses all later registrations and sends (``TransportError/shutDown``).
    /// Idempotent.
    func shutdown() async
}

extension Transport {
    /// One ``send(_:from:to:)`` per receiver, in order; closed receivers are collected, any other error is thrown
    /// at once (the later receivers are not sent to).
    public func broadcast(_ message: Message, from sender: EndpointID,
                          to receivers: [EndpointID]) async throws -> [EndpointID] {
        var closed: [EndpointID] = []
        for receiver in receivers {
            do {
                try await send(message, from: sender, to: receiver)
            } catch TransportError.endpointClosed {
                closed.append(receiver)
            }
        }
        return closed
    }
}

/// Why a ``Transport`` refused a registration or a send.
public enum TransportError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No endpoint of that name was ever registered.
    case unknownEndpoint(EndpointID)
    /// The endpoint was closed, or its consumer stopped (its task was cancelled).
    case endpointClosed(EndpointID)
    /// ``Transport/register(_:)`` was called for an endpoint that is already open.
    case alreadyRegistered(EndpointID)
    /// The transport has been shut down.
    case shutDown

    public var description: String {
        switch self {
        case .unknownEndpoint(let id): "unknown endpoint \"\(id)\": nothing is registered under that name"
        case .endpointClosed(let id): "endpoint \"\(id)\" is closed"
        case .alreadyRegistered(let id): "endpoint \"\(id)\" is already registered"
        case .shutDown: "the transport has been shut down"
        }
    }
}
