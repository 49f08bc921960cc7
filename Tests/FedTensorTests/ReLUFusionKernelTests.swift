// ReLUFusionKernelTests: a ReLU fused into the max pool's backward and the convolution's store keeps the bits.
import FedTensor
import Testing

@Suite struct ReLUFusionKernelTests {
    /// ReLU outputs, mostly zeros of both signs (so that many windows hold no positive value and the ReLU's mask
    /// matters: with 3 × 3 windows ≈ 7.5% of them), ties at 0.5 and a spread of positives.
    static func reluOutputs(_ n: Int, seed: UInt64) -> [Float] {
        var rng = Philox(seed: seed, 1)
        return (0..<n).map { i in
            switch i % 8 {
            case 0, 3, 5: return 0
            case 1, 6: return -0.0
            case 2: return 0.5  // ties inside a window
            default: return max(0, Float(rng.nextGaussian()))
            }
        }
    }

    /// `maxPoolBackward(…, reluBefore: true)` equals `maxPoolBackward` followed by `reluBackward` on its input
    /// (the ReLU's output), bit for bit: non-overlapping and overlapping windows, channel counts with and without a
    /// scalar tail. Negative control: without the ReLU's mask the two differ (all-zero windows route gradient).
    @Test(arguments: [(8, 8, 32, 2, 2), (9, 7, 20, 2, 2), (7, 7, 16, 3, 2), (6, 6, 3, 2, 1), (28, 28, 32, 2, 2)])
    func maxPoolBackwardWithReLUEqualsTwoPasses(_ h: Int, _ w: Int, _ c: Int, _ k: Int, _ s: Int) {
        let x = Self.reluOutputs(h * w * c, seed: UInt64(h * 100 + c))
        let oh = (h - k) / s + 1, ow = (w - k) / s + 1
        var y = [Float](repeating: 0, count: oh * ow * c)
        maxPoolForward(x, &y, height: h, width: w, channels: c, k: k, stride: s)
        var rng = Philox(seed: 5, UInt64(c))
        let dy = (0..<y.count).map { _ in Float(rng.nextGaussian()) }
        var twoPass = [Float](repeating: .nan, count: x.count)
        maxPoolBackward(x, output: y, dy, &twoPass, height: h, width: w, channels: c, k: k, stride: s)
        let routed = twoPass
        reluBackward(output: x, routed, &twoPass, count: x.count)
        var fused = [Float](repeating: .nan, count: x.count)
        maxPoolBackward(x, output: y, dy, &fused, height: h, width: w, channels: c, k: k, stride: s, reluBefore: true)
        #expect(fused.map(\.bitPattern) == twoPass.map(\.bitPattern))
        let masked = zip(routed, twoPass).filter { $0.bitPattern != $1.bitPattern }.count
        #expect(masked > 0, "the ReLU's mask must matter on this input (routed gradient it zeroes)")
    }

    /// Pool inputs (H·W pixels of c channels) with what the route rule must get right, by channel: every pixel 0.5
    /// (each window's max tied across the window), zeros of both signs, NaNs at every third pixel, negatives only,
    /// and a spread of values.
    static func awkwardInputs(pixels: Int, channels c: Int, seed: UInt64) -> [Float] {
        var rng = Philox(seed: seed, 2)
        return (0..<pixels * c).map { i in
            let pixel = i / c
            switch (i % c) % 5 {
            case 0: return 0.5
            case 1: return pixel % 2 == 0 ? 0 : -0.0
            case 2 where pixel % 3 == 0: return .nan
            case 3: return -Float(pixel % 7) - 1
            default: return Float(rng.nextGaussian())
            }
        }
    }

    /// `maxPoolForward(…, routes:, reluBefore: true)` writes the bits of `maxPoolForward`, and `maxPoolBackward(routes:)`
    /// the bits of `maxPoolBackward(…, reluBefore: true)` from x and y, on ReLU outputs and on inputs with ties, NaNs
    /// and negatives; 2 × 2 windows (written out in the kernels: `maxPool2x2BackwardRoutes` where the channels are
    /// whole vectors, with odd edges left for the zeroing) and 3 × 3 ones (the general loops), non-overlapping and
    /// overlapping, odd edges, channel counts with a scalar tail.
    /// Negative control: on the awkward inputs (every window of channel 0 tied at 0.5), routing to the last equal
    /// element instead of the first gives a different dx.
    @Test(arguments: [(8, 8, 32, 2, 2), (9, 7, 20, 2, 2), (7, 7, 16, 3, 2), (6, 6, 3, 2, 1), (28, 28, 32, 2, 2),
                      (10, 9, 48, 2, 1), (9, 9, 16, 3, 3), (9, 7, 32, 2, 2)])
    func maxPoolBackwardFromRoutesEqualsFromInputs(_ h: Int, _ w: Int, _ c: Int, _ k: Int, _ s: Int) {
        let oh = (h - k) / s + 1, ow = (w - k) / s + 1
        for (name, x) in [("relu", Self.reluOutputs(h * w * c, seed: UInt64(h * 10 + c))),
                          ("awkward", Self.awkwardInputs(pixels: h * w, channels: c, seed: UInt64(h * 10 + c)))] {
            var y = [Float](repeating: 0, count: oh * ow * c), yRouted = y
            var routes = [UInt8](repeating: 0, count: y.count)
            maxPoolForward(x, &y, height: h, width: w, channels: c, k: k, stride: s)
            maxPoolForward(x, &yRouted, routes: &routes, reluBefore: true, height: h, width: w, channels: c, k: k,
                           stride: s)
            #expect(yRouted.map(\.bitPattern) == y.map(\.bitPattern), "\(name): pooled values")
            var rng = Philox(seed: 9, UInt64(c))
            let dy = (0..<y.count).map { _ in Float(rng.nextGaussian()) }
            var fromInputs = [Float](repeating: .nan, count: x.count), fromRoutes = fromInputs
            maxPoolBackward(x, output: y, dy, &fromInputs, height: h, width: w, channels: c, k: k, stride: s,
                            reluBefore: true)
            maxPoolBackward(routes: routes, dy, &fromRoutes, height: h, width: w, channels: c, k: k, stride: s)
            #expect(fromRoutes.map(\.bitPattern) == fromInputs.map(\.bitPattern), "\(name): input gradient")
            // The negative control: the last equal element of every window as its route.
            var lastRoutes = routes
            for oy in 0..<oh {
                for ox in 0..<ow {
                    for ch in 0..<c where routes[(oy * ow + ox) * c + ch] != maxPoolNoRoute {
                        let o = (oy * ow + ox) * c + ch
                        for ky in 0..<k {
                            for kx in 0..<k where x[((oy * s + ky) * w + ox * s + kx) * c + ch] == y[o] {
                                lastRoutes[o] = UInt8(ky * k + kx)
                            }
                        }
                    }
                }
            }
            guard name == "awkward" else { continue }  // (ReLU outputs tie at 0.5 only for some channel counts)
            var fromLast = fromInputs
            maxPoolBackward(routes: lastRoutes, dy, &fromLast, height: h, width: w, channels: c, k: k, stride: s)
            #expect(fromLast.map(\.bitPattern) != fromInputs.map(\.bitPattern),
                    "\(name): routing ties to the last equal element must change dx on this input")
        }
    }

    /// Routes recorded after additive noise on a ReLU's output r (`reluOutput:`) give the bits of
    /// `maxPoolBackward(…, reluBefore: true, reluOutput: r)`: the mask is r's at the routed element, not the noisy
    /// max's. 2 × 2 and 3 × 3 windows, overlapping and not, a scalar channel tail. Negative control: routes masked
    /// by the noisy max instead (`reluOutput` left out) give a different dx.
    @Test(arguments: [(8, 8, 32, 2, 2), (9, 7, 20, 2, 2), (7, 7, 16, 3, 2), (10, 9, 48, 2, 1), (6, 6, 3, 2, 1)])
    func maxPoolRoutesAcrossNoiseUseTheReLUsMask(_ h: Int, _ w: Int, _ c: Int, _ k: Int, _ s: Int) {
        let r = Self.reluOutputs(h * w * c, seed: UInt64(h * 7 + c))
        var rng = Philox(seed: 11, UInt64(c))
        let x = r.map { $0 + 0.3 * Float(rng.nextGaussian()) }  // x = r + η
        let oh = (h - k) / s + 1, ow = (w - k) / s + 1
        var y = [Float](repeating: 0, count: oh * ow * c), yRouted = y
        var routes = [UInt8](repeating: 0, count: y.count), noisyMaskRoutes = routes
        maxPoolForward(x, &y, height: h, width: w, channels: c, k: k, stride: s)
        maxPoolForward(x, &yRouted, routes: &routes, reluBefore: true, reluOutput: r, height: h, width: w,
                       channels: c, k: k, stride: s)
        #expect(yRouted.map(\.bitPattern) == y.map(\.bitPattern))
        let dy = (0..<y.count).map { _ in Float(rng.nextGaussian()) }
        var fromInputs = [Float](repeating: .nan, count: x.count), fromRoutes = fromInputs
        maxPoolBackward(x, output: y, dy, &fromInputs, height: h, width: w, channels: c, k: k, stride: s,
                        reluBefore: true, reluOutput: r)
        maxPoolBackward(routes: routes, dy, &fromRoutes, height: h, width: w, channels: c, k: k, stride: s)
        #expect(fromRoutes.map(\.bitPattern) == fromInputs.map(\.bitPattern))
        var scratch = y
        maxPoolForward(x, &scratch, routes: &noisyMaskRoutes, reluBefore: true, height: h, width: w, channels: c,
                       k: k, stride: s)
        var fromNoisyMask = fromInputs
        maxPoolBackward(routes: noisyMaskRoutes, dy, &fromNoisyMask, height: h, width: w, channels: c, k: k, stride: s)
        #expect(fromNoisyMask.map(\.bitPattern) != fromInputs.map(\.bitPattern),
                "the ReLU's mask must differ from the noisy max's on this input")
    }

    /// Multiplicative noise x = r·m on a ReLU's output r (`factor:`), windows that do not overlap: from the inputs
    /// and from the routes, dx is the naive three passes' (the pool's backward pass, then dx·m, then the ReLU's
    /// mask r > 0), value for value (a zero's sign aside: the naive form writes 0·m, −0 where m < 0, the fused one
    /// +0). 2 × 2 (the vector kernel), 3 × 3 and a scalar channel tail. Negative control: without the factor, dx
    /// differs.
    @Test(arguments: [(8, 8, 32, 2), (9, 7, 20, 2), (9, 9, 16, 3), (6, 6, 3, 2)])
    func maxPoolFoldsAMultiplicativeFactor(_ h: Int, _ w: Int, _ c: Int, _ k: Int) {
        let r = Self.reluOutputs(h * w * c, seed: UInt64(h * 5 + c))
        var rng = Philox(seed: 12, UInt64(c))
        let m = r.map { _ in 1 + 0.8 * Float(rng.nextGaussian()) }  // some m < 0
        let x = zip(r, m).map { $0 * $1 }
        let oh = h / k, ow = w / k
        var y = [Float](repeating: 0, count: oh * ow * c)
        var routes = [UInt8](repeating: 0, count: y.count)
        maxPoolForward(x, &y, routes: &routes, reluBefore: true, reluOutput: r, height: h, width: w, channels: c,
                       k: k)
        let dy = (0..<y.count).map { _ in Float(rng.nextGaussian()) }
        // The naive reference: the plain pool's backward pass, each element times m, then the ReLU's mask.
        var naive = [Float](repeating: .nan, count: x.count)
        maxPoolBackward(x, output: y, dy, &naive, height: h, width: w, channels: c, k: k)
        for i in naive.indices { naive[i] = r[i] > 0 ? naive[i] * m[i] : 0 }
        var fromInputs = [Float](repeating: .nan, count: x.count), fromRoutes = fromInputs, unscaled = fromInputs
        maxPoolBackward(x, output: y, dy, &fromInputs, height: h, width: w, channels: c, k: k, reluBefore: true,
                        reluOutput: r, factor: m)
        maxPoolBackward(routes: routes, dy, &fromRoutes, height: h, width: w, channels: c, k: k, factor: m)
        maxPoolBackward(routes: routes, dy, &unscaled, height: h, width: w, channels: c, k: k)
        #expect(fromInputs == naive, "\(h)×\(w)×\(c), k \(k): from the inputs")
        #expect(fromRoutes == naive, "\(h)×\(w)×\(c), k \(k): from the routes")
        #expect(fromRoutes.filter { $0 != 0 }.count > y.count / 5, "too few routed gradients to test")
        #expect(unscaled != naive)
    }

    /// The pool that keeps m per output (`maxPoolForward(…, factor:, routedFactor:)`, as `forwardAcrossNoise` calls
    /// it) writes the same pooled values and routes, and for every routed output m at the routed element (a naive
    /// scan finds it); the backward pass from it (`routedFactor:`) writes the bits of the pass from the whole factor
    /// tensor. The 2 × 2 vector kernel, 3 × 3 and a scalar channel tail. Negative control: the per-output factors
    /// one output off give other gradients.
    @Test(arguments: [(8, 8, 32, 2), (9, 7, 20, 2), (9, 9, 16, 3), (6, 6, 3, 2)])
    func factorPerOutputKeepsTheProducts(_ h: Int, _ w: Int, _ c: Int, _ k: Int) {
        let r = Self.reluOutputs(h * w * c, seed: UInt64(h * 7 + c))
        var rng = Philox(seed: 13, UInt64(c))
        let m = r.map { _ in 1 + 0.8 * Float(rng.nextGaussian()) }
        let x = zip(r, m).map { $0 * $1 }
        let oh = h / k, ow = w / k
        var y = [Float](repeating: 0, count: oh * ow * c), yCarrying = y, perOutput = y
        var routes = [UInt8](repeating: 0, count: y.count), routesCarrying = routes
        maxPoolForward(x, &y, routes: &routes, reluBefore: true, reluOutput: r, height: h, width: w, channels: c,
                       k: k)
        maxPoolForward(x, &yCarrying, routes: &routesCarrying, reluBefore: true, reluOutput: r, height: h, width: w,
                       channels: c, k: k, factor: m, routedFactor: &perOutput)
        #expect(zip(y, yCarrying).filter { $0.bitPattern != $1.bitPattern }.count == 0)
        #expect(routes == routesCarrying)
        var wrongFactor = 0, routed = 0
        for oy in 0..<oh {
            for ox in 0..<ow {
                for ch in 0..<c {
                    let o = (oy * ow + ox) * c + ch, route = Int(routes[o])
                    guard route != Int(maxPoolNoRoute) else { continue }
                    routed += 1
                    let element = ((oy * k + route / k) * w + ox * k + route % k) * c + ch
                    if perOutput[o].bitPattern != m[element].bitPattern { wrongFactor += 1 }
                }
            }
        }
        #expect(wrongFactor == 0 && routed > y.count / 5, "\(h)×\(w)×\(c), k \(k)")
        let dy = (0..<y.count).map { _ in Float(rng.nextGaussian()) }
        var whole = [Float](repeating: .nan, count: x.count), compact = whole, shifted = whole
        maxPoolBackward(routes: routes, dy, &whole, height: h, width: w, channels: c, k: k, factor: m)
        maxPoolBackward(routes: routes, dy, &compact, height: h, width: w, channels: c, k: k, routedFactor: perOutput)
        let offByOne = Array(perOutput.dropFirst()) + [perOutput[0]]
        maxPoolBackward(routes: routes, dy, &shifted, height: h, width: w, channels: c, k: k, routedFactor: offByOne)
        #expect(zip(whole, compact).filter { $0.bitPattern != $1.bitPattern }.count == 0, "\(h)×\(w)×\(c), k \(k)")
        #expect(zip(whole, shifted).filter { $0.bitPattern != $1.bitPattern }.count > 0)
    }
}

