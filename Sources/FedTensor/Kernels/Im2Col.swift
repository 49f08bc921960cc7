// Im2Col: unfolds NHWC images into patch rows for convolution-as-GEMM, and folds gradients back (col2im).

/// Geometry of a 2-D convolution or pooling window over one NHWC sample.
public struct ConvGeometry: Sendable, Equatable {
    public var height: Int, width: Int, channels: Int
    public var kernel: Int, stride: Int, padding: Int

    public init(height: Int, width: Int, channels: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
        self.height = height
        self.width = width
        self.channels = channels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    /// ⌊(H + 2p − k)/s⌋ + 1, as in PyTorch.
    public var outputHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outputWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Patch length k·k·C: one row of the unfolded matrix.
    public var patchSize: Int { kernel * kernel * channels }
    public var positions: Int { outputHeight * outputWidth }
}

/// Unfolds one NHWC sample `x` (H×W×C) into `col` ((OH·OW) × (k·k·C)); row r is output position r and its
/// columns run over (ky, kx, c). Out-of-image taps are zero.
@inlinable
public func im2col(_ x: UnsafePointer<Float>, _ col: UnsafeMutablePointer<Float>, _ g: ConvGeometry) {
    let c = g.channels, k = g.kernel, oh = g.outputHeight, ow = g.outputWidth, patch = g.patchSize
    var row = col
    for oy in 0..<oh {
        for ox in 0..<ow {
            var dst = row
            for ky in 0..<k {
                let iy = oy &* g.stride &- g.padding &+ ky
                if iy < 0 || iy >= g.height {
                    dst.update(repeating: 0, count: k &* c)
                    dst += k &* c
                    continue
                }
                let rowBase = x + iy &* g.width &* c
                for kx in 0..<k {
                    let ix = ox &* g.stride &- g.padding &+ kx
                    if ix < 0 || ix >= g.width {
                        dst.update(repeating: 0, count: c)
                    } else if c == 1 {
                        dst.pointee = rowBase[ix]
                    } else {
                        dst.update(from: rowBase + ix &* c, count: c)
                    }
                    dst += c
                }
            }
            row += patch
        }
    }
}

/// The adjoint of `im2col`: dx (H×W×C) = Σ over patches of `dcol` scattered back to their pixels.
/// `dx` is overwritten. The summation order is fixed, so results are deterministic.
@inlinable
public func col2im(_ dcol: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, _ g: ConvGeometry) {
    let c = g.channels, k = g.kernel, oh = g.outputHeight, ow = g.outputWidth, patch = g.patchSize
    dx.update(repeating: 0, count: g.height &* g.width &* c)
    var row = dcol
    for oy in 0..<oh {
        for ox in 0..<ow {
            var src = row
            for ky in 0..<k {
                let iy = oy &* g.stride &- g.padding &+ ky
                if iy < 0 || iy >= g.height {
                    src += k &* c
                    continue
                }
                let rowBase = dx + iy &* g.width &* c
                for kx in 0..<k {
                    let ix = ox &* g.stride &- g.padding &+ kx
                    if ix >= 0 && ix < g.width {
                        let d = rowBase + ix &* c
                        for ch in 0..<c { d[ch] += src[ch] }
                    }
                    src += c
                }
            }
            row += patch
        }
    }
}

/// Y[r, :] += b for each of `rows` rows of length `n` (leading dimension `n`).
@inlinable
public func addRowVector(_ b: UnsafePointer<Float>, to y: UnsafeMutablePointer<Float>, rows: Int, n: Int) {
    for r in 0..<rows { axpy(1, b, y + r &* n, count: n) }
}

/// db[j] += Σ_r dY[r, j] over `rows` rows of length `n`, rows added in order. Columns go in blocks of up to 64
/// whose sums stay in registers over all the rows (one load and one add per 16 values, where a row at a time
/// loaded and stored db and paid a call per row: 6–7% of `small-cnn`'s step for its 43,264 × 32 bias gradient);
/// each column still adds its rows one by one in order, so the bits are the same.
@inlinable
public func accumulateColumnSums(_ dy: UnsafePointer<Float>, into db: UnsafeMutablePointer<Float>, rows: Int, n: Int) {
    var j = 0
    while j &+ 64 <= n {
        var s0 = load16(db + j), s1 = load16(db + (j &+ 16)), s2 = load16(db + (j &+ 32)), s3 = load16(db + (j &+ 48))
        var p = dy + j
        for _ in 0..<rows {
            s0 += load16(p); s1 += load16(p + 16); s2 += load16(p + 32); s3 += load16(p + 48)
            p += n
        }
        store16(s0, db + j); store16(s1, db + (j &+ 16)); store16(s2, db + (j &+ 32)); store16(s3, db + (j &+ 48))
        j &+= 64
    }
    if j &+ 32 <= n {
        var s0 = load16(db + j), s1 = load16(db + (j &+ 16))
        var p = dy + j
        for _ in 0..<rows {
            s0 += load16(p); s1 += load16(p + 16)
            p += n
        }
        store16(s0, db + j); store16(s1, db + (j &+ 16))
        j &+= 32
    }
    if j &+ 16 <= n {
        var s0 = load16(db + j)
        var p = dy + j
        for _ in 0..<rows {
            s0 += load16(p)
            p += n
        }
        store16(s0, db + j)
        j &+= 16
    }
    while j < n {
        var s = db[j]
        var p = dy + j
        for _ in 0..<rows {
            s += p.pointee
            p += n
        }
        db[j] = s
        j &+= 1
    }
}
