// Clipping: global-L2 clipping of a flat Float vector, an update w − w_ref, or per-example rows (Abadi et al. 2016).
import FedTensor

/// L2 clipping v ← v / max(1, ‖v‖₂/C), the step that bounds a release's sensitivity (Abadi et al. 2016, Alg. 1;
/// McMahan et al. 2018 for updates; spec C.1 item 1, D.1.3).
///
/// Norms are accumulated in Float64. The scale factor is computed in Float64, rounded to Float, and then moved
/// three ulps toward zero. Proof sketch, with u = 2⁻²⁴: each step down gives at most y·(1 − u), so the factor f is
/// below (C/‖v‖)(1 − u)²; each product f·vᵢ is correctly rounded, |fl(f·vᵢ)| ≤ f·|vᵢ|(1 + u); hence
/// ‖v′‖ ≤ C(1 − u)²(1 + u)/(1 − η) ≤ C as long as the Float64 norm's relative error η stays below ~5e-8, which
/// holds for any vector shorter than ~10⁹ elements. So the bound **‖v′‖ ≤ C holds exactly**; the price is
/// shrinking a clipped vector by at most 7·2⁻²⁴ ≈ 4.2e-7 relative. (Products that underflow to subnormals are ignored:
/// that needs C below ~1e-30.) Vectors already within the bound are not touched, bit for bit.
///
/// A vector whose norm is not finite (it contains NaN or ±∞) cannot be scaled into the ball; it is zeroed, which
/// keeps the sensitivity bound, and its non-finite norm is returned for the caller to report.
public enum Clipping {
    /// ‖v‖₂ accumulated in Float64 (each square is exact in Float64; 8 running sums).
    public static func l2Norm(_ v: UnsafeBufferPointer<Float>) -> Double {
        guard let p = v.baseAddress else { return 0 }
        let n = v.count
        var acc = SIMD8<Double>.zero
        var i = 0
        while i + 8 <= n {
            let x = SIMD8<Double>(UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self))
            acc.addProduct(x, x)
            i += 8
        }
        var total = acc.sum()
        while i < n {
            let x = Double(p[i])
            total += x * x
            i += 1
        }
        return total.squareRoot()
    }

    /// ‖v‖₂ accumulated in Float64.
    public static func l2Norm(_ v: [Float]) -> Double {
        v.withUnsafeBufferPointer { l2Norm($0) }
    }

    /// The factor that maps a vector of norm `norm` into the ball of radius `maxNorm`: 1 when `norm ≤ maxNorm`,
    /// else C/norm rounded to Float and moved three ulps down (see the type's discussion). 0 for a non-finite norm.
    public static func factor(norm: Double, maxNorm: Double) -> Float {
        precondition(maxNorm > 0 && maxNorm.isFinite, "Clipping: maxNorm must be finite and > 0")
        guard norm.isFinite else { return 0 }
        guard norm > maxNorm else { return 1 }
        var f = Float(maxNorm / norm)
        for _ in 0..<3 { f = f.nextDown }
        return max(f, 0)
    }

    /// Clips `v` in place to L2 norm ≤ `maxNorm`; returns the norm before clipping.
    @discardableResult
    public static func clip(_ v: UnsafeMutableBufferPointer<Float>, maxNorm: Double) -> Double {
        let norm = l2Norm(UnsafeBufferPointer(v))
        let f = factor(norm: norm, maxNorm: maxNorm)
        guard f != 1, let p = v.baseAddress else { return norm }
        if f == 0 {
            v.update(repeating: 0)
        } else {
            scale(p, by: f, count: v.count)
        }
        return norm
    }

    /// Clips `v` in place to L2 norm ≤ `maxNorm`; returns the norm before clipping.
    @discardableResult
    public static func clip(_ v: inout [Float], maxNorm: Double) -> Double {
        v.withUnsafeMutableBufferPointer { clip($0, maxNorm: maxNorm) }
    }

    /// Turns `parameters` (w) into the clipped update clip(w − w_ref) in place (client-level DP, McMahan et al.
    /// 2018); returns ‖w − w_ref‖₂ before clipping. The difference is formed in Float32, as the upload will be.
    @discardableResult
    public static func clipUpdate(_ parameters: inout [Float], reference: [Float], maxNorm: Double) -> Double {
        precondition(parameters.count == reference.count, "Clipping.clipUpdate: parameters and reference differ in size")
        parameters.withUnsafeMutableBufferPointer { w in
            reference.withUnsafeBufferPointer { r in
                guard let rp = r.baseAddress, let wp = w.baseAddress else { return }
                axpy(-1, rp, wp, count: w.count)
            }
        }
        return clip(&parameters, maxNorm: maxNorm)
    }

    /// Projects `parameters` onto the ball of radius `maxNorm` around `reference`:
    /// w ← w_ref + clip(w − w_ref). Returns ‖w − w_ref‖₂ before clipping; w is untouched when already inside.
    /// Re-forming w rounds each element once more, so the exact bound holds for the update, not for ‖w − w_ref‖
    /// recomputed in Float32: release the update (``clipUpdate(_:reference:maxNorm:)``) when the bound matters.
    @discardableResult
    public static func clipAroundReference(_ parameters: inout [Float], reference: [Float], maxNorm: Double) -> Double {
        precondition(parameters.count == reference.count, "Clipping.clipAroundReference: sizes differ")
        var update = parameters
        let norm = clipUpdate(&update, reference: reference, maxNorm: maxNorm)
        guard !(norm <= maxNorm) else { return norm }
        for i in parameters.indices { parameters[i] = reference[i] + update[i] }
        return norm
    }

    /// Clips each of the `rows.count / rowLength` contiguous rows of `rows` (one per-example gradient each,
    /// DP-SGD) to norm ≤ `maxNorm`; returns the pre-clip norm of every row.
    @discardableResult
    public static func clipRows(_ rows: UnsafeMutableBufferPointer<Float>, rowLength: Int, maxNorm: Double) -> [Double] {
        precondition(rowLength > 0 && rows.count % rowLength == 0, "Clipping.clipRows: count must be a multiple of rowLength")
        return (0..<(rows.count / rowLength)).map { r in
            clip(UnsafeMutableBufferPointer(rebasing: rows[(r * rowLength)..<((r + 1) * rowLength)]), maxNorm: maxNorm)
        }
    }
}
