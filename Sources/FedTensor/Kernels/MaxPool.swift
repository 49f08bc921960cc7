// MaxPool: k×k max pooling with stride s (default k; s < k overlaps) over NHWC samples, forward and backward.

/// y (OH×OW×C) = max over each k×k window of x (H×W×C) taken every `stride` pixels, with OH = ⌊(H − k)/s⌋ + 1
/// (PyTorch's floor mode; ⌊H/k⌋ when s = k).
@inlinable
public func maxPoolForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                           height: Int, width: Int, channels c: Int, k: Int, stride: Int? = nil) {
    let s = stride ?? k
    let oh = (height - k) / s + 1, ow = (width - k) / s + 1
    for oy in 0..<oh {
        for ox in 0..<ow {
            let out = y + (oy &* ow &+ ox) &* c
            let first = x + ((oy &* s) &* width &+ ox &* s) &* c
            out.update(from: first, count: c)
            for ky in 0..<k {
                for kx in 0..<k where ky != 0 || kx != 0 {
                    let src = x + ((oy &* s &+ ky) &* width &+ ox &* s &+ kx) &* c
                    var ch = 0
                    while ch &+ 16 <= c {
                        let a = load16(out + ch), b = load16(src + ch)
                        store16(a.replacing(with: b, where: b .> a), out + ch)
                        ch &+= 16
                    }
                    while ch < c {
                        if src[ch] > out[ch] { out[ch] = src[ch] }
                        ch &+= 1
                    }
                }
            }
        }
    }
}

/// dx = the gradient routed to the first window element (row-major scan) that equals the window's max; with
/// overlapping windows (s < k) a pixel sums what every window routes to it (PyTorch's max_pool2d backward).
/// `dx` is overwritten; pixels outside every window (odd edges) get zero. With `reluBefore` (x is a ReLU's
/// output), dx is the gradient at that ReLU's input instead: a window routes its gradient only where its max is
/// > 0, the bits of `reluBackward(output: x, dx, dx)` after this pass (the pixel that takes a window's gradient
/// equals its max; every other pixel gets +0 either way). With `reluOutput` r as well (x = r + η came from a ReLU's
/// output r through a layer whose backward pass is the identity: additive noise), the mask is that ReLU's, read
/// from r at the pixel that takes the gradient: the bits of this pass, the identity, then `reluBackward(output: r,
/// …)` (each routed value is masked by its own pixel, and masked values are +0, so overlapping sums agree).
/// With `factor` m as well (x = r·m, multiplicative noise; windows must not overlap), each routed value is dy·m at
/// its pixel: the noise layer's dx = dy·m folded in (`maxPool2x2BackwardRoutesScaled` says why the zeros may differ
/// in sign only).
@inlinable
public func maxPoolBackward(_ x: UnsafePointer<Float>, output y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                            _ dx: UnsafeMutablePointer<Float>, height: Int, width: Int, channels c: Int, k: Int,
                            stride: Int? = nil, reluBefore: Bool = false, reluOutput r: UnsafePointer<Float>? = nil,
                            factor f: UnsafePointer<Float>? = nil) {
    precondition(r == nil || reluBefore, "maxPoolBackward: reluOutput needs reluBefore")
    precondition(f == nil || (stride ?? k) >= k, "maxPoolBackward: a factor needs windows that do not overlap")
    let (oh, ow, s, overlapping) = maxPoolBackwardGeometry(dx, height: height, width: width, channels: c, k: k,
                                                           stride: stride)
    let zero = SIMD16<Float>(repeating: 0)
    for oy in 0..<oh {
        for ox in 0..<ow {
            let o = (oy &* ow &+ ox) &* c
            var ch = 0
            // 16 channels at a time: each window element takes the gradient where it is the first maximum.
            while ch &+ 16 <= c {
                let m = load16(y + (o &+ ch))
                var g = load16(dy + (o &+ ch))
                // reluBackward's SIMD mask (y ≤ 0 → 0) on the max: an overlapping pixel's sum of routed values
                // is then masked as its sum would be, since the mask depends on the pixel alone.
                if reluBefore && r == nil { g.replace(with: zero, where: m .<= zero) }
                var taken = SIMDMask<SIMD16<Int32>>(repeating: false)
                for ky in 0..<k {
                    for kx in 0..<k {
                        let idx = ((oy &* s &+ ky) &* width &+ ox &* s &+ kx) &* c &+ ch
                        let hit = (load16(x + idx) .== m) .& .!taken
                        taken = taken .| hit
                        var routed = zero.replacing(with: f.map { g * load16($0 + idx) } ?? g, where: hit)
                        if let r { routed.replace(with: zero, where: load16(r + idx) .<= zero) }
                        store16(overlapping ? load16(dx + idx) + routed : routed, dx + idx)
                    }
                }
                ch &+= 16
            }
            while ch < c {
                let m = y[o &+ ch]
                let g = reluBefore && r == nil && m <= 0 ? 0 : dy[o &+ ch]
                var taken = false
                for ky in 0..<k {
                    for kx in 0..<k {
                        let idx = ((oy &* s &+ ky) &* width &+ ox &* s &+ kx) &* c &+ ch
                        let hit = !taken && x[idx] == m
                        taken = taken || hit
                        let routed = hit && !(r.map { $0[idx] <= 0 } ?? false) ? g * (f?[idx] ?? 1) : 0
                        dx[idx] = overlapping ? dx[idx] + routed : routed
                    }
                }
                ch &+= 1
            }
        }
    }
}

/// A backward pass's output size, stride and whether windows overlap, with dx zeroed where its pixels are not each
/// written once: overlapping windows (s < k) add into a zeroed dx; otherwise each pixel is written once, zeroed
/// first only when some pixels lie outside every window or in the scalar channel tail.
@inlinable
func maxPoolBackwardGeometry(_ dx: UnsafeMutablePointer<Float>, height: Int, width: Int, channels c: Int, k: Int,
                             stride: Int?) -> (oh: Int, ow: Int, s: Int, overlapping: Bool) {
    let s = stride ?? k
    let oh = (height - k) / s + 1, ow = (width - k) / s + 1
    let overlapping = s < k
    if overlapping || oh * k != height || ow * k != width || s != k || c % 16 != 0 {
        dx.update(repeating: 0, count: height &* width &* c)
    }
    return (oh, ow, s, overlapping)
}
