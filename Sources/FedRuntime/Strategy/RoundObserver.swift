// RoundObserver: a strategy's per-attempt view of the uploads, to add its own figures to the round report.

/// What the server tells a strategy's observer about a round attempt.
public struct RoundObserverContext: Sendable {
    public var round: Int
    public var attempt: Int
    public var participants: [Int]
    public var samples: [Int]
    public var parameters: RoundParameters
    /// h: the model's parameter count.
    public var length: Int
    /// Whether uploads carry simulation diagnostics.
    public var diagnostics: Bool
}

/// Sees every accepted upload of one attempt as it arrives, then annotates the round's report.
public protocol RoundObserver: Sendable {
    /// An upload was accepted (its payload already folded into the sum); `diagnostics` only in simulation.
    mutating func observe(_ upload: ClientUpload, diagnostics: UploadDiagnostics?)
    /// Adds the strategy's figures to `report`, given the accepted uploads in client order (payloads emptied) and
    /// the clients left out.
    func annotate(_ report: inout RoundReport, uploads: [ClientUpload], dropped: [Int])
}
