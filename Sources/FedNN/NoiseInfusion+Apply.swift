// NoiseInfusion+Apply: mechanisms turned into noise layers, a gradient transform and parameter-vector perturbations.
import FedTensor
import Synchronization

extension NoiseInfusion {
    /// The indices of `network`'s hidden activation layers (ReLU, sigmoid, tanh not last): the default positions
    /// of activation noise.
    public static func hiddenActivations(_ network: Network) -> [Int] {
        network.layers.indices.filter { i in
            i < network.layers.count - 1 && (network.layers[i] is ReLU || network.layers[i] is Tanh
                                             || network.layers[i] is Sigmoid)
        }
    }

    /// `base` with a `NoiseLayer` for every input and activation mechanism: input noise first, activation noise
    /// right after the layers it follows (positions with level 0 get none). The parameter layout is unchanged:
    /// noise layers have no parameters. Errors name the mechanism's key path ("mechanisms[0].afterLayers[1]").
    public func network(_ base: Network) throws(NoiseInfusionError) -> Network {
        let list = resolved, offset = list.count - mechanisms.count
        var front: [any Layer] = []
        var after = [[any Layer]](repeating: [], count: base.layers.count)
        for (i, m) in list.enumerated() where m.site.isLayer {
            let path = i < offset ? "preset \(preset!.rawValue)" : "mechanisms[\(i - offset)]"
            func layer(_ level: Double, _ k: Int) -> NoiseLayer {
                NoiseLayer(m.distribution, level: Float(level), relative: m.levelMode == .relative,
                           trainOnly: m.trainOnly, schedule: m.schedule, decay: m.decay,
                           stream: UInt64(i) << 16 | UInt64(k))
            }
            if m.site == .input {
                if m.level > 0 { front.append(layer(m.level, 0)) }
                continue
            }
            let positions = m.afterLayers ?? Self.hiddenActivations(base)
            if positions.isEmpty {
                throw NoiseInfusionError(keyPath: path + ".afterLayers",
                                         message: "the model has no hidden activation layer to put noise after")
            }
            for (k, p) in positions.enumerated() {
                guard p >= 0 && p < base.layers.count - 1 else {
                    throw NoiseInfusionError(keyPath: path + ".afterLayers[\(k)]",
                                             message: "must be a layer index in 0…\(base.layers.count - 2) "
                                                + "(not the output layer), got \(p)")
                }
                let level = m.depthLevels.map { $0[min(k, $0.count - 1)] } ?? m.level
                if level > 0 { after[p].append(layer(level, k)) }
            }
        }
        var layers = front
        for (i, l) in base.layers.enumerated() { layers += [l] + after[i] }
        do {
            return try Network(inputShape: base.inputShape, layers: layers)
        } catch {
            throw NoiseInfusionError(keyPath: "mechanisms", message: error.description)
        }
    }

    /// The slices of `network`'s parameter vector that parameter-site noise perturbs, one per layer: every
    /// layer's range, BatchNorm's without its running statistics (state, not weights: noise on r_σ² could make it
    /// negative).
    public static func noiseRanges(_ network: Network) -> [Range<Int>] {
        zip(network.layers, network.parameterRanges).map { layer, r in
            guard let bn = layer as? BatchNorm else { return r }
            return r.lowerBound..<(r.lowerBound + bn.nonTrainable.lowerBound)
        }
    }

    /// The mechanisms of a site, with their index in `resolved` (which separates their streams).
    public func mechanisms(at site: NoiseSite) -> [(index: Int, mechanism: NoiseMechanism)] {
        resolved.enumerated().filter { $0.element.site == site }.map { ($0.offset, $0.element) }
    }

    /// Whether any mechanism lives at `site`.
    public func has(_ site: NoiseSite) -> Bool { resolved.contains { $0.site == site } }

    /// The gradient-site noise as a `Trainer.gradientTransform`: g̃ = g + η at every step, from
    /// `key.child(tag, mechanism, step)` with a step counter of its own (a trainer's steps run in order, so the
    /// draws are reproducible). nil without gradient mechanisms. `time` is the schedule's t (epoch or round).
    public func gradientTransform(network: Network, key: StreamKey, time: Int) -> GradientTransform? {
        let list = mechanisms(at: .gradient)
        guard !list.isEmpty else { return nil }
        let counter = StepCounter()
        let ranges = Self.noiseRanges(network)
        return { _, gradient in
            let step = counter.next()
            for (i, m) in list {
                perturbSlices(gradient, ranges: ranges, mechanism: m, key: key.child(NoiseLayer.tag, UInt64(i), step),
                        time: time)
            }
        }
    }

    /// The gradient-site noise for a `Trainer`: with one gradient mechanism, as a `BlockGradientTransform` (each
    /// layer's σ from its whole clean slice, then the noise added block by block inside the SGD step, while the
    /// block is in cache: the same noise at every index, so the same parameters as `gradientTransform`), else
    /// (several mechanisms, each measuring the gradient the previous one noised) as `gradientTransform`.
    public func gradientNoise(network: Network, key: StreamKey, time: Int)
        -> (whole: GradientTransform?, blocks: BlockGradientTransform?) {
        let list = mechanisms(at: .gradient)
        guard list.count == 1, let (i, m) = list.first else {
            return (gradientTransform(network: network, key: key, time: time), nil)
        }
        let counter = StepCounter()
        let ranges = Self.noiseRanges(network).filter { !$0.isEmpty }
        return (nil, { _, gradient in
            let stepKey = key.child(NoiseLayer.tag, UInt64(i), counter.next())
            let sigmas = ranges.map { sliceSigma(gradient, $0, mechanism: m, time: time) }
            nonisolated(unsafe) let base = gradient.baseAddress!
            return { block in
                for (r, sigma) in zip(ranges, sigmas) where sigma > 0 {
                    let lo = max(r.lowerBound, block.lowerBound), hi = min(r.upperBound, block.upperBound)
                    guard lo < hi else { continue }
                    applyNoise(base + lo, count: hi - lo, distribution: m.distribution, level: sigma, key: stepKey,
                               startIndex: UInt64(lo))
                }
            }
        })
    }

    /// Adds the noise of `site`'s mechanisms to `vector` (a model, an update or a gradient, laid out by `ranges`),
    /// each from `key.child(tag, mechanism index)`.
    public func perturb(_ vector: inout [Float], site: NoiseSite, ranges: [Range<Int>], key: StreamKey, time: Int) {
        for (i, m) in mechanisms(at: site) {
            vector.withUnsafeMutableBufferPointer { v in
                perturbSlices(v, ranges: ranges, mechanism: m, key: key.child(NoiseLayer.tag, UInt64(i)), time: time)
            }
        }
    }

    /// `w_k` after the client-side mechanisms: client-model noise on w_k, then client-update noise on
    /// Δ_k = w_k − w_t (w_t + Δ̃_k). The federation's upload hook and centralised training (per epoch) use it.
    public func perturbClient(_ trained: inout [Float], start: [Float], ranges: [Range<Int>], key: StreamKey,
                              time: Int) {
        perturb(&trained, site: .clientModel, ranges: ranges, key: key.child(1), time: time)
        guard has(.clientUpdate) else { return }
        let delta = zip(trained, start).map { $0 - $1 }
        var noisy = delta
        perturb(&noisy, site: .clientUpdate, ranges: ranges, key: key.child(2), time: time)
        // w_k + (Δ̃ − Δ) rather than w_t + Δ̃: exact when the noise is 0 (w_t + (w_k − w_t) may round off w_k).
        for i in trained.indices { trained[i] += noisy[i] - delta[i] }
    }
}

/// One mechanism on a parameter-shaped vector: σ = level (absolute) or level·RMS(slice) per layer (relative),
/// times the schedule factor at `time`. Each layer's slice draws from its own indices of one stream (index =
/// position in the vector), so the noise does not depend on how the vector is split.
func perturbSlices(_ v: UnsafeMutableBufferPointer<Float>, ranges: [Range<Int>], mechanism m: NoiseMechanism,
             key: StreamKey, time: Int) {
    guard let base = v.baseAddress else { return }
    for r in ranges where !r.isEmpty {
        let sigma = sliceSigma(v, r, mechanism: m, time: time)
        guard sigma > 0 else { continue }
        applyNoise(base + r.lowerBound, count: r.count, distribution: m.distribution, level: sigma, key: key,
                   startIndex: UInt64(r.lowerBound))
    }
}

/// The σ `perturbSlices` applies to slice `r` of `v`: the level, times RMS(v[r]) when relative, times the schedule.
func sliceSigma(_ v: UnsafeMutableBufferPointer<Float>, _ r: Range<Int>, mechanism m: NoiseMechanism,
                time: Int) -> Float {
    let rms = m.levelMode == .relative ? rootMeanSquare(v.baseAddress! + r.lowerBound, count: r.count) : 1
    return Float(m.level * m.scheduleFactor(at: time) * rms)
}

/// A step counter a `@Sendable` gradient transform can advance.
final class StepCounter: Sendable {
    private let value = Mutex<UInt64>(0)
    func next() -> UInt64 {
        value.withLock { s in
            defer { s += 1 }
            return s
        }
    }
}
