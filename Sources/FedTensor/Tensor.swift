// Tensor: a shaped Float32 array with value semantics; kernels reach its storage through pointers.

/// A dense, row-major Float32 tensor. Copy-on-write through its `[Float]` storage.
public struct Tensor: Sendable, Equatable {
    public private(set) var shape: [Int]
    public var storage: [Float]

    public init(shape: [Int], storage: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == storage.count,
                     "shape \(shape) needs \(shape.reduce(1, *)) values, got \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, storage: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    public init(shape: [Int], repeating value: Float) {
        self.init(shape: shape, storage: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// Standard normal values times `std`, from one Philox stream.
    public init(gaussian shape: [Int], std: Float = 1, key: StreamKey) {
        self.init(zeros: shape)
        storage.withUnsafeMutableBufferPointer { fillGaussian($0, key: key, std: std) }
    }

    public var count: Int { storage.count }
    public var rank: Int { shape.count }

    /// The same values under a new shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage)
    }

    public subscript(flat i: Int) -> Float {
        get { storage[i] }
        set { storage[i] = newValue }
    }
}
