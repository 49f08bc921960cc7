// Conv2d+PerExample: per-example gradient norms of a convolution, by per-example GEMM or by Gram matrices.
import FedTensor

/// How `Conv2d` computes per-example gradient norms (DP-SGD).
public enum ConvNormRoute: Sendable {
    /// Per layer shape, the cheaper of the two (Bu et al. 2023, "mixed ghost": Gram iff 2T² ≤ d·p).
    case automatic
    /// Materialise each example's gradient D_iᵀA_i (p × d) with one GEMM, O(T·d·p), and take its norm.
    case perExampleGEMM
    /// Ghost norm ⟨A_iA_iᵀ, D_iD_iᵀ⟩ from two T × T Gram matrices, O(T²(d + p)), no p × d gradient.
    case gram
}

extension Conv2d {
    /// With T output positions, A_i (T × d) the example's unfolded input, d = k·k·C_in, and D_i (T × p) its output
    /// gradient, p = C_out: ∇W_i = D_iᵀA_i and ∇b_i = D_iᵀ1, so ‖∇W_i‖² = ⟨A_iA_iᵀ, D_iD_iᵀ⟩_F (Li et al. 2022,
    /// Sec. 4; pitfalls §4) and ‖∇b_i‖² = ‖Σ_t d_t‖². Examples are split over threads; each norm is computed by
    /// one thread in one fixed order, so the values do not depend on the thread count.
    public func addPerExampleGradientNorms(_ c: BackwardContext, input: Shape,
                                           into norms: UnsafeMutablePointer<Double>) {
        let g = geometry(input)
        let t = g.positions, d = g.patchSize, p = outputChannels
        let gram: Bool
        switch normRoute {
        case .automatic: gram = 2 * t * t <= d * p
        case .perExampleGEMM: gram = false
        case .gram: gram = true
        }
        let implicit = isImplicit(g)
        let inSize = g.height * g.width * g.channels, padSize = paddedInputSize(g)
        // Per worker: the gradient and its transpose (GEMM route) or A_i, AAᵀ and DDᵀ (Gram route).
        let perWorker = gram ? t * d + 2 * t * t : 2 * d * p
        let workers = max(1, min(c.batch, ComputeThreads.count))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * perWorker)
        defer { scratch.deallocate() }
        let layout = implicitLayout(g, c.workspace, batch: c.batch)
        parallelFor(workers, threads: workers) { w in
            ComputeThreads.$taskLimit.withValue(1) {
                let s = scratch + w * perWorker
                for i in (c.batch * w / workers)..<(c.batch * (w + 1) / workers) {
                    let dy = c.outputGradient + i * t * p
                    var total = 0.0
                    if gram {
                        let a: UnsafePointer<Float>
                        if implicit {
                            im2col(c.input + i * inSize, s, g)
                            a = UnsafePointer(s)
                        } else {
                            a = UnsafePointer(c.workspace + i * t * d)
                        }
                        let aa = s + t * d, dd = aa + t * t
                        gemm(.none, .transposed, m: t, n: t, k: d, a: a, lda: d, b: a, ldb: d, c: aa, ldc: t)
                        gemm(.none, .transposed, m: t, n: t, k: p, a: dy, lda: p, b: dy, ldb: p, c: dd, ldc: t)
                        total = dot(aa, dd, count: t * t)
                    } else if implicit {
                        implicitConvWeightGradient(dy, padded: layout.padded + i * padSize, s, g, outputChannels: p,
                                                   batch: 1, accumulate: false, transposed: s + d * p)
                        total = sumOfSquares(s, count: d * p)
                    } else {
                        gemm(.transposed, .none, m: p, n: d, k: t, a: dy, lda: p, b: c.workspace + i * t * d,
                             ldb: d, c: s, ldc: d)
                        total = sumOfSquares(s, count: d * p)
                    }
                    norms[i] += total + biasNormSquared(dy, positions: t, channels: p)
                }
            }
        }
    }

    /// Both paths keep their padded inputs or unfolded columns through the input gradient, whose scratch lies
    /// after them (`workspaceSize`).
    public func inputGradientPreservesWorkspace(input: Shape) -> Bool { true }
}

/// Σ_k x_k y_k in Float64 (8 Float32 lanes per step, flushed to Float64 per vector).
func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Double {
    var total = 0.0, i = 0
    while i + 16 <= count {
        let a = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        let b = UnsafeRawPointer(y + i).loadUnaligned(as: SIMD16<Float>.self)
        total += Double((a * b).sum())
        i += 16
    }
    while i < count {
        total += Double(x[i]) * Double(y[i])
        i += 1
    }
    return total
}

/// ‖Σ_t dy[t, :]‖² for one example's T × p output gradient: its bias gradient's squared norm.
func biasNormSquared(_ dy: UnsafePointer<Float>, positions: Int, channels: Int) -> Double {
    var total = 0.0
    for o in 0..<channels {
        var s = 0.0
        for t in 0..<positions { s += Double(dy[t * channels + o]) }
        total += s * s
    }
    return total
}
