// ImageMetrics: MSE, PSNR and SSIM between reconstructions and true images, with batch order matched first.

/// Reconstruction quality of a batch, each metric averaged over images after matching order (pitfalls §6).
public struct ReconstructionQuality: Sendable, Equatable {
    public var mse: Double
    /// Mean of per-image 10·log10(1/MSE); images reconstructed exactly (MSE = 0) are left out and counted.
    public var psnr: Double
    public var exact: Int
    public var ssim: Double
    /// The true image each reconstruction was matched to.
    public var assignment: [Int]
}

/// Metrics on images clamped to [0, 1] (both H×W×C per sample, `count` samples). For a batch, reconstructions come
/// out in any order, so each is matched to a true image by the assignment of least total MSE (exact, by dynamic
/// programming over subsets; batches ≤ 16).
public func reconstructionQuality(reconstructed x: [Float], truth y: [Float], count: Int, height: Int, width: Int,
                                  channels: Int) -> ReconstructionQuality {
    let n = height * width * channels
    precondition(count <= 16 && x.count == count * n && y.count == count * n, "reconstructionQuality: sizes")
    let clamped = x.map { min(max($0, 0), 1) }
    var cost = [[Double]](repeating: [Double](repeating: 0, count: count), count: count)
    for i in 0..<count {
        for j in 0..<count {
            var s = 0.0
            for k in 0..<n { let d = Double(clamped[i * n + k]) - Double(y[j * n + k]); s += d * d }
            cost[i][j] = s / Double(n)
        }
    }
    let assignment = minimumCostAssignment(cost)
    var mse = 0.0, psnr = 0.0, ssim = 0.0, exact = 0
    for i in 0..<count {
        let j = assignment[i]
        mse += cost[i][j]
        if cost[i][j] > 0 { psnr += 10 * log10(1 / cost[i][j]) } else { exact += 1 }
        for c in 0..<channels {
            let a = (0..<(height * width)).map { Double(clamped[i * n + $0 * channels + c]) }
            let b = (0..<(height * width)).map { Double(y[j * n + $0 * channels + c]) }
            ssim += structuralSimilarity(a, b, height: height, width: width) / Double(channels)
        }
    }
    let finite = count - exact
    return ReconstructionQuality(mse: mse / Double(count), psnr: finite > 0 ? psnr / Double(finite) : .infinity,
                                 exact: exact, ssim: ssim / Double(count), assignment: assignment)
}

/// The permutation π minimising Σ cost[i][π(i)] (DP over subsets of columns, O(2ⁿ·n)).
func minimumCostAssignment(_ cost: [[Double]]) -> [Int] {
    let n = cost.count
    guard n > 1 else { return Array(0..<n) }
    let full = 1 << n
    var best = [Double](repeating: .infinity, count: full), choice = [Int](repeating: -1, count: full)
    best[0] = 0
    for mask in 0..<full where best[mask].isFinite {
        let row = mask.nonzeroBitCount
        guard row < n else { continue }
        for j in 0..<n where mask & (1 << j) == 0 {
            let v = best[mask] + cost[row][j]
            if v < best[mask | 1 << j] { best[mask | 1 << j] = v; choice[mask | 1 << j] = j }
        }
    }
    var result = [Int](repeating: 0, count: n), mask = full - 1
    for row in stride(from: n - 1, through: 0, by: -1) {
        let j = choice[mask]
        result[row] = j
        mask &= ~(1 << j)
    }
    return result
}

/// SSIM (Wang et al. 2004, eq. 13) of two single-channel images in [0, 1]: local statistics from an 11×11 Gaussian
/// window with σ = 1.5 (weights summing to 1), C₁ = (0.01)², C₂ = (0.03)², population covariances, averaged over
/// the **valid** windows only (an 18×18 map on 28×28; no padding). Images smaller than 11 pixels use a window of
/// their size.
public func structuralSimilarity(_ a: [Double], _ b: [Double], height: Int, width: Int) -> Double {
    let size = min(11, height, width), half = Double(size - 1) / 2
    var kernel = (0..<size).map { exp(-(Double($0) - half) * (Double($0) - half) / (2 * 1.5 * 1.5)) }
    let total = kernel.reduce(0, +)
    kernel = kernel.map { $0 / total }
    let c1 = 0.01 * 0.01, c2 = 0.03 * 0.03
    var sum = 0.0, windows = 0
    for r in 0...(height - size) {
        for c in 0...(width - size) {
            var ma = 0.0, mb = 0.0, aa = 0.0, bb = 0.0, ab = 0.0
            for i in 0..<size {
                for j in 0..<size {
                    let w = kernel[i] * kernel[j], p = (r + i) * width + c + j
                    ma += w * a[p]; mb += w * b[p]
                    aa += w * a[p] * a[p]; bb += w * b[p] * b[p]; ab += w * a[p] * b[p]
                }
            }
            let va = aa - ma * ma, vb = bb - mb * mb, cov = ab - ma * mb
            sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2))
            windows += 1
        }
    }
    return sum / Double(windows)
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
