// Network+FLOPs: floating-point operations per sample of each layer's forward and backward pass.
extension Network {
    /// Floating-point operations per sample of each layer (multiply and add counted separately), for figures
    /// given as a fraction of a CPU's peak. Linear: 2·in·out forward; backward the weight gradient (2·in·out) plus
    /// the input gradient (2·in·out, not computed for the first Linear or Conv2d layer: nothing upstream needs it).
    /// Conv2d: 2·H_out·W_out·C_out·k²·C_in forward, and likewise twice that backward (once for the first). Activations, pooling and reshapes are
    /// memory-bound and counted as 0, so their time lowers a whole step's fraction of peak.
    public var layerFLOPs: [(forward: Double, backward: Double)] {
        var seenParametric = false
        return layers.enumerated().map { i, layer in
            var forward = 0.0
            if let linear = layer as? Linear {
                forward = 2 * Double(linear.inputFeatures) * Double(linear.outputFeatures)
            } else if let conv = layer as? Conv2d {
                let positions = Double(shapes[i + 1].reduce(1, *) / conv.outputChannels)
                forward = 2 * positions * Double(conv.outputChannels * conv.kernel * conv.kernel * conv.inputChannels)
            }
            let first = forward > 0 && !seenParametric
            if forward > 0 { seenParametric = true }
            return (forward, forward * (first ? 1 : 2))
        }
    }

    /// FLOPs of training on one sample: forward plus backward over every layer.
    public var trainingFLOPsPerSample: Double {
        layerFLOPs.reduce(0) { $0 + $1.forward + $1.backward }
    }
}
