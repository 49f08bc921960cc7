// MaxPoolRoutesBackward: max pooling's backward pass from the route bytes its forward pass recorded.

/// `maxPoolBackward(…, reluBefore:)` from the routes `maxPoolForward(…, routes:, reluBefore:)` wrote, without x or
/// y: the same dx, bit for bit (each window element gets dy where the route names it, +0 elsewhere; overlapping
/// windows add in the same order). `dx` is overwritten as there. With `prefetchAhead` > 0, each output row also asks
/// for the dy and routes `prefetchAhead` elements further on (the next sample's same row, where samples are that far
/// apart), so that a pass sample by sample finds them in cache; the caller keeps them inside its buffers. With
/// `factor` (windows that do not overlap), the element a route names gets dy times `factor` at that element:
/// `maxPoolBackward(…, factor:)`'s routed form (`maxPool2x2BackwardRoutesScaled`). With `routedFactor` instead
/// (laid out like dy: what `maxPoolForward(…, factor:, routedFactor:)` wrote), the routed element gets dy times
/// the output's own entry, the same product and bits as with `factor`, reading one float per output.
@inlinable
public func maxPoolBackward(routes: UnsafePointer<UInt8>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                            height: Int, width: Int, channels c: Int, k: Int, stride: Int? = nil,
                            prefetchAhead ahead: Int = 0, factor f: UnsafePointer<Float>? = nil,
                            routedFactor rf: UnsafePointer<Float>? = nil) {
    precondition(f == nil || rf == nil, "maxPoolBackward: factor or routedFactor, not both")
    precondition((f == nil && rf == nil) || (stride ?? k) >= k,
                 "maxPoolBackward: a factor needs windows that do not overlap")
    let (oh, ow, s, overlapping) = maxPoolBackwardGeometry(dx, height: height, width: width, channels: c, k: k,
                                                           stride: stride)
    if k == 2 && s == 2 && c % 16 == 0 {
        if let rf {
            maxPool2x2BackwardRoutesRoutedFactor(routes, dy, rf, dx, outHeight: oh, outWidth: ow, width: width,
                                                 channels: c, prefetchAhead: ahead)
        } else if let f {
            maxPool2x2BackwardRoutesScaled(routes, dy, f, dx, outHeight: oh, outWidth: ow, width: width, channels: c,
                                           prefetchAhead: ahead)
        } else {
            maxPool2x2BackwardRoutes(routes, dy, dx, outHeight: oh, outWidth: ow, width: width, channels: c,
                                     prefetchAhead: ahead)
        }
        return
    }
    let zero = SIMD16<Float>(repeating: 0)
    for oy in 0..<oh {
        if ahead > 0 {
            let row = oy &* ow &* c &+ ahead
            prefetchForReading(dy + row, bytes: ow &* c &* MemoryLayout<Float>.stride)
            prefetchForReading(routes + row, bytes: ow &* c)
        }
        for ox in 0..<ow {
            let o = (oy &* ow &+ ox) &* c
            var ch = 0
            while ch &+ 16 <= c {
                let route = SIMD16<Int32>(truncatingIfNeeded: UnsafeRawPointer(routes + (o &+ ch))
                    .loadUnaligned(as: SIMD16<UInt8>.self))
                let g = load16(dy + (o &+ ch))
                if f != nil || rf != nil {
                    let scaledOnce = rf.map { g * load16($0 + (o &+ ch)) }
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let idx = ((oy &* s &+ ky) &* width &+ ox &* s &+ kx) &* c &+ ch
                            let position = SIMD16<Int32>(repeating: Int32(ky &* k &+ kx))
                            let scaled = scaledOnce ?? g * load16(f! + idx)
                            store16(zero.replacing(with: scaled, where: route .== position), dx + idx)
                        }
                    }
                    ch &+= 16
                    continue
                }
                if k == 2 && !overlapping {
                    // The usual 2 × 2 window written out (the loop below, in the same order).
                    let top = dx + (((oy &* s) &* width &+ ox &* s) &* c &+ ch), below = top + width &* c
                    store16(zero.replacing(with: g, where: route .== SIMD16<Int32>(repeating: 0)), top)
                    store16(zero.replacing(with: g, where: route .== SIMD16<Int32>(repeating: 1)), top + c)
                    store16(zero.replacing(with: g, where: route .== SIMD16<Int32>(repeating: 2)), below)
                    store16(zero.replacing(with: g, where: route .== SIMD16<Int32>(repeating: 3)), below + c)
                    ch &+= 16
                    continue
                }
                for ky in 0..<k {
                    for kx in 0..<k {
                        let pixel: Int = (oy &* s &+ ky) &* width &+ ox &* s &+ kx
                        let idx = pixel &* c &+ ch
                        let position = SIMD16<Int32>(repeating: Int32(ky &* k &+ kx))
                        let routed = zero.replacing(with: g, where: route .== position)
                        store16(overlapping ? load16(dx + idx) + routed : routed, dx + idx)
                    }
                }
                ch &+= 16
            }
            while ch < c {
                let route = Int(routes[o &+ ch])
                for ky in 0..<k {
                    for kx in 0..<k {
                        let idx = ((oy &* s &+ ky) &* width &+ ox &* s &+ kx) &* c &+ ch
                        let m = rf?[o &+ ch] ?? f?[idx] ?? 1
                        let routed: Float = route == ky &* k &+ kx ? dy[o &+ ch] * m : 0
                        dx[idx] = overlapping ? dx[idx] + routed : routed
                    }
                }
                ch &+= 1
            }
        }
    }
}

/// `maxPoolBackward(routes:…)` for a 2 × 2 window of stride 2 with channels in whole vectors (the McMahan CNN's
/// pools), the loop of its general case with nothing else live: each window element gets dy where the route names
/// it and +0 elsewhere, the same bits. (Inside the general function this case kept its loop counters on the stack:
/// ≈ 11 cycles per 16 outputs, the first convolution's backward pass 20% longer than without the pool.) The rows
/// and columns no window covers were zeroed by `maxPoolBackwardGeometry`.
@inline(never) @usableFromInline
func maxPool2x2BackwardRoutes(_ routes: UnsafePointer<UInt8>, _ dy: UnsafePointer<Float>,
                              _ dx: UnsafeMutablePointer<Float>, outHeight oh: Int, outWidth ow: Int, width: Int,
                              channels c: Int, prefetchAhead ahead: Int) {
    routedBackward2x2(routes, dy, dx, outHeight: oh, outWidth: ow, width: width, channels: c, prefetchAhead: ahead,
                      Unscaled())
}

/// `maxPool2x2BackwardRoutes` with each routed gradient multiplied by `factor` at the element it goes to: the
/// backward pass of a pool after multiplicative noise x̃ = x·m on a ReLU's output (m in `factor`), the noise layer's
/// dx = dy·m folded in. The element a window routes to gets dy·m (the product the noise layer's own pass forms);
/// the others +0, where that pass would write 0·m (−0 where m < 0): a zero of either sign adds nothing to the
/// convolution's sums, so the parameters keep every bit.
@inline(never) @usableFromInline
func maxPool2x2BackwardRoutesScaled(_ routes: UnsafePointer<UInt8>, _ dy: UnsafePointer<Float>,
                                    _ factor: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                    outHeight oh: Int, outWidth ow: Int, width: Int, channels c: Int,
                                    prefetchAhead ahead: Int) {
    routedBackward2x2(routes, dy, dx, outHeight: oh, outWidth: ow, width: width, channels: c, prefetchAhead: ahead,
                      ByFactor(factor: factor))
}

/// `maxPool2x2BackwardRoutesScaled` with the factor per output (`maxPoolForward(…, routedFactor:)`): dy times that
/// output's entry, the same product, reading 1 float per output instead of the window's 4.
@inline(never) @usableFromInline
func maxPool2x2BackwardRoutesRoutedFactor(_ routes: UnsafePointer<UInt8>, _ dy: UnsafePointer<Float>,
                                          _ routedFactor: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                          outHeight oh: Int, outWidth ow: Int, width: Int, channels c: Int,
                                          prefetchAhead ahead: Int) {
    routedBackward2x2(routes, dy, dx, outHeight: oh, outWidth: ow, width: width, channels: c, prefetchAhead: ahead,
                      ByRoutedFactor(factor: routedFactor))
}

/// What a routed 2 × 2 backward pass sends to the element at dx offset `at` from output offset `output`: dy
/// itself, or dy times a factor at that element or at that output.
protocol RoutedGradient {
    func value(_ dy: SIMD16<Float>, at: Int, output: Int) -> SIMD16<Float>
    /// Asks for the factor entries of the outputs `output ..< output + count` (a hint; nothing to ask by default).
    func prefetch(output: Int, count: Int)
}

extension RoutedGradient {
    @inline(__always) func prefetch(output: Int, count: Int) {}
}

struct Unscaled: RoutedGradient {
    @inline(__always) func value(_ dy: SIMD16<Float>, at: Int, output: Int) -> SIMD16<Float> { dy }
}

struct ByFactor: RoutedGradient {
    let factor: UnsafePointer<Float>
    @inline(__always) func value(_ dy: SIMD16<Float>, at: Int, output: Int) -> SIMD16<Float> {
        dy * load16(factor + at)
    }
}

struct ByRoutedFactor: RoutedGradient {
    let factor: UnsafePointer<Float>
    @inline(__always) func value(_ dy: SIMD16<Float>, at: Int, output: Int) -> SIMD16<Float> {
        dy * load16(factor + output)
    }
    @inline(__always) func prefetch(output: Int, count: Int) {
        prefetchForReading(factor + output, bytes: count &* MemoryLayout<Float>.stride)
    }
}

/// The loop both 2 × 2 routed backward kernels run, specialised and inlined into each (`@inline(never)` above keeps
/// one register allocation per kernel): per output row a prefetch of the next sample's dy and routes, per window
/// four masked stores of `gradient.value(dy, at:)`.
@inline(__always)
func routedBackward2x2<G: RoutedGradient>(_ routes: UnsafePointer<UInt8>, _ dy: UnsafePointer<Float>,
                                          _ dx: UnsafeMutablePointer<Float>, outHeight oh: Int, outWidth ow: Int,
                                          width: Int, channels c: Int, prefetchAhead ahead: Int, _ gradient: G) {
    let zero = SIMD16<Float>(), rowSize = width &* c, outRow = ow &* c
    for oy in 0..<oh {
        let first = oy &* outRow
        if ahead > 0 {
            prefetchForReading(dy + (first &+ ahead), bytes: outRow &* MemoryLayout<Float>.stride)
            prefetchForReading(routes + (first &+ ahead), bytes: outRow)
            gradient.prefetch(output: first &+ ahead, count: outRow)
        }
        var r = routes + first, g = dy + first
        var top = (2 &* oy) &* rowSize
        for _ in 0..<ow {
            let below = top &+ rowSize
            var ch = 0
            while ch < c {
                let bytes = UnsafeRawPointer(r + ch).loadUnaligned(as: SIMD16<UInt8>.self)
                let route = SIMD16<Int32>(truncatingIfNeeded: bytes)
                let v = load16(g + ch), output = (g - dy) &+ ch
                @inline(__always) func put(_ at: Int, _ p: Int32) {
                    let routed = route .== SIMD16<Int32>(repeating: p)
                    store16(zero.replacing(with: gradient.value(v, at: at, output: output), where: routed), dx + at)
                }
                put(top &+ ch, 0)
                put(top &+ c &+ ch, 1)
                put(below &+ ch, 2)
                put(below &+ c &+ ch, 3)
                ch &+= 16
            }
            r += c
            g += c
            top &+= 2 &* c
        }
    }
}
