// Freezing: which parameter coordinates train: layer names for `--freeze`, trainable ranges, frozen snapshots.
import FedTensor
import Foundation

extension Layer {
    public func frozenParameters(input: Shape) -> [Range<Int>] { [] }
}

extension Network {
    /// Each layer's name for `--freeze`: layers with parameters are numbered by kind from 1 in order (conv1, conv2
    /// for `Conv2d`, fc1, fc2 for `Linear`, bn1 for `BatchNorm`, filters1 for `TwoLayerReLUCNN`, param1 otherwise),
    /// as PyTorch names the McMahan CNN's layers; layers without parameters have no name (nil).
    public var layerNames: [String?] {
        var counts: [String: Int] = [:]
        return layers.indices.map { i -> String? in
            guard !parameterRanges[i].isEmpty else { return nil }
            let kind: String
            switch layers[i] {
            case is Conv2d: kind = "conv"
            case is Linear: kind = "fc"
            case is BatchNorm: kind = "bn"
            case is TwoLayerReLUCNN: kind = "filters"
            default: kind = "param"
            }
            counts[kind, default: 0] += 1
            return "\(kind)\(counts[kind]!)"
        }
    }

    /// The layer indices of `names` (each a `layerNames` entry, or "layer<i>" with i the index printed by
    /// `description`); the error names the unknown name and lists the valid ones.
    public func layerIndices(named names: [String]) throws(ShapeError) -> Set<Int> {
        let known = layerNames
        var out = Set<Int>()
        for raw in names {
            let name = raw.trimmingCharacters(in: .whitespaces).lowercased()
            if let i = known.firstIndex(of: name) {
                out.insert(i)
            } else if name.hasPrefix("layer"), let i = Int(name.dropFirst(5)), layers.indices.contains(i),
                      !parameterRanges[i].isEmpty {
                out.insert(i)
            } else {
                throw ShapeError("no layer with parameters is called '\(raw)'; this model has "
                    + known.compactMap { $0 }.joined(separator: ", ") + " (or layer<i> by index)")
            }
        }
        return out
    }

    /// The coordinates that train, in increasing order: every layer not in `frozen` with parameters, minus the
    /// layer's own `frozenParameters` (frozen filters). DP-SGD noises exactly these (spec C.1 item 7: freezing
    /// shrinks the noise's dimension d_trainable, not the sensitivity C).
    public func trainableRanges(frozen: Set<Int>) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for (i, range) in parameterRanges.enumerated() where !frozen.contains(i) && !range.isEmpty {
            var lo = range.lowerBound
            for f in layers[i].frozenParameters(input: shapes[i]).sorted(by: { $0.lowerBound < $1.lowerBound }) {
                let start = range.lowerBound + f.lowerBound
                if start > lo { out.append(lo..<start) }
                lo = max(lo, range.lowerBound + f.upperBound)
            }
            if lo < range.upperBound { out.append(lo..<range.upperBound) }
        }
        return out
    }

    /// d_trainable: how many coordinates `trainableRanges(frozen:)` holds.
    public func trainableCount(frozen: Set<Int>) -> Int {
        trainableRanges(frozen: frozen).reduce(0) { $0 + $1.count }
    }

    /// The complement of `trainableRanges`: every coordinate that must not change in training.
    public func frozenRanges(frozen: Set<Int>) -> [Range<Int>] {
        var out: [Range<Int>] = [], lo = 0
        for r in trainableRanges(frozen: frozen) {
            if r.lowerBound > lo { out.append(lo..<r.lowerBound) }
            lo = r.upperBound
        }
        if lo < parameterCount { out.append(lo..<parameterCount) }
        return out
    }
}

/// The values of a network's frozen coordinates, to put back after an optimiser step that would move them
/// (weight decay λ·w, a gradient hook): frozen coordinates get no update at all.
struct FrozenSnapshot {
    let ranges: [Range<Int>]
    private var values: [Float] = []

    init(network: Network, frozen: Set<Int>) {
        ranges = network.frozenRanges(frozen: frozen)
    }

    var isEmpty: Bool { ranges.isEmpty }

    mutating func take(_ parameters: [Float]) {
        values.removeAll(keepingCapacity: true)
        for r in ranges { values.append(contentsOf: parameters[r]) }
    }

    func restore(_ parameters: inout [Float]) {
        var k = 0
        for r in ranges {
            parameters.replaceSubrange(r, with: values[k..<(k + r.count)])
            k += r.count
        }
    }
}
