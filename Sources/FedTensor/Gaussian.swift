// Gaussian: bulk standard-normal and uniform fills from a Philox stream, a pure function of (key, element index).
//
// Sources: Philox4x32-10 (Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011);
// Box & Muller, "A note on the generation of random normal deviates", Ann. Math. Stat. 29, 1958.
//
// Layout: how global element index g maps to Philox output. Elements come in groups of 64; group G = g >> 6 uses
// the 16 Philox blocks (counters) 16G … 16G + 15, one per SIMD lane. Within the group, with o = g & 63:
//     lane i = o & 15      → block b = 16G + i, words (w0, w1, w2, w3) = philoxBlock(key, b)
//     row  k = o >> 4      → k = 0: z_cos(w0, w1)   k = 1: z_sin(w0, w1)
//                            k = 2: z_cos(w2, w3)   k = 3: z_sin(w2, w3)
// so a group is four contiguous runs of 16 lanes and the vector path stores whole SIMD16 rows without shuffles.
// `z_cos`, `z_sin` are `boxMuller` in BoxMuller.swift. Uniforms use the same layout with row k = word w_k.
// Whole groups go through the SIMD16 path; the ragged head and tail of a span go through the scalar
// `gaussian(key, index:)`, which performs the same operations, so every chunking and thread count gives the same bits.
// One StreamKey feeds both fills from the same blocks: use different keys (e.g. `child`) for independent draws.

/// Spans at least this long are split over `ComputeThreads.count` threads.
public let parallelFillThreshold = 1 << 18

/// The standard normal with global index `index` of stream `key` (the per-element definition).
@inlinable
public func gaussian(_ key: StreamKey, index: UInt64) -> Float {
    let o = index & 63
    let block = (index >> 6) << 4 | (o & 15)
    let (w0, w1, w2, w3) = philoxBlock(key, block)
    let row = o >> 4
    let (c, s) = row < 2 ? boxMuller(w0, w1) : boxMuller(w2, w3)
    return row & 1 == 0 ? c : s
}

/// The uniform in [0, 1) with global index `index` of stream `key`: 23 random bits, a multiple of 2⁻²³.
@inlinable
public func uniform(_ key: StreamKey, index: UInt64) -> Float {
    let o = index & 63
    let (w0, w1, w2, w3) = philoxBlock(key, (index >> 6) << 4 | (o & 15))
    switch o >> 4 {
    case 0: return unitFloat(w0)
    case 1: return unitFloat(w1)
    case 2: return unitFloat(w2)
    default: return unitFloat(w3)
    }
}

/// Writes `mean + std · z_(startIndex + j)` into `buffer[j]` (one fused multiply-add), where z_g is the g-th
/// standard normal of stream `key`. The value at a global index never depends on how the stream is chunked or on
/// the thread count. Large fills use `ComputeThreads.count` threads.
public func fillGaussian(
    _ buffer: UnsafeMutableBufferPointer<Float>, key: StreamKey, std: Float = 1, mean: Float = 0,
    startIndex: UInt64 = 0
) {
    fillGaussian(buffer, key: key, std: std, mean: mean, startIndex: startIndex, threads: ComputeThreads.count)
}

/// Writes the uniform in [0, 1) with global index `startIndex + j` into `buffer[j]`; chunk- and thread-invariant.
public func fillUniform(_ buffer: UnsafeMutableBufferPointer<Float>, key: StreamKey, startIndex: UInt64 = 0) {
    fillUniform(buffer, key: key, startIndex: startIndex, threads: ComputeThreads.count)
}

func fillGaussian(
    _ buffer: UnsafeMutableBufferPointer<Float>, key: StreamKey, std: Float, mean: Float, startIndex: UInt64,
    threads: Int
) {
    guard let base = buffer.baseAddress else { return }
    splitSpan(count: buffer.count, startIndex: startIndex, threads: threads) { lo, hi in
        gaussianSpan(base + lo, count: hi - lo, key: key, std: std, mean: mean, start: startIndex &+ UInt64(lo))
    }
}

func fillUniform(_ buffer: UnsafeMutableBufferPointer<Float>, key: StreamKey, startIndex: UInt64, threads: Int) {
    guard let base = buffer.baseAddress else { return }
    splitSpan(count: buffer.count, startIndex: startIndex, threads: threads) { lo, hi in
        uniformSpan(base + lo, count: hi - lo, key: key, start: startIndex &+ UInt64(lo))
    }
}

/// Calls `body(lo, hi)` on contiguous pieces covering 0..<count: one piece below `parallelFillThreshold`, else one
/// per thread, with inner boundaries at global indices that are multiples of 64 (whole groups; values never
/// depend on the boundaries, this only keeps the scalar head/tail work to the two ends).
func splitSpan(count: Int, startIndex: UInt64, threads: Int, _ body: (Int, Int) -> Void) {
    let pieces = count < parallelFillThreshold ? 1 : max(1, min(threads, count / (parallelFillThreshold / 2)))
    if pieces == 1 {
        if count > 0 { body(0, count) }
        return
    }
    func boundary(_ w: Int) -> Int {
        if w == 0 { return 0 }
        if w == pieces { return count }
        let g = (startIndex &+ UInt64(count / pieces * w)) & ~63
        return g < startIndex ? 0 : Int(g - startIndex)
    }
    parallelFor(pieces, threads: pieces) { w in
        let lo = boundary(w), hi = boundary(w + 1)
        if hi > lo { body(lo, hi) }
    }
}

/// The serial kernel: scalar head up to a group boundary, whole groups in SIMD16, scalar tail.
func gaussianSpan(_ out: UnsafeMutablePointer<Float>, count: Int, key: StreamKey, std: Float, mean: Float,
                  start: UInt64) {
    var j = 0
    let head = min(count, Int((64 &- (start & 63)) & 63))
    while j < head {
        out[j] = mean.addingProduct(std, gaussian(key, index: start &+ UInt64(j)))
        j += 1
    }
    let stdV = SIMD16<Float>(repeating: std), meanV = SIMD16<Float>(repeating: mean)
    let raw = UnsafeMutableRawPointer(out)
    while count - j >= 64 {
        let g = start &+ UInt64(j)
        let w = philox16(key, firstBlock: g >> 2)
        let (c0, s0) = boxMuller16(w.w0, w.w1)
        let (c1, s1) = boxMuller16(w.w2, w.w3)
        let at = j &* 4
        raw.storeBytes(of: meanV.addingProduct(stdV, c0), toByteOffset: at, as: SIMD16<Float>.self)
        raw.storeBytes(of: meanV.addingProduct(stdV, s0), toByteOffset: at &+ 64, as: SIMD16<Float>.self)
        raw.storeBytes(of: meanV.addingProduct(stdV, c1), toByteOffset: at &+ 128, as: SIMD16<Float>.self)
        raw.storeBytes(of: meanV.addingProduct(stdV, s1), toByteOffset: at &+ 192, as: SIMD16<Float>.self)
        j &+= 64
    }
    while j < count {
        out[j] = mean.addingProduct(std, gaussian(key, index: start &+ UInt64(j)))
        j += 1
    }
}

func uniformSpan(_ out: UnsafeMutablePointer<Float>, count: Int, key: StreamKey, start: UInt64) {
    var j = 0
    let head = min(count, Int((64 &- (start & 63)) & 63))
    while j < head {
        out[j] = uniform(key, index: start &+ UInt64(j))
        j += 1
    }
    let raw = UnsafeMutableRawPointer(out)
    while count - j >= 64 {
        let w = philox16(key, firstBlock: (start &+ UInt64(j)) >> 2)
        let at = j &* 4
        raw.storeBytes(of: unitFloat16(w.w0), toByteOffset: at, as: SIMD16<Float>.self)
        raw.storeBytes(of: unitFloat16(w.w1), toByteOffset: at &+ 64, as: SIMD16<Float>.self)
        raw.storeBytes(of: unitFloat16(w.w2), toByteOffset: at &+ 128, as: SIMD16<Float>.self)
        raw.storeBytes(of: unitFloat16(w.w3), toByteOffset: at &+ 192, as: SIMD16<Float>.self)
        j &+= 64
    }
    while j < count {
        out[j] = uniform(key, index: start &+ UInt64(j))
        j += 1
    }
}
