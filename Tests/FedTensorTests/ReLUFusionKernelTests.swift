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
}
