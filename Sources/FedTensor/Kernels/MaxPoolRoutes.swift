// MaxPoolRoutes: max pooling that records each output's route as a byte (read back in MaxPoolRoutesBackward).

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
/// With `factor` (the m of multiplicative noise x = r·m, laid out like x; windows that do not overlap),
/// `routedFactor` (laid out like y) receives, for each output element, m at its window's max element (the one the
/// route names, before the ReLU's mask): what `maxPoolBackward(routes:…, routedFactor:)` multiplies by, so that the
/// backward pass reads one float per output instead of the whole factor tensor.
@inlinable
public func maxPoolForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                           routes: UnsafeMutablePointer<UInt8>, reluBefore: Bool,
                           reluOutput r: UnsafePointer<Float>? = nil,
                           height: Int, width: Int, channels c: Int, k: Int, stride: Int? = nil,
                           factor f: UnsafePointer<Float>? = nil, routedFactor rf: UnsafeMutablePointer<Float>? = nil) {
    precondition(k * k < Int(maxPoolNoRoute), "maxPoolForward: routes need k·k < 255")
    precondition(r == nil || reluBefore, "maxPoolForward: reluOutput needs reluBefore")
    precondition((f == nil) == (rf == nil), "maxPoolForward: factor and routedFactor go together")
    precondition(f == nil || (stride ?? k) >= k, "maxPoolForward: a factor needs windows that do not overlap")
    let s = stride ?? k
    let oh = (height - k) / s + 1, ow = (width - k) / s + 1
    if k == 2 && s == 2 && reluBefore && c % 16 == 0 {
        if let r, let f, let rf {
            maxPool2x2MaskedRoutesCarrying(x, r, f, y, routes: routes, routedFactor: rf, outHeight: oh, outWidth: ow,
                                           width: width, channels: c)
        } else if let r {
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
                if let f, let rf {
                    var m = load16(f + (corner &+ ch))
                    for ky in 0..<k {
                        for kx in 0..<k where ky != 0 || kx != 0 {
                            let pixel: Int = (oy &* s &+ ky) &* width &+ ox &* s &+ kx
                            let position = SIMD16<Int32>(repeating: Int32(ky &* k &+ kx))
                            m.replace(with: load16(f + (pixel &* c &+ ch)), where: route .== position)
                        }
                    }
                    store16(m, rf + (o &+ ch))
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
                if let f, let rf { rf[o &+ ch] = f[routed] }
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
    maskedRoutes2x2(x, r, nil, y, routes: routes, routedFactor: nil, outHeight: oh, outWidth: ow, width: width,
                    channels: c)
}

/// `maxPool2x2MaskedRoutes` where x = r·m (multiplicative noise, m in `factor`): m travels with the running max
/// too and is stored per output in `routedFactor` (`maxPoolForward(…, factor:, routedFactor:)`).
@inline(never) @usableFromInline
func maxPool2x2MaskedRoutesCarrying(_ x: UnsafePointer<Float>, _ r: UnsafePointer<Float>, _ f: UnsafePointer<Float>,
                                    _ y: UnsafeMutablePointer<Float>, routes: UnsafeMutablePointer<UInt8>,
                                    routedFactor: UnsafeMutablePointer<Float>, outHeight oh: Int, outWidth ow: Int,
                                    width: Int, channels c: Int) {
    maskedRoutes2x2(x, r, f, y, routes: routes, routedFactor: routedFactor, outHeight: oh, outWidth: ow,
                    width: width, channels: c)
}

/// The loop of both masked 2 × 2 kernels, inlined into each with `f` and `rf` nil or not (the branches fold away).
@inline(__always)
func maskedRoutes2x2(_ x: UnsafePointer<Float>, _ r: UnsafePointer<Float>, _ f: UnsafePointer<Float>?,
                     _ y: UnsafeMutablePointer<Float>, routes: UnsafeMutablePointer<UInt8>,
                     routedFactor rf: UnsafeMutablePointer<Float>?, outHeight oh: Int, outWidth ow: Int, width: Int,
                     channels c: Int) {
    typealias F = SIMD16<Float>
    @_transparent func code(_ b: UInt8) -> F { F(repeating: Float(bitPattern: UInt32(b))) }
    let rowSize = width &* c
    var out = y, outRoutes = routes, outFactor = rf
    for oy in 0..<oh {
        let first = (2 &* oy) &* rowSize
        var top = x + first, clean = r + first, factor = f.map { $0 + first }
        for _ in 0..<ow {
            var ch = 0
            while ch < c {
                var best = load16(top + ch), route = code(0), routed = load16(clean + ch)
                var m = factor.map { load16($0 + ch) } ?? F()
                @inline(__always) func visit(_ at: Int, _ position: UInt8) {
                    let v = load16(top + at)
                    let greater = v .> best
                    best.replace(with: v, where: greater)
                    route.replace(with: code(position), where: greater)
                    routed.replace(with: load16(clean + at), where: greater)
                    if let factor { m.replace(with: load16(factor + at), where: greater) }
                }
                visit(c &+ ch, 1)
                visit(rowSize &+ ch, 2)
                visit(rowSize &+ c &+ ch, 3)
                route.replace(with: code(maxPoolNoRoute), where: (best .!= best) .| (routed .<= F()))
                store16(best, out + ch)
                if let outFactor { store16(m, outFactor + ch) }
                UnsafeMutableRawPointer(outRoutes + ch).storeBytes(
                    of: SIMD16<UInt8>(truncatingIfNeeded: unsafeBitCast(route, to: SIMD16<UInt32>.self)),
                    as: SIMD16<UInt8>.self)
                ch &+= 16
            }
            top += 2 &* c
            clean += 2 &* c
            factor = factor.map { $0 + 2 &* c }
            out += c
            outFactor = outFactor.map { $0 + c }
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
