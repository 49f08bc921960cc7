// Augmentation: random shifts (pad-and-crop) and flips of images, fresh noise patches for synthetic data.
import FedTensor

/// A random transformation of one example, drawn from the generator it is given.
public enum Augmentation: Sendable, Equatable {
    /// Pad-and-crop: shift an NHWC image by (dy, dx), each uniform in −maxShift…maxShift, filling the uncovered
    /// border with `fill[c]` (the normalised value of a raw 0 pixel, per channel: what padding with zeros before
    /// normalising gives); then, with `flip`, mirror left–right with probability ½ (off for digits).
    case shift(maxShift: Int, flip: Bool, fill: [Float])
    /// Synthetic patch data (`SyntheticPatches`): keep patch 0 (the feature) and redraw the other P − 1 patches
    /// from N(0, σ_p²·I), zero on the feature coordinates when the settings' noise is orthogonal (spec C.1 item 7:
    /// "k augmented copies per sample with fresh noise patches").
    case freshNoise(SyntheticPatchSettings)

    /// Whether the transformation leaves every example as it is (shift 0, no flip).
    public var isIdentity: Bool {
        if case .shift(let s, let flip, _) = self { return s == 0 && !flip }
        return false
    }

    /// Transforms one example of `shape` in place; `scratch` holds at least one example.
    public func apply(_ x: UnsafeMutablePointer<Float>, shape: [Int], scratch: UnsafeMutablePointer<Float>,
                      rng: inout Philox) {
        switch self {
        case .shift(let maxShift, let flip, let fill):
            let (h, w, c) = (shape[0], shape[1], shape.count > 2 ? shape[2] : 1)
            let span = UInt64(2 * maxShift + 1)
            let dy = Int(rng.next() % span) - maxShift, dx = Int(rng.next() % span) - maxShift
            let mirror = flip && rng.next() & 1 == 1
            guard dy != 0 || dx != 0 || mirror else { return }
            scratch.update(from: x, count: h * w * c)
            for y in 0..<h {
                for xo in 0..<w {
                    let sy = y + dy, sx0 = mirror ? w - 1 - xo : xo, sx = sx0 + dx
                    let inside = sy >= 0 && sy < h && sx >= 0 && sx < w
                    for ch in 0..<c {
                        x[(y * w + xo) * c + ch] = inside ? scratch[(sy * w + sx) * c + ch]
                                                          : fill[fill.count == 1 ? 0 : ch]
                    }
                }
            }
        case .freshNoise(let s):
            let (patches, d) = (shape[0], shape[1])
            let featureCoordinates = 2 * s.groups
            for p in 1..<max(patches, 1) {
                for k in 0..<d {
                    let v = Float(rng.nextGaussian() * s.noiseStd)
                    x[p * d + k] = s.orthogonalNoise && k < featureCoordinates ? 0 : v
                }
            }
        }
    }
}

/// `base` seen through an augmentation with multiplicity k: example v is copy v % k of base example v / k,
/// transformed with the generator `key.child(v / k, v % k)` (one Philox stream per example and copy: pass a key
/// per (seed, epoch) or (seed, step) to redraw each epoch or step). With k = 1 and an identity augmentation it
/// gathers exactly what `base` does.
public struct AugmentedSamples<Base: SampleSource>: SampleSource {
    public let base: Base
    public let augmentation: Augmentation
    public let copies: Int
    public let key: StreamKey
    public let labels: [Int32]

    public init(_ base: Base, augmentation: Augmentation, copies: Int = 1, key: StreamKey) {
        precondition(copies >= 1, "AugmentedSamples: copies must be ≥ 1")
        self.base = base
        self.augmentation = augmentation
        self.copies = copies
        self.key = key
        labels = copies == 1 ? base.labels : base.labels.flatMap { Array(repeating: $0, count: copies) }
    }

    public var sampleCount: Int { base.sampleCount * copies }
    public var sampleShape: [Int] { base.sampleShape }
    public var classCount: Int { base.classCount }

    /// The rows of examples `examples`' k copies, example-major (example i's copies at rows i·k ..< (i + 1)·k).
    public func rows(of examples: [Int]) -> [Int] {
        examples.flatMap { e in (0..<copies).map { e * copies + $0 } }
    }

    public func gather(_ indices: UnsafeBufferPointer<Int>, inputs: UnsafeMutablePointer<Float>,
                       labels: UnsafeMutablePointer<Int32>) {
        let k = copies
        let examples = indices.map { $0 / k }
        examples.withUnsafeBufferPointer { base.gather($0, inputs: inputs, labels: labels) }
        guard !augmentation.isIdentity else { return }
        let size = sampleShape.reduce(1, *)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: size) { scratch in
            for (row, v) in indices.enumerated() {
                var rng = Philox(key.child(UInt64(v / k), UInt64(v % k)))
                augmentation.apply(inputs + row * size, shape: sampleShape, scratch: scratch.baseAddress!, rng: &rng)
            }
        }
    }
}
