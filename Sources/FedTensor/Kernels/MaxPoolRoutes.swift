// MaxPoolRoutes: max pooling that records each output's route as a byte, and the backward pass that reads them.

/// The route byte of an output element whose backward pass routes nothing (see `maxPoolForward(…, routes:)`).
@inlinable public var maxPoolNoRoute: UInt8 { 255 }

/// `maxPoolForward` (the same y, bit for bit) that also writes, for each output element, the route its gradient
/// takes back (`routes`, one byte per element of y): the window position ky·k + kx of the first element, in
/// row-major order, that equals the window's max (the element `maxPoolBackward` routes to), or `maxPoolNoRoute`
/// where nothing is routed: the max is NaN (no element equals it) or, with `reluBefore`, the ReLU's mask zeroes
/// what is routed: the max is ≤ 0, or with `reluOutput` r (x = r + η, additive noise on that ReLU's output, as in
/// `maxPoolBackward`) r is ≤ 0 at the routed element. The scan keeps a running max and moves it only to a strictly
/// greater element, so the position it ends on is that first equal element: every element before it is smaller
/// or NaN. Needs k·k < 255. `maxPoolBackward(routes:)` then needs only these bytes and dy, not x (k·k floats per
/// byte), y or r.
@inlinable
public func maxPoolForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                           routes: UnsafeMutablePointer<UInt8>, reluBefore: Bool,
                           reluOutput r: UnsafePointer<Float>? = nil,
                           height: Int, width: Int, channels c: Int, k: Int, stride: Int? = nil) {
    precondition(k * k < Int(maxPoolNoRoute), "maxPoolForward: routes need k·k < 255")
    precondition(r == nil || reluBefore, "maxPoolForward: reluOutput needs reluBefore")
    let s = stride ?? k
    let oh = (height - k) / s + 1, ow = (width - k) / s + 1
    if k == 2 && s == 2 && reluBefore && c % 16 == 0 {
        if let r {
            maxPool2x2MaskedRoutes(x, r, y, routes: routes, outHeight: oh, outWidth: ow, width: width, channels: c)
        } else {
            maxPool2x2ReLURoutes(x, y, routes: routes, outHeight: oh, outWidth: ow, width: width, channels: c)
        }
        return
    }
    let zero = SIMD16<Float>(repeating: 0)
    let none = SIMD16<Int32>(repeating: Int32(maxPoolNoRoute))
    for oy in 0..<oh {
        for ox in 0..<ow {
            let o = (oy &* ow &+ ox) &* c
            let corner: Int = ((oy &* s) &* width &+ ox &* s) &* c
            let first = x + corner
            var ch = 0
            while ch &+ 16 <= c {
                var best = load16(first + ch)
                var route = SIMD16<Int32>(repeating: 0)
                if k == 2 {
                    // The usual 2 × 2 window written out (the loop below, in the same order, without its index
                    // arithmetic).
                    let below = first + width &* c
                    let b1 = load16(first + (c &+ ch)), b2 = load16(below + ch), b3 = load16(below + (c &+ ch))
                    let g1 = b1 .> best
                    best.replace(with: b1, where: g1)
                    route.replace(with: SIMD16<Int32>(repeating: 1), where: g1)
                    let g2 = b2 .> best
                    best.replace(with: b2, where: g2)
                    route.replace(with: SIMD16<Int32>(repeating: 2), where: g2)
                    let g3 = b3 .> best
                    best.replace(with: b3, where: g3)
                    route.replace(with: SIMD16<Int32>(repeating: 3), where: g3)
                } else {
                    for ky in 0..<k {
                        for kx in 0..<k where ky != 0 || kx != 0 {
                            let pixel: Int = (oy &* s &+ ky) &* width &+ ox &* s &+ kx
                            let b = load16(x + (pixel &* c &+ ch))
                            let greater = b .> best
                            best.replace(with: b, where: greater)
                            let position = SIMD16<Int32>(repeating: Int32(ky &* k &+ kx))
                            route.replace(with: position, where: greater)
                        }
                    }
                }
                var silent = best .!= best
                if let r {
                    // The ReLU's output at each lane's routed element.
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let pixel: Int = (oy &* s &+ ky) &* width &+ ox &* s &+ kx
                            let position = SIMD16<Int32>(repeating: Int32(ky &* k &+ kx))
                            let here = route .== position
                            let off = load16(r + (pixel &* c &+ ch)) .<= zero
                            silent = silent .| (here .& off)
                        }
                    }
                } else if reluBefore {
                    silent = silent .| (best .<= zero)
                }
                route.replace(with: none, where: silent)
                store16(best, y + (o &+ ch))
                UnsafeMutableRawPointer(routes + (o &+ ch))
                    .storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: route), as: SIMD16<UInt8>.self)
                ch &+= 16
            }
            while ch < c {
                var best = first[ch]
                var route = 0, routed = corner &+ ch
                for ky in 0..<k {
                    for kx in 0..<k where ky != 0 || kx != 0 {
                        let pixel: Int = (oy &* s &+ ky) &* width &+ ox &* s &+ kx
                        let b = x[pixel &* c &+ ch]
                        if b > best { best = b; route = ky &* k &+ kx; routed = pixel &* c &+ ch }
                    }
                }
                y[o &+ ch] = best
                let masked = r.map { $0[routed] <= 0 } ?? (reluBefore && best <= 0)
                routes[o &+ ch] = best.isNaN || masked ? maxPoolNoRoute : UInt8(route)
                ch &+= 1
            }
        }
    }
}

/// `maxPoolForward(…, routes:, reluBefore: true)` for its most common case, a 2 × 2 window of stride 2 on a ReLU's
/// output with channels in whole vectors (the McMahan CNN's pools): the same comparisons in the same order, written
/// without index arithmetic or mask logic (a route is kept where the max is > 0, so NaN and ≤ 0 give none), which
/// halves the pass's cost where it runs band by band inside the convolution before it.
@inline(never) @usableFromInline
func maxPool2x2ReLURoutes(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                          routes: UnsafeMutablePointer<UInt8>, outHeight oh: Int, outWidth ow: Int, width: Int,
                          channels c: Int) {
    let rowSize = width &* c
    var out = y, outRoutes = routes
    for oy in 0..<oh {
        var top = x + (2 &* oy) &* rowSize
        for _ in 0..<ow {
            let below = top + rowSize
            var ch = 0
            while ch < c {
                let route = pool2x2ReLURoute(load16(top + ch), load16(top + (c &+ ch)), load16(below + ch),
                                             load16(below + (c &+ ch)), into: out + ch)
                UnsafeMutableRawPointer(outRoutes + ch).storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: route),
                                                                   as: SIMD16<UInt8>.self)
                ch &+= 16
            }
            top += 2 &* c
            out += c
            outRoutes += c
        }
    }
}

/// `maxPoolForward(…, routes:, reluBefore: true, reluOutput: r)` for a 2 × 2 window of stride 2 with channels in
/// whole vectors: the pool after noise on a ReLU's output r (`MaxPool2d.forwardAcrossNoise`). The comparisons of
/// `maxPool2x2ReLURoutes` in the same order; the routed element's r travels with the running max (the same
/// selects), and a lane routes nothing where that r is ≤ 0 or the max is NaN: the general loop's bits without its
/// index arithmetic and its second scan for the mask (that loop made the pool as slow as drawing the noise).
@inline(never) @usableFromInline
func maxPool2x2MaskedRoutes(_ x: UnsafePointer<Float>, _ r: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                            routes: UnsafeMutablePointer<UInt8>, outHeight oh: Int, outWidth ow: Int, width: Int,
                            channels c: Int) {
    typealias F = SIMD16<Float>
    @_transparent func code(_ b: UInt8) -> F { F(repeating: Float(bitPattern: UInt32(b))) }
    let rowSize = width &* c
    var out = y, outRoutes = routes
    for oy in 0..<oh {
        let first = (2 &* oy) &* rowSize
        var top = x + first, clean = r + first
        for _ in 0..<ow {
            var ch = 0
            while ch < c {
                var best = load16(top + ch), route = code(0), routed = load16(clean + ch)
                @inline(__always) func visit(_ at: Int, _ position: UInt8) {
                    let v = load16(top + at)
                    let greater = v .> best
                    best.replace(with: v, where: greater)
                    route.replace(with: code(position), where: greater)
                    routed.replace(with: load16(clean + at), where: greater)
                }
                visit(c &+ ch, 1)
                visit(rowSize &+ ch, 2)
                visit(rowSize &+ c &+ ch, 3)
                route.replace(with: code(maxPoolNoRoute), where: (best .!= best) .| (routed .<= F()))
                store16(best, out + ch)
                UnsafeMutableRawPointer(outRoutes + ch).storeBytes(
                    of: SIMD16<UInt8>(truncatingIfNeeded: unsafeBitCast(route, to: SIMD16<UInt32>.self)),
                    as: SIMD16<UInt8>.self)
                ch &+= 16
            }
            top += 2 &* c
            clean += 2 &* c
            out += c
            outRoutes += c
        }
    }
}

/// One 2 × 2 window of 16 channels on a ReLU's output, as `maxPool2x2ReLURoutes` pools it: the max of top-left,
/// top-right, bottom-left, bottom-right (compared in that order, moving only to a strictly greater element) into
/// `y`; returns the route of each lane (0…3, or `maxPoolNoRoute` where the max is not > 0), for the caller to store
/// as bytes. Shared with the convolution tiles that pool in registers (`OneChannelPooledConv`), so both write the
/// same bits.
@inline(__always)
func pool2x2ReLURoute(_ topLeft: SIMD16<Float>, _ topRight: SIMD16<Float>, _ bottomLeft: SIMD16<Float>,
                      _ bottomRight: SIMD16<Float>, into y: UnsafeMutablePointer<Float>) -> SIMD16<UInt32> {
    // A route is chosen among floats whose bit patterns are the route bytes 0…3 and 255, so that every select takes
    // the float compares' masks as they are (integer selects on them compiled to mask conversions costing more than
    // the pool itself). No arithmetic touches these floats.
    typealias F = SIMD16<Float>
    @_transparent func code(_ b: UInt8) -> F { F(repeating: Float(bitPattern: UInt32(b))) }
    var best = topLeft, route = code(0)
    let g1 = topRight .> best
    best.replace(with: topRight, where: g1)
    route.replace(with: code(1), where: g1)
    let g2 = bottomLeft .> best
    best.replace(with: bottomLeft, where: g2)
    route.replace(with: code(2), where: g2)
    let g3 = bottomRight .> best
    best.replace(with: bottomRight, where: g3)
    route.replace(with: code(3), where: g3)
    route = code(maxPoolNoRoute).replacing(with: route, where: best .> F())
    store16(best, y)
    return unsafeBitCast(route, to: SIMD16<UInt32>.self)
}

/// Four `pool2x2ReLURoute` routes as 64 bytes at `p` (r0's lanes first). Not inlined on purpose: in a small body
/// the standard library's narrowing inlines to two shuffles a vector, where inside the convolution's pooled tile it
/// stayed a call per vector (which spilled the live accumulators) or, picked lane by lane, became ten shuffles
/// and byte moves.
@inline(never)
func storeRouteBytes(_ r0: SIMD16<UInt32>, _ r1: SIMD16<UInt32>, _ r2: SIMD16<UInt32>, _ r3: SIMD16<UInt32>,
                     _ p: UnsafeMutablePointer<UInt8>) {
    let raw = UnsafeMutableRawPointer(p)
    raw.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: r0), as: SIMD16<UInt8>.self)
    raw.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: r1), toByteOffset: 16, as: SIMD16<UInt8>.self)
    raw.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: r2), toByteOffset: 32, as: SIMD16<UInt8>.self)
    raw.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: r3), toByteOffset: 48, as: SIMD16<UInt8>.self)
}

/// Two `pool2x2ReLURoute` routes as 32 bytes at `p` (the 2-pixel tiles' `storeRouteBytes`).
@inline(never)
func storeRouteBytes(_ r0: SIMD16<UInt32>, _ r1: SIMD16<UInt32>, _ p: UnsafeMutablePointer<UInt8>) {
    let raw = UnsafeMutableRawPointer(p)
    raw.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: r0), as: SIMD16<UInt8>.self)
    raw.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: r1), toByteOffset: 16, as: SIMD16<UInt8>.self)
}

/// `maxPoolBackward(…, reluBefore:)` from the routes `maxPoolForward(…, routes:, reluBefore:)` wrote, without x or
/// y: the same dx, bit for bit (each window element gets dy where the route names it, +0 elsewhere; overlapping
/// windows add in the same order). `dx` is overwritten as there. With `prefetchAhead` > 0, each output row also asks
/// for the dy and routes `prefetchAhead` elements further on (the next sample's same row, where samples are that far
/// apart), so that a pass sample by sample finds them in cache; the caller keeps them inside its buffers. With
/// `factor` (windows that do not overlap), the element a route names gets dy times `factor` at that element:
/// `maxPoolBackward(…, factor:)`'s routed form (`maxPool2x2BackwardRoutesScaled`).
@inlinable
public func maxPoolBackward(routes: UnsafePointer<UInt8>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                            height: Int, width: Int, channels c: Int, k: Int, stride: Int? = nil,
                            prefetchAhead ahead: Int = 0, factor f: UnsafePointer<Float>? = nil) {
    precondition(f == nil || (stride ?? k) >= k, "maxPoolBackward: a factor needs windows that do not overlap")
    let (oh, ow, s, overlapping) = maxPoolBackwardGeometry(dx, height: height, width: width, channels: c, k: k,
                                                           stride: stride)
    if k == 2 && s == 2 && c % 16 == 0 {
        if let f {
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
                if let f {
                    for ky in 0..<k {
                        for kx in 0..<k {
                            let idx = ((oy &* s &+ ky) &* width &+ ox &* s &+ kx) &* c &+ ch
                            let position = SIMD16<Int32>(repeating: Int32(ky &* k &+ kx))
                            store16(zero.replacing(with: g * load16(f + idx), where: route .== position), dx + idx)
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
                        let routed: Float = route == ky &* k &+ kx ? dy[o &+ ch] * (f?[idx] ?? 1) : 0
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

/// What a routed 2 × 2 backward pass sends to the element at dx offset `at`: dy itself or dy times a factor there.
protocol RoutedGradient {
    func value(_ dy: SIMD16<Float>, at: Int) -> SIMD16<Float>
}

struct Unscaled: RoutedGradient {
    @inline(__always) func value(_ dy: SIMD16<Float>, at: Int) -> SIMD16<Float> { dy }
}

struct ByFactor: RoutedGradient {
    let factor: UnsafePointer<Float>
    @inline(__always) func value(_ dy: SIMD16<Float>, at: Int) -> SIMD16<Float> { dy * load16(factor + at) }
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
        }
        var r = routes + first, g = dy + first
        var top = (2 &* oy) &* rowSize
        for _ in 0..<ow {
            let below = top &+ rowSize
            var ch = 0
            while ch < c {
                let bytes = UnsafeRawPointer(r + ch).loadUnaligned(as: SIMD16<UInt8>.self)
                let route = SIMD16<Int32>(truncatingIfNeeded: bytes)
                let v = load16(g + ch)
                @inline(__always) func put(_ at: Int, _ p: Int32) {
                    let routed = route .== SIMD16<Int32>(repeating: p)
                    store16(zero.replacing(with: gradient.value(v, at: at), where: routed), dx + at)
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
