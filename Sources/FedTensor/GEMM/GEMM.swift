// GEMM: the public matrix-multiply entry point (row-major, any transpose) and its plain reference oracle.

/// Whether an operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none
    case transposed
}

/// C = alpha · op(A) · op(B) + beta · C, all row-major.
///
/// op(A) is M×K (A is stored M×K with `lda` ≥ K, or K×M with `lda` ≥ M when transposed);
/// op(B) is K×N (B is stored K×N with `ldb` ≥ N, or N×K with `ldb` ≥ K when transposed); C is M×N with `ldc` ≥ N.
/// With `beta == 0`, C is not read (it may hold garbage or NaN). Large products are split over
/// `ComputeThreads.count` threads by output tiles, so the result does not depend on the thread count.
public func gemm(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    KernelTarget.warnIfGeneric()
    gemmBlocked(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                beta: beta, c: c, ldc: ldc)
}

/// The textbook triple loop in Float64 accumulation: slow, obviously right. The oracle for GEMM tests.
public func referenceGEMM(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                let av = transA == .none ? a[i * lda + p] : a[p * lda + i]
                let bv = transB == .none ? b[p * ldb + j] : b[j * ldb + p]
                sum += Double(av) * Double(bv)
            }
            let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
            c[i * ldc + j] = Float(Double(alpha) * sum + old)
        }
    }
}
