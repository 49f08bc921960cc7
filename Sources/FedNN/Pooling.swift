// Pooling: k×k max pooling (stride k) and Flatten, the shape-changing layers of the CNNs.
import FedTensor

/// Max over non-overlapping k×k windows of NHWC images (floor mode: trailing rows/columns dropped).
public struct MaxPool2d: Layer {
    public let size: Int
    public init(_ size: Int = 2) {
        precondition(size > 0)
        self.size = size
    }

    public var description: String { "MaxPool2d(\(size))" }
    public var backwardReadsOutput: Bool { true }

    public func outputShape(input: Shape) throws(ShapeError) -> Shape {
        guard input.count == 3, input[0] >= size, input[1] >= size else {
            throw ShapeError("\(description) needs [height ≥ \(size), width ≥ \(size), channels], got \(input)")
        }
        return [input[0] / size, input[1] / size, input[2]]
    }

    public func forward(_ c: ForwardContext, input: Shape) {
        let inSize = input.reduce(1, *), outSize = (input[0] / size) * (input[1] / size) * input[2]
        // Large batches split over threads by sample (each sample's output is written by one thread).
        parallelFor(c.batch, threads: c.batch * inSize >= 1 << 17 ? nil : 1) { i in
            maxPoolForward(c.input + i * inSize, c.output + i * outSize,
                           height: input[0], width: input[1], channels: input[2], k: size)
        }
    }

    public func backward(_ c: BackwardContext, input: Shape) {
        guard let dx = c.inputGradient else { return }
        let inSize = input.reduce(1, *), outSize = (input[0] / size) * (input[1] / size) * input[2]
        parallelFor(c.batch, threads: c.batch * inSize >= 1 << 17 ? nil : 1) { i in
            maxPoolBackward(c.input + i * inSize, output: c.output + i * outSize, c.outputGradient + i * outSize,
                            dx + i * inSize, height: input[0], width: input[1], channels: input[2], k: size)
        }
    }
}

/// Reshapes any per-sample shape to one feature vector. No data moves (NHWC order is kept).
public struct Flatten: Layer {
    public init() {}
    public var description: String { "Flatten" }
    public var inPlace: InPlaceKind { .view }
    public func outputShape(input: Shape) throws(ShapeError) -> Shape { [input.reduce(1, *)] }

    public func forward(_ c: ForwardContext, input: Shape) {
        if c.output != UnsafeMutablePointer(mutating: c.input) {
            c.output.update(from: c.input, count: c.batch * input.reduce(1, *))
        }
    }

    public func backward(_ c: BackwardContext, input: Shape) {
        guard let dx = c.inputGradient, dx != UnsafeMutablePointer(mutating: c.outputGradient) else { return }
        dx.update(from: c.outputGradient, count: c.batch * input.reduce(1, *))
    }
}
