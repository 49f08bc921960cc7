// NoiseSiteSNR: the SNR at every active noise-infusion site of a model, for per-cell, per-round and per-epoch logs.
import FedNN
import FedTensor

/// One active site: σ of its noise at time t, the RMS of the clean tensor there, and the SNR (A.1 item 4).
struct SiteSNR: Sendable, Equatable, Codable {
    /// `m<k>_<site>` (`_L<layer>` for an activation position): the CSV column prefix.
    var label: String
    var sigma: Double
    var rms: Double
    var snr: SignalToNoise { SignalToNoise(signalRMS: rms, noiseStd: sigma) }
}

enum NoiseSiteSNR {
    /// The active sites of `noise` on `base`, in `resolved` order (activation mechanisms: one per noisy layer).
    static func sites(_ noise: NoiseInfusion, base: Network) -> [(label: String, mechanism: NoiseMechanism,
                                                                   level: Double, layer: Int?)] {
        var list: [(String, NoiseMechanism, Double, Int?)] = []
        for (k, m) in noise.resolved.enumerated() {
            if m.site == .activation {
                let layers = m.afterLayers ?? NoiseInfusion.hiddenActivations(base)
                for (p, layer) in layers.enumerated() {
                    let level = m.depthLevels.map { $0[min(p, $0.count - 1)] } ?? m.level
                    if level > 0 { list.append(("m\(k)_activation_L\(layer)", m, level, layer)) }
                }
            } else {
                list.append(("m\(k)_\(m.site.rawValue)", m, m.level, nil))
            }
        }
        return list
    }

    /// The CSV header columns (leading comma) for sites labelled `labels`: σ, the clean RMS and the four SNR
    /// forms each.
    static func header(_ labels: [String]) -> String {
        labels.map { label in
            ["sigma", "signal_rms", "snr_power", "snr_power_db", "snr_amplitude", "snr_amplitude_db"]
                .map { ",\(label)_\($0)" }.joined()
        }.joined()
    }

    /// The matching values (leading comma).
    static func row(_ measured: [SiteSNR]) -> String {
        measured.map { m in
            [m.sigma, m.rms, m.snr.power, m.snr.powerDB, m.snr.amplitude, m.snr.amplitudeDB].map { ",\($0)" }.joined()
        }.joined()
    }

    /// Every site measured on the model `parameters` at schedule time `time`, the clean tensor being: the inputs
    /// of `indices` (≤ 256 of them) for the input site; the activation after the site's layer for those inputs
    /// (evaluation mode, no noise); the model's weights for the parameter sites (per-layer RMS averaged in power,
    /// BatchNorm statistics excluded; the update site uses the model too, an approximation). σ is the scheduled
    /// level, times the RMS for relative levels and for the multiplicative laws (x·η has RMS σ·RMS(x)), so those
    /// give SNR = 1/λ² exactly. The gradient's RMS is not measured: relative gradient noise is in units of it (RMS
    /// 1), absolute gradient noise and salt-and-pepper (no std) get NaN rather than a figure against the wrong
    /// tensor.
    /// `limit` measures only the first sites (a study cell reports the first one; each activation site costs a
    /// forward pass). `cleanRMS` holds the clean RMS of sites (by label) the caller already has, exactly as
    /// `cleanRMS` computes it (e.g. read off an evaluation pass that runs anyway): those sites cost no pass.
    static func measure(_ noise: NoiseInfusion, base: Network, parameters: [Float], data: any SampleSource,
                        indices: [Int], time: Int, limit: Int = .max,
                        cleanRMS known: [String: Double] = [:]) -> [SiteSNR] {
        sites(noise, base: base).prefix(limit).map { label, m, level, layer in
            let scheduled = level * m.scheduleFactor(at: time)
            let relative = m.levelMode == .relative || m.distribution.isMultiplicative
            var rms: Double
            switch m.site {
            case .input, .activation:
                rms = known[label]
                    ?? cleanRMS(base: base, upTo: layer, parameters: parameters, data: data, indices: indices)
            case .gradient:
                rms = m.levelMode == .relative ? 1 : .nan
            case .clientModel, .clientUpdate, .globalModel:
                rms = parameterRMS(base: base, parameters: parameters)
            }
            if m.distribution == .saltAndPepper { return SiteSNR(label: label, sigma: .nan, rms: rms) }
            return SiteSNR(label: label, sigma: relative ? scheduled * rms : scheduled, rms: rms)
        }
    }

    /// The clean tensor of an input or activation site is measured on the first this many of `indices`.
    static let cleanSamples = 256

    /// RMS of the inputs (`upTo` nil) or of layer `upTo`'s output, in evaluation mode, over the first
    /// `cleanSamples` of `indices` (one forward pass of a prefix network on them as one batch).
    static func cleanRMS(base: Network, upTo: Int?, parameters: [Float], data: any SampleSource,
                         indices: [Int]) -> Double {
        let batch = min(indices.count, cleanSamples)
        guard batch > 0 else { return .nan }
        var labels = [Int32](repeating: 0, count: batch)
        guard let prefix = upTo.flatMap({ try? Network(inputShape: base.inputShape, layers: Array(base.layers[0...$0])) })
        else {
            // The input site: the gathered inputs themselves (no workspace: a whole network's buffers for nothing).
            var inputs = [Float](repeating: 0, count: batch * base.inputSize)
            indices.prefix(batch).withUnsafeBufferPointer { idx in
                labels.withUnsafeMutableBufferPointer { l in
                    inputs.withUnsafeMutableBufferPointer { data.gather(idx, inputs: $0.baseAddress!, labels: l.baseAddress!) }
                }
            }
            return inputs.withUnsafeBufferPointer { rootMeanSquare($0.baseAddress!, count: $0.count) }
        }
        let ws = Workspace(network: prefix, capacity: batch)
        indices.prefix(batch).withUnsafeBufferPointer { idx in
            labels.withUnsafeMutableBufferPointer { data.gather(idx, inputs: ws.input, labels: $0.baseAddress!) }
        }
        parameters.withUnsafeBufferPointer { ws.forward(parameters: $0.baseAddress!, batch: batch, training: false) }
        return rootMeanSquare(ws.output, count: batch * prefix.outputSize)
    }

    /// √(mean over layers of RMS(layer slice)²), BatchNorm statistics excluded.
    static func parameterRMS(base: Network, parameters: [Float]) -> Double {
        var power = 0.0, layers = 0
        parameters.withUnsafeBufferPointer { p in
            for r in NoiseInfusion.noiseRanges(base) where !r.isEmpty {
                let x = rootMeanSquare(p.baseAddress! + r.lowerBound, count: r.count)
                power += x * x
                layers += 1
            }
        }
        return (power / Double(max(layers, 1))).squareRoot()
    }
}
