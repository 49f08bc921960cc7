// Gaussian: bulk standard-normal fills from a Philox stream, a pure function of (key, element index).

/// Writes `mean + std · z_(startIndex + j)` into `buffer[j]`, where z_g is the g-th standard normal of stream `key`.
/// The value at a global index never depends on how the stream is chunked or on the thread count.
public func fillGaussian(
    _ buffer: UnsafeMutableBufferPointer<Float>, key: StreamKey, std: Float = 1, mean: Float = 0,
    startIndex: UInt64 = 0
) {
    // Block b yields normals 4b…4b+3 via two Box–Muller pairs (u1, u2) → (r cos θ, r sin θ).
    for j in 0..<buffer.count {
        let g = startIndex &+ UInt64(j)
        let (a, b, c, d) = philoxBlock(key, g >> 2)
        let pair = (g & 3) >> 1
        let x = pair == 0 ? a : c, y = pair == 0 ? b : d
        let u1 = (Float(x >> 8) + 0.5) * (1.0 / 16_777_216.0)
        let u2 = Float(y >> 8) * (1.0 / 16_777_216.0)
        let r = (-2 * logf(u1)).squareRoot()
        let theta = 2 * Float.pi * u2
        let z = (g & 1) == 0 ? r * cosf(theta) : r * sinf(theta)
        buffer[j] = mean + std * z
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
