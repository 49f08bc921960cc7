// DPSGDTrainer+Noise: DP-SGD's Gaussian noise and division by the expected batch, on any block of coordinates.
import FedTensor

/// What step t adds to the clipped sum: N(0, σ²C²) on every trainable coordinate (`Network.trainableRanges`: not in
/// a frozen layer, not a frozen filter), coordinate j's
/// value being element j of the Philox stream `key.child("NOIS", t)`, then the division by the expected batch
/// (frozen coordinates are left as they are). A value depends only on its coordinate, so any split of the vector
/// into blocks, any order and any thread count give the same bits.
struct DPNoise {
    let key: StreamKey
    let std: Float
    let inverse: Float
    /// The trainable coordinate ranges, in order.
    let ranges: [Range<Int>]
    /// σC, the noise's standard deviation before the division (in Float64, for callers that fold in other factors).
    let spread: Double

    /// gradient[j] ← (gradient[j] + std·z_j) · inverse for the trainable j in `block` (the same IEEE operations as
    /// `fillGaussian`, `axpy` and `scale` on the whole vector).
    func apply(_ gradient: UnsafeMutablePointer<Float>, _ block: Range<Int>) {
        forEachTrainableSpan(in: block) { lo, n in
            if std > 0 {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { z in
                    fillGaussian(z, key: key, std: std, startIndex: UInt64(lo))
                    axpy(1, z.baseAddress!, gradient + lo, count: n)
                }
            }
            scale(gradient + lo, by: inverse, count: n)
        }
    }

    /// Calls `body(lo, count)` for each nonempty run of trainable coordinates inside `block`, in order.
    func forEachTrainableSpan(in block: Range<Int>, _ body: (_ lo: Int, _ count: Int) -> Void) {
        for r in ranges {
            let lo = max(r.lowerBound, block.lowerBound), hi = min(r.upperBound, block.upperBound)
            if lo < hi { body(lo, hi - lo) }
        }
    }
}

extension DPNoise {
    /// w[j] ← w[j] + a·z_j (one fused multiply-add, `addGaussian`) for every trainable coordinate j, z_j the same
    /// standard normal as in `apply`, in blocks of 4,096 coordinates over the compute threads when the vector is
    /// long. A plain SGD step with learning rate η passes a = −η·σC/B: the noise part of w − η·(Σ clip(g_i) + σC·z)/B.
    func addScaled(to weights: UnsafeMutableBufferPointer<Float>, scale a: Float) {
        let w = weights.baseAddress!, n = weights.count, blockSize = 4096
        guard a != 0 else { return }
        parallelFor((n + blockSize - 1) / blockSize, threads: n >= 1 << 15 ? nil : 1) { b in
            addScaled(to: w, scale: a, (b * blockSize)..<min(n, (b + 1) * blockSize))
        }
    }

    /// The same for the trainable coordinates in `block`, on this thread.
    func addScaled(to w: UnsafeMutablePointer<Float>, scale a: Float, _ block: Range<Int>) {
        forEachTrainableSpan(in: block) { lo, n in
            addGaussian(UnsafeMutableBufferPointer(start: w + lo, count: n), key: key, std: a, startIndex: UInt64(lo))
        }
    }
}

extension DPSGDTrainer {
    /// The noise of step t for an expected batch of `expectedBatch` examples.
    func noiseSpec(expectedBatch: Double, step t: UInt64) -> DPNoise {
        DPNoise(key: key.child(0x4E4F_4953, t),  // "NOIS"
                std: Float(dp.noiseMultiplier * dp.maxGradientNorm), inverse: Float(1 / expectedBatch),
                ranges: network.trainableRanges(frozen: frozen),
                spread: dp.noiseMultiplier * dp.maxGradientNorm)
    }

    /// gradient ← (gradient + N(0, σ²C²·I)) / expectedBatch on the trainable layers' coordinates (frozen ones are left
    /// as they are); the noise of step t is coordinate j's value of the Philox stream `key.child("NOIS", t)`.
    /// `step` does the same inside its SGD update (`SGD.step(… preparing:)`); this is the unfused form.
    public func privatize(_ gradient: UnsafeMutableBufferPointer<Float>, expectedBatch: Double, step t: UInt64) {
        precondition(gradient.count == network.parameterCount && expectedBatch > 0, "privatize: bad gradient or batch")
        let noise = noiseSpec(expectedBatch: expectedBatch, step: t)
        let g = gradient.baseAddress!, n = gradient.count, blockSize = 4096
        // Blocks of 4,096 coordinates (whole Philox groups) over the threads when the vector is long.
        parallelFor((n + blockSize - 1) / blockSize, threads: n >= 1 << 15 ? nil : 1) { b in
            noise.apply(g, (b * blockSize)..<min(n, (b + 1) * blockSize))
        }
    }
}
