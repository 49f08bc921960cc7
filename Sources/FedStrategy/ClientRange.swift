// ClientRange: a per-client override for the clients `from…to`; the last range covering a client wins.

/// A setting that applies to the clients `from…to` (inclusive): per-client budgets (ε_k, δ_k) and NISS's τ_k².
public protocol ClientRange {
    var from: Int { get }
    var to: Int { get }
}

extension ClientRange {
    /// Whether the range is well formed for a federation of `clientCount` clients: 0 ≤ from ≤ to < clientCount.
    public func isValid(clientCount: Int) -> Bool { from >= 0 && from <= to && to < clientCount }
}

extension Array where Element: ClientRange {
    /// The override for `client`: the last range that covers it, or nil.
    public func covering(_ client: Int) -> Element? { last { $0.from <= client && client <= $0.to } }
}
