// Network: an immutable layer stack with its shapes and the layout of its flat parameter vector.
import FedTensor

/// A sequence of layers applied to per-sample inputs of `inputShape`. It owns no numbers: parameters are a flat
/// `[Float]` laid out layer after layer (see `parameterRanges`), activations live in a `Workspace`.
public struct Network: Sendable, CustomStringConvertible {
    public let layers: [any Layer]
    public let inputShape: Shape
    /// `shapes[i]` is the input shape of layer i; `shapes.last` is the output shape.
    public let shapes: [Shape]
    /// The slice of the flat parameter vector that belongs to each layer.
    public let parameterRanges: [Range<Int>]
    public let parameterCount: Int

    /// Checks every layer against the shape flowing into it; the error names the layer and the shapes.
    public init(inputShape: Shape, layers: [any Layer]) throws(ShapeError) {
        var shapes = [inputShape]
        var ranges: [Range<Int>] = []
        var offset = 0
        for (i, layer) in layers.enumerated() {
            let input = shapes[i]
            do {
                shapes.append(try layer.outputShape(input: input))
            } catch {
                throw ShapeError("layer \(i) (\(layer)): \(error.description)")
            }
            let n = layer.parameterCount(input: input)
            ranges.append(offset..<(offset + n))
            offset += n
        }
        self.layers = layers
        self.inputShape = inputShape
        self.shapes = shapes
        self.parameterRanges = ranges
        self.parameterCount = offset
    }

    /// Per-sample input and output sizes.
    public var inputSize: Int { inputShape.reduce(1, *) }
    public var outputSize: Int { shapes.last!.reduce(1, *) }

    /// Fresh parameters drawn by `scheme` from one seeded stream per layer.
    public func initialParameters(key: StreamKey, scheme: Initialization = .uniform) -> [Float] {
        var p = [Float](repeating: 0, count: parameterCount)
        p.withUnsafeMutableBufferPointer { buffer in
            for (i, layer) in layers.enumerated() {
                var rng = Philox(key.child(UInt64(i)))
                let r = parameterRanges[i]
                layer.initialize(UnsafeMutableBufferPointer(rebasing: buffer[r]), input: shapes[i], scheme: scheme,
                                 rng: &rng)
            }
        }
        return p
    }

    public var description: String {
        var lines = ["Network(input \(inputShape), \(parameterCount.formatted()) parameters)"]
        for (i, layer) in layers.enumerated() {
            lines.append("  \(i): \(layer) → \(shapes[i + 1]) [\(parameterRanges[i].count.formatted()) params]")
        }
        return lines.joined(separator: "\n")
    }
}

extension Int {
    /// 1234567 → "1,234,567".
    public func formatted() -> String {
        let digits = String(abs(self))
        var out = ""
        for (i, ch) in digits.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (self < 0 ? "-" : "") + String(out.reversed())
    }
}
