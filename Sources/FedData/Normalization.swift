// Normalization: how raw 0…255 pixels become the Float inputs of a model.

/// How pixels are turned into floats.
///
/// - ``none``: the raw value 0…255 as a `Float`.
/// - ``unit``: `pixel / 255`, in [0, 1].
/// - ``standard``: `(pixel / 255 − mean_c) / std_c` with the dataset's usual constants
///   (``DatasetKind/standardMean`` and ``DatasetKind/standardStd``): MNIST 0.1307 / 0.3081,
///   Fashion-MNIST 0.2860 / 0.3530, CIFAR-10 (0.4914, 0.4822, 0.4465) / (0.2470, 0.2435, 0.2616).
/// - ``custom(mean:std:)``: `(pixel / 255 − mean_c) / std_c` with caller-chosen per-channel constants
///   (one value applies to every channel).
public enum Normalization: Hashable, Codable, Sendable {
    case none
    case unit
    case standard
    case custom(mean: [Float], std: [Float])

    /// The per-channel affine map `x ↦ scale_c · x + shift_c` from a raw byte, for `kind` with `channels` planes.
    func affine(for kind: DatasetKind?, channels: Int) -> (scale: [Double], shift: [Double]) {
        let mean: [Float], std: [Float]
        switch self {
        case .none: return (Array(repeating: 1, count: channels), Array(repeating: 0, count: channels))
        case .unit: return (Array(repeating: 1.0 / 255, count: channels), Array(repeating: 0, count: channels))
        case .standard:
            guard let kind else { preconditionFailure("Normalization.standard needs a DatasetKind") }
            (mean, std) = (kind.standardMean, kind.standardStd)
        case .custom(let m, let s): (mean, std) = (m, s)
        }
        precondition(!mean.isEmpty && !std.isEmpty, "Normalization: empty mean or std")
        var scale: [Double] = [], shift: [Double] = []
        for c in 0..<channels {
            let m = Double(mean[mean.count == 1 ? 0 : c]), s = Double(std[std.count == 1 ? 0 : c])
            precondition(s > 0, "Normalization: std must be positive")
            scale.append(1.0 / (255 * s))
            shift.append(-m / s)
        }
        return (scale, shift)
    }

    /// Converts `N·C·H·W` bytes (channel planes of `plane` pixels each, as stored by IDX and CIFAR-10) to floats.
    /// `stride` is the distance in `bytes` between consecutive records and `skip` the number of leading bytes of each
    /// record that are not pixels (the CIFAR-10 label byte).
    func convert(
        _ bytes: UnsafeBufferPointer<UInt8>, records: Int, channels: Int, plane: Int, stride: Int, skip: Int,
        kind: DatasetKind?
    ) -> [Float] {
        let (scale, shift) = affine(for: kind, channels: channels)
        // One 256-entry table per channel: exact (computed in Double) and branch-free.
        var tables = [Float](repeating: 0, count: 256 * channels)
        for c in 0..<channels {
            for v in 0..<256 { tables[256 * c + v] = Float(Double(v) * scale[c] + shift[c]) }
        }
        let sample = channels * plane
        return [Float](unsafeUninitializedCapacity: records * sample) { out, initialized in
            tables.withUnsafeBufferPointer { t in
                for r in 0..<records {
                    let src = bytes.baseAddress! + r * stride + skip
                    let dst = out.baseAddress! + r * sample
                    for c in 0..<channels {
                        let tc = t.baseAddress! + 256 * c
                        for j in 0..<plane { dst[c * plane + j] = tc[Int(src[c * plane + j])] }
                    }
                }
            }
            initialized = records * sample
        }
    }
}
