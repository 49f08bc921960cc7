// NISSRoundObserver: the PS's NISS figures for a round: Theorem 2 over the realised share graph, bytes, collusion.
import FedPrivacy

/// Watches one NISS round attempt's uploads and writes `RoundReport.niss` and the expected aggregate noise.
struct NISSRoundObserver: RoundObserver {
    /// σ² of the attempt.
    let unitVariance: Double
    var collusion: CollusionAnalysis?
    /// σ²·Σ(s − 1)² per client (diagnostics).
    private var distortions: [Int: Double] = [:]

    init(unitVariance: Double, collusion: CollusionAnalysis?) {
        self.unitVariance = unitVariance
        self.collusion = collusion
    }

    mutating func observe(_ upload: ClientUpload, diagnostics: UploadDiagnostics?) {
        if let d = diagnostics?.distortion { distortions[upload.client] = d }
        collusion?.add(upload, diagnostics: diagnostics)
    }

    /// Theorem 2 over the realised share graph: σ²·Σ_l v_l·τ_l², plus the unmatched shares of clients that dropped
    /// after the exchange (σ² each, σ²·(1 + τ_l²) for shares they received), renormalised like the aggregate.
    func annotate(_ report: inout RoundReport, uploads: [ClientUpload], dropped: [Int]) {
        let sigma2 = unitVariance
        let gone = Set(dropped)
        let total = uploads.map(\.weight).reduce(0, +)
        let norm = total > 0 ? 1 / (total * total) : 0
        var theorem = 0.0
        var distortion: Double? = 0
        var bytes = 0, dense = 0, seeded = 0
        for r in uploads {
            guard let n = r.niss else { continue }
            for id in n.incoming { theorem += sigma2 * (gone.contains(id.from) ? 1 + n.tau2 : n.tau2) }
            theorem += sigma2 * Double(n.targets.filter { gone.contains($0) }.count)
            if let d = distortions[r.client], distortion != nil { distortion! += d } else { distortion = nil }
            bytes += n.shareBytes
            dense += n.denseBytes
            seeded += n.seededBytes
        }
        let niss = NISSRoundReport(
            unitNoiseVariance: sigma2, shares: uploads.map { $0.niss?.targets.count ?? 0 }, shareBytes: bytes,
            denseShareBytes: dense, seededShareBytes: seeded, theoremVariance: theorem * norm,
            distortionVariance: distortion.map { $0 * norm }, unmatched: dropped,
            collusion: collusion?.findings() ?? [])
        report.niss = niss
        report.expectedNoiseVariance = niss.theoremVariance
    }
}
