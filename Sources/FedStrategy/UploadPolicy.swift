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
        precondition(!kind.usesDP || dp != nil, "DP strategies need a DP configuration")
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

    /// Clips (DP strategies) and scales `trained` (consumed) into p_k·w_k, and computes σ_k, without adding noise:
    /// DP-FedAvg adds one Gaussian draw, NISS the sum of its shares (Alg. 2, ClientUpdate).
    public func prepare(client: Int, trained: consuming [Float], global: [Float], weight: Double,
                        samples: Int) throws -> Upload {
        var w = trained
        var preClip: Double?
        var sigma = 0.0
        if kind.usesDP, let dp {
            switch dp.clipTarget {
            case .update: preClip = Clipping.clipAroundReference(&w, reference: global, maxNorm: dp.clippingThreshold)
            case .parameters: preClip = Clipping.clip(&w, maxNorm: dp.clippingThreshold)
            }
            sigma = try dp.noiseStd(client: client, weight: weight, samples: samples, rounds: rounds)
        }
        let p = Float(weight)
        w.withUnsafeMutableBufferPointer { scale($0.baseAddress!, by: p, count: $0.count) }
        return Upload(payload: w, noiseStd: sigma, preClipNorm: preClip, noise: nil)
    }

    /// Builds client `client`'s FedAvg or DP-FedAvg upload from `trained` (consumed) given the round's `global`
    /// weights, p_k and d_k. Noise comes from stream `noiseKey` (derive it from run seed, client, round and purpose).
    public func makeUpload(client: Int, trained: consuming [Float], global: [Float], weight: Double, samples: Int,
                           noiseKey: StreamKey, keepNoise: Bool) throws -> Upload {
        var upload = try prepare(client: client, trained: trained, global: global, weight: weight, samples: samples)
        guard kind == .dpFedAvg, upload.noiseStd > 0 else { return upload }
        let sigma = Float(upload.noiseStd)
        var n = [Float](repeating: 0, count: upload.payload.count)
        n.withUnsafeMutableBufferPointer { fillGaussian($0, key: noiseKey, std: sigma) }
        upload.payload.withUnsafeMutableBufferPointer { wb in
            n.withUnsafeBufferPointer { axpy(1, $0.baseAddress!, wb.baseAddress!, count: wb.count) }
        }
        if keepNoise { upload.noise = n }
        return upload
    }
}
