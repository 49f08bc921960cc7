// FaultInjector: the pure state of fault injection: rules, seeded generator, log, held envelopes.
import FedTransport

/// Decides each envelope's fate; ``FaultInjectingTransport`` keeps one behind its lock and performs the deliveries
/// it returns. No I/O, no `async`: every decision is a function of the rules, the seed and the envelopes seen.
struct FaultInjector<Message: Sendable> {
    typealias Predicate = @Sendable (Envelope<Message>) -> Bool

    private struct Rule {
        let id: FaultRuleID
        let action: FaultAction<Message>
        let matches: Predicate
        var remaining: Int?
    }

    private var rules: [Rule] = []
    private var nextRuleID = 0
    private var generator: SplitMix64
    private var nextSequence: [EndpointID: UInt64] = [:]
    private var delayed: [(envelope: Envelope<Message>, trigger: Predicate?)] = []
    /// Pending reorder batches, one per rule, oldest first.
    private var batches: [(rule: FaultRuleID, envelopes: [Envelope<Message>])] = []
    private(set) var log: [FaultLogEntry<Message>] = []
    private(set) var forwarded: [Envelope<Message>] = []

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    mutating func addRule(
        _ action: FaultAction<Message>, limit: Int?, where matches: @escaping Predicate
    ) -> FaultRuleID {
        if case .reorder(let size) = action { precondition(size >= 1, "reorder batchSize must be at least 1") }
        precondition((limit ?? 0) >= 0, "a rule's limit must be non-negative")
        let id = FaultRuleID(value: nextRuleID)
        nextRuleID += 1
        rules.append(Rule(id: id, action: action, matches: matches, remaining: limit))
        return id
    }

    mutating func removeRule(_ id: FaultRuleID) { rules.removeAll { $0.id == id } }

    mutating func removeAllRules() { rules.removeAll() }

    /// Stamps the sender's next sequence number on a new envelope.
    mutating func stamp(_ message: Message, from sender: EndpointID, to receiver: EndpointID) -> Envelope<Message> {
        let sequence = nextSequence[sender, default: 0]
        nextSequence[sender] = sequence + 1
        return Envelope(from: sender, to: receiver, sequence: sequence, message: message)
    }

    /// Logs `envelope`, applies the first matching rule that has budget left, and returns what to deliver now, in
    /// order: the envelope itself (zero, one or two times, or a completed reorder batch), then any delayed envelopes
    /// that it triggers.
    mutating func admit(_ envelope: Envelope<Message>) -> [Envelope<Message>] {
        let triggered = takeTriggered(by: envelope)
        guard let r = rules.firstIndex(where: { $0.remaining != 0 && $0.matches(envelope) }) else {
            log.append(FaultLogEntry(envelope: envelope, fault: nil, rule: nil))
            return [envelope] + triggered
        }
        if let remaining = rules[r].remaining { rules[r].remaining = remaining - 1 }
        let rule = rules[r]
        var now: [Envelope<Message>] = []
        let fault: InjectedFault
        switch rule.action {
        case .drop:
            fault = .dropped
        case .duplicate:
            fault = .duplicated
            now = [envelope, envelope]
        case .delay:
            fault = .delayed
            delayed.append((envelope, nil))
        case .delayUntil(let trigger):
            fault = .delayed
            delayed.append((envelope, trigger))
        case .reorder(let size):
            fault = .reordered
            let b = batches.firstIndex { $0.rule == rule.id } ?? {
                batches.append((rule.id, []))
                return batches.count - 1
            }()
            batches[b].envelopes.append(envelope)
            if batches[b].envelopes.count >= size {
                let batch = batches.remove(at: b).envelopes
                now = generator.permutation(of: batch.count).map { batch[$0] }
            }
        }
        log.append(FaultLogEntry(envelope: envelope, fault: fault, rule: rule.id))
        return now + triggered
    }

    /// Removes and returns the held envelopes matching `predicate`: delayed ones in the order they were held, then
    /// each pending reorder batch's matching members in a freshly drawn permutation of that batch.
    mutating func takeHeld(where predicate: (Envelope<Message>) -> Bool) -> [Envelope<Message>] {
        var released = delayed.filter { predicate($0.envelope) }.map(\.envelope)
        delayed.removeAll { predicate($0.envelope) }
        for b in batches.indices where batches[b].envelopes.contains(where: predicate) {
            let batch = batches[b].envelopes
            let shuffled = generator.permutation(of: batch.count).map { batch[$0] }
            released += shuffled.filter(predicate)
            batches[b].envelopes = batch.filter { !predicate($0) }
        }
        batches.removeAll { $0.envelopes.isEmpty }
        return released
    }

    /// Every envelope held now: delayed ones in hold order, then pending reorder batches in arrival order.
    var held: [Envelope<Message>] { delayed.map(\.envelope) + batches.flatMap(\.envelopes) }

    mutating func recordForwarded(_ envelope: Envelope<Message>) { forwarded.append(envelope) }

    private mutating func takeTriggered(by envelope: Envelope<Message>) -> [Envelope<Message>] {
        let fired = delayed.indices.filter { delayed[$0].trigger?(envelope) ?? false }
        guard !fired.isEmpty else { return [] }
        let released = fired.map { delayed[$0].envelope }
        for i in fired.reversed() { delayed.remove(at: i) }
        return released
    }
}
