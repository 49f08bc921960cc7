// OrderedSum: sums vectors that arrive in any order, always adding them in a fixed order (deterministic floats).

/// Accumulates one vector per expected contributor, adding them in the order of `expected`
/// whatever order they arrive in. Arrivals ahead of their turn wait in a buffer; memory stays bounded by how far
/// arrivals run ahead. Skipping a contributor (dropped client) releases the ones queued behind it.
///
/// Floating-point addition is not associative, so summing in arrival order would make a federation's result
/// depend on thread timing; this makes it bit-identical for any arrival order.
public struct OrderedSum: Sendable {
    public private(set) var sum: [Float]
    public let expected: [Int]
    private var next = 0
    private var waiting: [Int: [Float]] = [:]
    private var skipped: Set<Int> = []
    public private(set) var added: [Int] = []

    public init(length: Int, expected: [Int]) {
        precondition(Set(expected).count == expected.count, "contributors must be distinct")
        self.sum = [Float](repeating: 0, count: length)
        self.expected = expected
    }

    /// Whether every expected contributor has been added or skipped.
    public var isComplete: Bool { next == expected.count }

    /// Contributors neither added nor skipped yet.
    public var outstanding: [Int] {
        expected[next...].filter { !skipped.contains($0) && waiting[$0] == nil }
    }

    public enum AddError: Error, Equatable {
        case unexpected(Int)
        case duplicate(Int)
        case wrongLength(Int, got: Int, expected: Int)
    }

    /// Adds `vector` from `contributor` (now or when its turn comes).
    public mutating func add(_ vector: [Float], from contributor: Int) throws(AddError) {
        guard let position = expected.firstIndex(of: contributor) else { throw .unexpected(contributor) }
        guard position >= next, waiting[contributor] == nil, !skipped.contains(contributor) else {
            throw .duplicate(contributor)
        }
        guard vector.count == sum.count else {
            throw .wrongLength(contributor, got: vector.count, expected: sum.count)
        }
        waiting[contributor] = vector
        drain()
    }

    /// Gives up on `contributor`: it will not be added.
    public mutating func skip(_ contributor: Int) {
        guard let position = expected.firstIndex(of: contributor), position >= next,
              waiting[contributor] == nil else { return }
        skipped.insert(contributor)
        drain()
    }

    private mutating func drain() {
        while next < expected.count {
            let id = expected[next]
            if skipped.contains(id) {
                next += 1
            } else if let v = waiting.removeValue(forKey: id) {
                sum.withUnsafeMutableBufferPointer { s in
                    v.withUnsafeBufferPointer { x in
                        for i in 0..<x.count { s[i] += x[i] }
                    }
                }
                added.append(id)
                next += 1
            } else {
                return
            }
        }
    }
}
