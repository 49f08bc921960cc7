// FaultInjectingTransport: a test wrapper that records every envelope and drops, duplicates, delays or reorders some.
import FedTransport
import Synchronization

/// Wraps any ``Transport`` to record traffic and inject faults, deterministically, for tests.
///
/// Every envelope sent through it is stamped here (per-sender sequence numbers, as ``Transport/send(_:from:to:)``
/// promises), appended to ``log``, and given to the first rule whose predicate matches and whose limit is not used up.
/// Without a matching rule it is forwarded to the wrapped transport unchanged. Nothing depends on time: held
/// envelopes wait for ``releaseHeld(where:)`` or a trigger envelope, and reorderings come from a generator seeded
/// at `init`, so one seed and one sequence of sends give the same deliveries every run.
///
/// ```swift
/// let net = FaultInjectingTransport(wrapping: InProcessTransport<Msg>(), seed: 7)
/// net.inject(.drop, limit: 1) { $0.from == .client(2) && $0.to == .parameterServer }
/// net.inject(.delay) { $0.to == .client(0) }
/// // … run the actors …
/// try await net.releaseHeld()
/// #expect(net.log.filter { $0.fault == .dropped }.count == 1)
/// ```
///
/// With no rules it honours the whole ``Transport`` contract. Faults break it on purpose (a dropped message is lost
/// silently; duplicates repeat a sequence number; delays and reorders break FIFO). Predicates run under the
/// wrapper's lock: keep them pure and never call back into the transport from one. The log keeps every envelope,
/// and so its payload, alive until the wrapper goes away.
public final class FaultInjectingTransport<Message: Codable & Sendable>: Transport {
    private let inner: any Transport<Message>
    private let state: Mutex<FaultInjector<Message>>

    /// Wraps `inner`; `seed` fixes every reorder permutation.
    public init(wrapping inner: some Transport<Message>, seed: UInt64 = 0) {
        self.inner = inner
        state = Mutex(FaultInjector(seed: seed))
    }

    // MARK: Rules

    /// Adds a rule applying `action` to envelopes matching `predicate` (all envelopes by default), at most `limit`
    /// times (unlimited when `nil`). Rules are tried in the order added; the first match with budget left wins, and
    /// an envelope gets at most one fault.
    /// - Precondition: `limit` is `nil` or `>= 0`; a reorder's `batchSize` is `>= 1`.
    @discardableResult
    public func inject(
        _ action: FaultAction<Message>, limit: Int? = nil,
        where predicate: @escaping @Sendable (Envelope<Message>) -> Bool = { _ in true }
    ) -> FaultRuleID {
        state.withLock { $0.addRule(action, limit: limit, where: predicate) }
    }

    /// Removes one rule; envelopes it already holds stay held.
    public func removeRule(_ id: FaultRuleID) { state.withLock { $0.removeRule(id) } }

    /// Removes every rule; held envelopes stay held.
    public func removeAllRules() { state.withLock { $0.removeAllRules() } }

    // MARK: Inspection

    /// Every envelope sent or forwarded through this wrapper, in the order it arrived, with its fault.
    public var log: [FaultLogEntry<Message>] { state.withLock { $0.log } }

    /// Every envelope handed to the wrapped transport, in delivery order (a duplicate appears twice).
    public var forwarded: [Envelope<Message>] { state.withLock { $0.forwarded } }

    /// The envelopes held now by delay and reorder rules.
    public var held: [Envelope<Message>] { state.withLock { $0.held } }

    /// Delivers the held envelopes matching `predicate` (all by default): delayed ones in the order they were held,
    /// then partial reorder batches in a seeded permutation.
    /// - Returns: the number of envelopes released.
    /// - Throws: the wrapped transport's error for the first envelope it refuses (say, its receiver has closed);
    ///   that envelope and those after it are not delivered.
    @discardableResult
    public func releaseHeld(
        where predicate: @Sendable (Envelope<Message>) -> Bool = { _ in true }
    ) async throws -> Int {
        let released = state.withLock { $0.takeHeld(where: predicate) }
        try await deliver(released)
        return released.count
    }

    // MARK: Transport

    public func register(_ endpoint: EndpointID) async throws -> Mailbox<Message> {
        try await inner.register(endpoint)
    }

    /// Stamps, logs and applies the rules. Throws if an envelope due now is refused by the wrapped transport;
    /// that includes delayed envelopes this one triggers.
    public func send(_ message: Message, from sender: EndpointID, to receiver: EndpointID) async throws {
        let due = state.withLock { $0.admit($0.stamp(message, from: sender, to: receiver)) }
        try await deliver(due)
    }

    /// Logs and applies the rules to an already stamped envelope.
    public func forward(_ envelope: Envelope<Message>) async throws {
        let due = state.withLock { $0.admit(envelope) }
        try await deliver(due)
    }

    public func close(_ endpoint: EndpointID) async { await inner.close(endpoint) }

    /// Shuts the wrapped transport down; held envelopes stay in ``held`` (releasing them then throws).
    public func shutdown() async { await inner.shutdown() }

    private func deliver(_ envelopes: [Envelope<Message>]) async throws {
        for envelope in envelopes {
            try await inner.forward(envelope)
            state.withLock { $0.recordForwarded(envelope) }
        }
    }
}
