// RunSNRFile: snr.csv of `fednoise run` with noise infusion: the SNR at every active site, per evaluated round.
import FedData
import FedNN
import FedRuntime
import Foundation
import Synchronization

/// One row per evaluated round: σ, the clean tensor's RMS and the four SNR forms at every active noise site
/// (`NoiseSiteSNR`), measured on that round's global model and the first 256 training samples. A separate file
/// because rounds.csv's columns are fixed (a resumed run checks its header). A resumed run keeps the rows of the
/// rounds its checkpoint holds.
final class RunSNRFile: Sendable {
    let url: URL
    let noise: NoiseInfusion
    let base: Network
    let data: DatasetSamples
    let indices: [Int]
    private let text = Mutex<String>("")

    /// nil without noise infusion.
    init?(_ config: FederationConfiguration, train: DatasetSamples, resumeAfter: Int?) throws {
        guard let noise = config.noiseInfusion else { return nil }
        self.noise = noise
        base = try config.model.network(inputShape: train.sampleShape, classes: train.classCount)
        data = train
        indices = Array(0..<min(256, train.sampleCount))
        url = URL(fileURLWithPath: config.output).appendingPathComponent("snr.csv")
        var kept = "round" + NoiseSiteSNR.header(NoiseSiteSNR.sites(noise, base: base).map(\.label)) + "\n"
        if let after = resumeAfter, let old = try? String(contentsOf: url, encoding: .utf8) {
            for line in old.split(separator: "\n").dropFirst() {
                if let r = Int(line.prefix { $0 != "," }), r <= after { kept += line + "\n" }
            }
        }
        text.withLock { $0 = kept }
        try kept.write(to: url, atomically: true, encoding: .utf8)
    }

    /// Measures round `round`'s global model and rewrites the file.
    func append(round: Int, weights: [Float]) throws {
        let measured = NoiseSiteSNR.measure(noise, base: base, parameters: weights, data: data, indices: indices,
                                            time: round)
        let all = text.withLock { t in
            t += "\(round)" + NoiseSiteSNR.row(measured) + "\n"
            return t
        }
        try all.write(to: url, atomically: true, encoding: .utf8)
    }
}
