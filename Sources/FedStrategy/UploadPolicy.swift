// UploadPolicy: what a client sends after local training: p_k·w_k for FedAvg, clipped and noised for DP-FedAvg.
import FedPrivacy
import FedTensor

/// The client's side of a strategy: turns locally trained weights into the upload (NISS paper Alg. 1,
/// `ClientUpdate`: return p_k·w + n_k with noise in the p_k-weighted domain, spec B.11 item 5).
public struct UploadPolicy: Sendable {
    public let kind: StrategyKind
    public let dp: DPConfiguration?
    /// Total rounds of the run (for `nbaflLinear` composition).
    public let rounds: Int

    public init(kind: StrategyKind, dp: DPConfiguration?, rounds: Int) {
        precondition(kind == .fedAvg || dp != nil, "DP-FedAvg needs a DP configuration")
        self.kind = kind
        self.dp = dp
        self.rounds = rounds
    }

    public struct Upload: Sendable {
        public var payload: [Float]
        public var noiseStd: Double
        public var preClipNorm: Double?
        /// The noise vector (only when asked for, for simulation diagnostics).
        public var noise: [Float]?
    }

    /// Builds client `client`'s upload from `trained` (consumed) given the round's `global` weights, p_k and d_k.
    /// Noise comes from stream `noiseKey` (derive it from run seed, client, round and purpose).
    public func makeUpload(client: Int, trained: consuming [Float], global: [Float], weight: Double, samples: Int,
                           noiseKey: StreamKey, keepNoise: Bool) throws -> Upload {
        var w = trained
        var preClip: Double?
        var sigma = 0.0
        if kind == .dpFedAvg, let dp {
            switch dp.clipTarget {
            case .update: preClip = Clipping.clipUpdate(&w, reference: global, maxNorm: dp.clippingThreshold)
            case .parameters: preClip = Clipping.clip(&w, maxNorm: dp.clippingThreshold)
            }
            sigma = try dp.noiseStd(client: client, weight: weight, samples: samples, rounds: rounds)
        }
        let p = Float(weight)
        var noise: [Float]?
        w.withUnsafeMutableBufferPointer { wb in
            scale(wb.baseAddress!, by: p, count: wb.count)
            guard sigma > 0 else { return }
            var n = [Float](repeating: 0, count: wb.count)
            n.withUnsafeMutableBufferPointer { fillGaussian($0, key: noiseKey, std: Float(sigma)) }
            n.withUnsafeBufferPointer { axpy(1, $0.baseAddress!, wb.baseAddress!, count: wb.count) }
            if keepNoise { noise = n }
        }
        return Upload(payload: w, noiseStd: sigma, preClipNorm: preClip, noise: noise)
    }
}
