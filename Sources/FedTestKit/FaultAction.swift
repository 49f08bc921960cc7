// FaultAction: what a FaultInjectingTransport rule does to the envelopes it matches, and how the log records it.
import FedTransport

/// What a ``FaultInjectingTransport`` rule does to each envelope it matches.
public enum FaultAction<Message: Sendable>: Sendable {
    /// Discards the envelope: the receiver never sees it, the sender is not told.
    case drop
    /// Delivers the envelope twice, with the same sequence number both times.
    case duplicate
    /// Holds the envelope until the test calls ``FaultInjectingTransport/releaseHeld(where:)``.
    case delay
    /// Holds the envelope until a later envelope matching `trigger` passes through the transport (whatever that
    /// envelope's own fate), then delivers it right after that envelope;
    /// ``FaultInjectingTransport/releaseHeld(where:)`` releases it too.
    case delayUntil(_ trigger: @Sendable (Envelope<Message>) -> Bool)
    /// Holds matched envelopes until `batchSize` of them have gathered, then delivers the batch in an order drawn
    /// from the transport's seeded generator. A partial batch waits for
    /// ``FaultInjectingTransport/releaseHeld(where:)``.
    case reorder(batchSize: Int)
}

/// How a ``FaultInjectingTransport`` treated one envelope, as recorded in its ``FaultInjectingTransport/log``.
public enum InjectedFault: Hashable, Sendable {
    /// ``FaultAction/drop``: never delivered.
    case dropped
    /// ``FaultAction/duplicate``: delivered twice.
    case duplicated
    /// ``FaultAction/delay`` or ``FaultAction/delayUntil(_:)``: held, delivered on release.
    case delayed
    /// ``FaultAction/reorder(batchSize:)``: held in a batch, delivered in a shuffled order.
    case reordered
}

/// Identifies a rule added with ``FaultInjectingTransport/inject(_:limit:where:)``, to remove it later.
public struct FaultRuleID: Hashable, Sendable {
    let value: Int
}

/// One envelope as it entered a ``FaultInjectingTransport``, and what was done to it.
public struct FaultLogEntry<Message: Sendable>: Sendable {
    /// The envelope as sent, with the sequence number the wrapper stamped.
    public let envelope: Envelope<Message>
    /// The fault applied, or `nil` if the envelope passed straight through.
    public let fault: InjectedFault?
    /// The rule that applied the fault.
    public let rule: FaultRuleID?
}
