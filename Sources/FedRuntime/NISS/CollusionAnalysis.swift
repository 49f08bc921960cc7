// CollusionAnalysis: what noise a PS that colludes with some clients can still not remove from each honest upload.
import FedPrivacy
import FedTensor

/// One honest client's upload under collusion (NISS Theorem 3).
public struct CollusionFinding: Codable, Sendable, Equatable {
    public var client: Int
    /// σ_k²: what DP needs the upload's unremovable noise to be at least.
    public var clientVariance: Double
    /// v_k·σ²: the variance of the noise the client split into shares (≥ σ_k², equal when σ_k²/σ² is whole).
    public var shareVariance: Double
    /// Mean over coordinates of the noise left once the colluders' revealed shares are subtracted (and the shares
    /// colluders sent it are subtracted with the PS's best guess s = 1).
    public var residualVariance: Double
    /// Its expectation given the round's share graph: σ²·[own shares to honest clients + Σ over shares from honest
    /// clients (1 + τ_k²) + shares from colluders · τ_k²].
    public var expectedVariance: Double
    /// ρ_k: the fraction of the client's share partners (sent and received) that collude.
    public var colludingFraction: Double
    /// Theorem 3's factor 2 − 2ρ_k + τ_k²: residual / (v_k·σ²) in expectation.
    public var theoremFactor: Double
}

/// Gathers one round attempt's uploads and reveals, then computes each honest client's finding.
struct CollusionAnalysis {
    let colluders: Set<Int>
    let unitStd: Float
    let length: Int
    private var honest: [Int: (noise: [Float], report: NISSUploadReport, variance: Double)] = [:]
    private var reveals: [Int: CollusionReveal] = [:]
    /// Without colluders nothing is ever subtracted: findings are made on arrival and no noise is kept.
    private var done: [CollusionFinding] = []

    init(colluders: Set<Int>, unitVariance: Double, length: Int) {
        self.colluders = colluders
        self.unitStd = Float(unitVariance.squareRoot())
        self.length = length
    }

    mutating func add(_ upload: ClientUpload, diagnostics: UploadDiagnostics?) {
        guard let report = upload.niss else { return }
        if colluders.contains(upload.client) {
            if let reveal = diagnostics?.reveal { reveals[upload.client] = reveal }
        } else if let noise = diagnostics?.noise {
            let entry = (noise, report, upload.noiseStd * upload.noiseStd)
            if colluders.isEmpty {
                done.append(Self.finding(upload.client, entry, residual: noise, colluders: [], unitStd: unitStd))
            } else {
                honest[upload.client] = entry
            }
        }
    }

    /// Findings for honest clients, ascending.
    func findings() -> [CollusionFinding] {
        let computed = honest.keys.sorted().map { k in
            var residual = honest[k]!.noise
            residual.withUnsafeMutableBufferPointer { res in
                var scratch = [Float](repeating: 0, count: length)
                scratch.withUnsafeMutableBufferPointer { s in
                    func subtract(_ payload: SharePayload, asNegatedShare: Bool) {
                        // The payload is r = −n. `asNegatedShare`: remove r from the residual; else remove n = −r.
                        payload.accumulate(asNegatedShare ? -1 : 1, into: res, scratch: s, unitStd: unitStd)
                    }
                    // In colluder order, so the rounding of the residual never depends on arrival order.
                    for reveal in reveals.keys.sorted().map({ reveals[$0]! }) {
                        // Shares a colluder sent to k: k added s·r; the PS removes r (its best guess, s = 1).
                        for share in reveal.created where share.to == k { subtract(share.payload, asNegatedShare: true) }
                        // Shares k sent to a colluder: k added n; the colluder saw r = −n.
                        for share in reveal.received where share.id.from == k {
                            subtract(share.payload, asNegatedShare: false)
                        }
                    }
                }
            }
            return Self.finding(k, honest[k]!, residual: residual, colluders: colluders, unitStd: unitStd)
        }
        return (done + computed).sorted { $0.client < $1.client }
    }

    private static func finding(_ k: Int, _ entry: (noise: [Float], report: NISSUploadReport, variance: Double),
                                residual: [Float], colluders: Set<Int>, unitStd: Float) -> CollusionFinding {
        let report = entry.report
        let sigma2 = Double(unitStd) * Double(unitStd)
        let realised = residual.withUnsafeBufferPointer { sumOfSquares($0.baseAddress!, count: $0.count) }
            / Double(residual.count)
        let tau2 = report.tau2
        let ownToHonest = report.targets.filter { !colluders.contains($0) }.count
        let fromHonest = report.incoming.filter { !colluders.contains($0.from) }.count
        let fromColluders = report.incoming.count - fromHonest
        let expected = sigma2 * (Double(ownToHonest) + Double(fromHonest) * (1 + tau2)
                                 + Double(fromColluders) * tau2)
        let partners = report.targets.count + report.incoming.count
        let rho = Double(report.targets.count - ownToHonest + fromColluders) / Double(max(partners, 1))
        return CollusionFinding(client: k, clientVariance: entry.variance,
                                shareVariance: sigma2 * Double(report.targets.count), residualVariance: realised,
                                expectedVariance: expected, colludingFraction: rho,
                                theoremFactor: NISSShares.collusionResidualFactor(rho: rho, tau2: tau2))
    }
}
