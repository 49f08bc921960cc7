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
// Fills compute every group, whole or ragged (the first and last of a span), with the same SIMD16 code, so every
// chunking and thread count gives the same bits. The scalar `gaussian(key, index:)` / `uniform(key, index:)` are
// the per-element definition: they perform the same IEEE operations one lane at a time and PhiloxTests checks
// that they agree with the fills bit for bit.
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

/// `buffer[j] ← buffer[j] + std · z_(startIndex + j)` in one fused multiply-add per element, with the same z_g as
/// `fillGaussian` (so `fillGaussian(… mean: m)` is this on a buffer of m's): noise added in place, without a buffer
/// of its own. Chunk- and thread-invariant like the fills; large spans use `ComputeThreads.count` threads.
public func addGaussian(_ buffer: UnsafeMutableBufferPointer<Float>, key: StreamKey, std: Float, startIndex: UInt64 = 0) {
    guard let base = buffer.baseAddress else { return }
    splitSpan(count: buffer.count, startIndex: startIndex, threads: ComputeThreads.count) { lo, hi in
        addGaussianSpan(base + lo, count: hi - lo, key: key, std: std, start: startIndex &+ UInt64(lo))
    }
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
/// per thread, with inner boundaries at global indices that are multiples of 64 (values never depend on the
/// boundaries; aligned ones only keep the ragged-group work to the two ends of the whole fill).
func splitSpan(count: Int, startIndex: UInt64, threads: Int, _ body: (Int, Int) -> Void) {
    let pieces = count < parallelFillThreshold ? 1 : max(1, min(threads, count / (parallelFillThreshold / 2)))
    if pieces == 1 {
        if count > 0 { body(0, count) }
        return
    }
    func boundary(_ w: Int) -> Int {
        if w == 0 { return 0 }
        if w == pieces { return count }
        let target = count / pieces * w            // pieces are ≥ 2¹⁷ long, so rounding keeps them ordered
        return max(0, target - Int(truncatingIfNeeded: (startIndex &+ UInt64(target)) & 63))
    }
    parallelFor(pieces, threads: pieces) { w in
        let lo = boundary(w), hi = boundary(w + 1)
        if hi > lo { body(lo, hi) }
    }
}

/// One group's 64 values as its four rows of 16 (see the layout above).
typealias GroupRows = (SIMD16<Float>, SIMD16<Float>, SIMD16<Float>, SIMD16<Float>)

/// The Philox words of the group whose first global index is `first` (a multiple of 64).
@_transparent
func groupWords(_ key: PhiloxSchedule, _ first: UInt64) -> PhiloxWords16 {
    philox16(key, firstBlock: first >> 2)
}

/// What a span walk (`walkGroups`) does with each 64-value group it touches.
protocol GroupVisitor {
    /// The group with Philox words `words`: its elements `lo ..< hi` are in the span (all 64 but for a ragged
    /// first or last group), element `lo` at span offset `at`. Implementations are `@inline(__always)`, so the
    /// walk's loop holds their arithmetic (a closure here stayed a call per group, reloading its constants).
    mutating func visit(_ words: PhiloxWords16, lo: Int, hi: Int, at: Int)
}

/// Calls `visitor.visit` for every 64-value group that global indices [start, start + count) touch, in order.
/// Whole groups go two at a time, software-pipelined: a loop body computes the Philox rounds of the next two groups
/// and then visits the two whose words the previous body computed, so the integer rounds and the Box–Muller
/// polynomials of one body do not wait on each other. On one Zen 5 core, `fillGaussian`: a closure per group 2.01
/// G normals/s, the visitor one group per iteration 2.19, two per iteration 2.45, four 2.08–2.17 (spills); with
/// the round keys broadcast once per fill (`PhiloxSchedule`) 2.56–2.62, pipelined one group ahead 2.66–2.68,
/// two groups ahead (this) 2.73–2.87; `fillUniform` 3.89–4.11 → 4.78–5.24 G/s; same bits.
@inline(__always)
func walkGroups<V: GroupVisitor>(_ key: PhiloxSchedule, start: UInt64, count: Int, _ visitor: inout V) {
    guard count > 0 else { return }
    let offset = Int(truncatingIfNeeded: start & 63)
    let first = start & ~63
    @inline(__always) func words(_ g: Int) -> PhiloxWords16 {
        groupWords(key, first &+ UInt64(truncatingIfNeeded: g) &* 64)
    }
    var g = 0, at = 0
    if offset != 0 {
        let hi = min(64, offset &+ count)
        visitor.visit(words(0), lo: offset, hi: hi, at: 0)
        g = 1
        at = hi &- offset
    }
    if count &- at >= 128 {
        var a = words(g), b = words(g &+ 1)
        while count &- at >= 256 {
            let na = words(g &+ 2), nb = words(g &+ 3)
            visitor.visit(a, lo: 0, hi: 64, at: at)
            visitor.visit(b, lo: 0, hi: 64, at: at &+ 64)
            a = na; b = nb
            g &+= 2
            at &+= 128
        }
        visitor.visit(a, lo: 0, hi: 64, at: at)
        visitor.visit(b, lo: 0, hi: 64, at: at &+ 64)
        g &+= 2
        at &+= 128
    }
    while at < count {
        let hi = min(64, count &- at)
        visitor.visit(words(g), lo: 0, hi: hi, at: at)
        g &+= 1
        at &+= hi
    }
}

/// A group's elements `lo ..< hi` from `p` (which addresses element `lo`), zeros elsewhere.
@_transparent
func loadRows(_ p: UnsafePointer<Float>, lo: Int, hi: Int) -> GroupRows {
    if lo == 0 && hi == 64 { return (load16(p), load16(p + 16), load16(p + 32), load16(p + 48)) }
    return loadPartialRows(p, lo: lo, hi: hi)
}

func loadPartialRows(_ p: UnsafePointer<Float>, lo: Int, hi: Int) -> GroupRows {
    var rows: GroupRows = (.zero, .zero, .zero, .zero)
    withUnsafeMutableBytes(of: &rows) { raw in
        (raw.baseAddress!.assumingMemoryBound(to: Float.self) + lo).update(from: p, count: hi - lo)
    }
    return rows
}

/// Stores a group's elements `lo ..< hi` to `p` (which addresses element `lo`).
@_transparent
func storeRows(_ rows: GroupRows, lo: Int, hi: Int, to p: UnsafeMutablePointer<Float>) {
    if lo == 0 && hi == 64 { store(rows, to: p) } else { storePartialRows(rows, lo: lo, hi: hi, to: p) }
}

func storePartialRows(_ rows: GroupRows, lo: Int, hi: Int, to p: UnsafeMutablePointer<Float>) {
    withUnsafeBytes(of: rows) { raw in
        p.update(from: raw.baseAddress!.assumingMemoryBound(to: Float.self) + lo, count: hi - lo)
    }
}

/// `mean + std · z` for a group with Philox words `w`.
@_transparent
func gaussianRows(_ w: PhiloxWords16, _ std: SIMD16<Float>, _ mean: SIMD16<Float>) -> GroupRows {
    gaussianRows(w, std, (mean, mean, mean, mean))
}

/// The same with a mean per element: row k's lane i gets `mean.k[i] + std · z`.
@_transparent
func gaussianRows(_ w: PhiloxWords16, _ std: SIMD16<Float>, _ mean: GroupRows) -> GroupRows {
    let z = normalRows(w)
    return (mean.0.addingProduct(std, z.0), mean.1.addingProduct(std, z.1),
            mean.2.addingProduct(std, z.2), mean.3.addingProduct(std, z.3))
}

/// The group's 64 standard normals z themselves (no multiply-add).
@_transparent
func normalRows(_ w: PhiloxWords16) -> GroupRows {
    let (c0, s0) = boxMuller16(w.w0, w.w1)
    let (c1, s1) = boxMuller16(w.w2, w.w3)
    return (c0, s0, c1, s1)
}

@_transparent
func uniformRows(_ w: PhiloxWords16) -> GroupRows {
    (unitFloat16(w.w0), unitFloat16(w.w1), unitFloat16(w.w2), unitFloat16(w.w3))
}

@_transparent
func store(_ rows: GroupRows, to out: UnsafeMutablePointer<Float>) {
    let raw = UnsafeMutableRawPointer(out)
    raw.storeBytes(of: rows.0, toByteOffset: 0, as: SIMD16<Float>.self)
    raw.storeBytes(of: rows.1, toByteOffset: 64, as: SIMD16<Float>.self)
    raw.storeBytes(of: rows.2, toByteOffset: 128, as: SIMD16<Float>.self)
    raw.storeBytes(of: rows.3, toByteOffset: 192, as: SIMD16<Float>.self)
}

/// The serial kernels. Every group, whole or ragged, is computed by the same SIMD16 code, so a value never depends
/// on where a span starts or ends; whole groups are stored straight to memory.
func gaussianSpan(_ out: UnsafeMutablePointer<Float>, count: Int, key: StreamKey, std: Float, mean: Float,
                  start: UInt64) {
    var v = GaussianStore(out: out, std: SIMD16(repeating: std), mean: SIMD16(repeating: mean))
    walkGroups(PhiloxSchedule(key), start: start, count: count, &v)
}

/// Stores `mean + std · z` of each group.
struct GaussianStore: GroupVisitor {
    let out: UnsafeMutablePointer<Float>
    let std: SIMD16<Float>, mean: SIMD16<Float>
    @inline(__always)
    mutating func visit(_ words: PhiloxWords16, lo: Int, hi: Int, at: Int) {
        storeRows(gaussianRows(words, std, mean), lo: lo, hi: hi, to: out + at)
    }
}

/// Stores each group's standard normals z themselves (`fillStandardNormal`).
struct NormalStore: GroupVisitor {
    let out: UnsafeMutablePointer<Float>
    @inline(__always)
    mutating func visit(_ words: PhiloxWords16, lo: Int, hi: Int, at: Int) {
        storeRows(normalRows(words), lo: lo, hi: hi, to: out + at)
    }
}

/// Stores each group's uniforms.
struct UniformStore: GroupVisitor {
    let out: UnsafeMutablePointer<Float>
    @inline(__always)
    mutating func visit(_ words: PhiloxWords16, lo: Int, hi: Int, at: Int) {
        storeRows(uniformRows(words), lo: lo, hi: hi, to: out + at)
    }
}

/// `addGaussian`'s serial kernel: each group's rows take the current values as their mean, so every lane runs the
/// same SIMD16 operations whether its group is whole or ragged (the first and last of a span).
func addGaussianSpan(_ out: UnsafeMutablePointer<Float>, count: Int, key: StreamKey, std: Float, start: UInt64) {
    var v = GaussianAddInPlace(out: out, std: SIMD16(repeating: std))
    walkGroups(PhiloxSchedule(key), start: start, count: count, &v)
}

func uniformSpan(_ out: UnsafeMutablePointer<Float>, count: Int, key: StreamKey, start: UInt64) {
    var v = UniformStore(out: out)
    walkGroups(PhiloxSchedule(key), start: start, count: count, &v)
}

/// How `combineGaussian` applies t_j = mean + std·z_j (rounded once, as `fillGaussian` stores it) to a source value.
public enum GaussianCombination: Sendable {
    /// out_j = source_j + t_j (additive noise).
    case add
    /// out_j = source_j · t_j (multiplicative noise, mean 1).
    case multiply
}

/// `fillGaussian` into a buffer t followed by out[j] = source[j] + t[j] (or · t[j]), in one pass without the buffer:
/// each 64-value group's t stays in registers between drawing and use, so the result has the bits of the two-pass
/// form. `factor`, when given, receives t (a multiplicative law's backward pass needs it). out may be source. One
/// thread; like the fills, any chunking gives the same values (ragged groups go through a 64-float copy).
public func combineGaussian(
    _ source: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int, key: StreamKey, std: Float,
    mean: Float, startIndex: UInt64, _ combination: GaussianCombination, factor: UnsafeMutablePointer<Float>? = nil
) {
    let (std, mean) = (SIMD16<Float>(repeating: std), SIMD16<Float>(repeating: mean))
    if combination == .multiply {
        var v = GaussianCombine<MultiplyLaw>(source: source, out: out, std: std, mean: mean, factor: factor)
        walkGroups(PhiloxSchedule(key), start: startIndex, count: count, &v)
    } else {
        var v = GaussianCombine<AddLaw>(source: source, out: out, std: std, mean: mean, factor: factor)
        walkGroups(PhiloxSchedule(key), start: startIndex, count: count, &v)
    }
}

/// `combineGaussian`'s group: t = mean + std·z, out = source + t (or source · t with `multiply`), t to `factor`
/// when given.
struct GaussianCombine<Law: CombineLaw>: GroupVisitor {
    let source: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
    let std: SIMD16<Float>, mean: SIMD16<Float>
    let factor: UnsafeMutablePointer<Float>?
    @inline(__always)
    mutating func visit(_ words: PhiloxWords16, lo: Int, hi: Int, at: Int) {
        let x = loadRows(source + at, lo: lo, hi: hi)
        let t = gaussianRows(words, std, mean)
        storeRows(combined(x, t, multiply: Law.multiply), lo: lo, hi: hi, to: out + at)
        if let factor { storeRows(t, lo: lo, hi: hi, to: factor + at) }
    }
}

/// The combination as a type, so each law's walk is compiled on its own (a run-time flag in the loop kept the
/// additive walk at 2.0 G/s).
protocol CombineLaw { static var multiply: Bool { get } }
enum AddLaw: CombineLaw { static var multiply: Bool { false } }
enum MultiplyLaw: CombineLaw { static var multiply: Bool { true } }

/// `addGaussian`'s group: out = fma(std, z, out), the current values as the mean.
struct GaussianAddInPlace: GroupVisitor {
    let out: UnsafeMutablePointer<Float>
    let std: SIMD16<Float>
    @inline(__always)
    mutating func visit(_ words: PhiloxWords16, lo: Int, hi: Int, at: Int) {
        let x = loadRows(UnsafePointer(out + at), lo: lo, hi: hi)
        storeRows(gaussianRows(words, std, x), lo: lo, hi: hi, to: out + at)
    }
}

/// out[j] = source[j] + a·(2(u_j + 2⁻²⁴) − 1), u_j the uniform of global index `startIndex + j` of stream `key`
/// (`fillUniform`'s values): uniform noise on (−a, a), the operations of filling a buffer with u and applying that
/// formula element by element, lane by lane in one pass (the same bits). out may be source; one thread.
public func combineUniform(_ source: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count: Int,
                           key: StreamKey, scale a: Float, startIndex: UInt64) {
    var v = UniformLawCombine(source: source, out: out, law: CenteredUniform(a: SIMD16(repeating: a)))
    walkGroups(PhiloxSchedule(key), start: startIndex, count: count, &v)
}

/// Noise made from one uniform u per element (`uniform(key, index:)`), added to x: 16 lanes at a time.
protocol UniformLaw {
    func noisy(_ x: SIMD16<Float>, _ u: SIMD16<Float>) -> SIMD16<Float>
}

/// x + a·(2(u + 2⁻²⁴) − 1): `combineUniform`'s law.
struct CenteredUniform: UniformLaw {
    let a: SIMD16<Float>
    @inline(__always) func noisy(_ x: SIMD16<Float>, _ u: SIMD16<Float>) -> SIMD16<Float> {
        x + a * (SIMD16(repeating: 2) * (u + SIMD16(repeating: 0x1p-24)) - SIMD16(repeating: 1))
    }
}

/// The group of a combine whose noise is a law of uniforms (`combineUniform`, `combineLaplace`).
struct UniformLawCombine<Law: UniformLaw>: GroupVisitor {
    let source: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>
    let law: Law
    @inline(__always)
    mutating func visit(_ words: PhiloxWords16, lo: Int, hi: Int, at: Int) {
        let x = loadRows(source + at, lo: lo, hi: hi), u = uniformRows(words)
        storeRows((law.noisy(x.0, u.0), law.noisy(x.1, u.1), law.noisy(x.2, u.2), law.noisy(x.3, u.3)), lo: lo, hi: hi,
                  to: out + at)
    }
}

/// x + t or x · t, row by row.
@_transparent
func combined(_ x: GroupRows, _ t: GroupRows, multiply: Bool) -> GroupRows {
    multiply ? (x.0 * t.0, x.1 * t.1, x.2 * t.2, x.3 * t.3) : (x.0 + t.0, x.1 + t.1, x.2 + t.2, x.3 + t.3)
}
