// Initialization: the schemes that draw a model's starting weights (PyTorch's default, He, Glorot).
import FedTensor

/// How `Linear` and `Conv2d` draw their initial parameters. fan_in is a unit's input count (in, or in·k·k for a
/// convolution) and fan_out the count it feeds (out, or out·k·k).
public enum Initialization: String, Sendable, Codable, CaseIterable {
    /// PyTorch's default (`kaiming_uniform_(a=√5)` and its bias rule): weights and biases U(±1/√fan_in), so
    /// Var w = 1/(3·fan_in).
    case uniform
    /// He et al. 2015, "Delving deep into rectifiers", eq. 10: weights N(0, 2/fan_in), the variance that keeps a
    /// ReLU network's forward signal constant in depth; biases 0.
    case he
    /// Glorot & Bengio 2010, eq. 16 (Keras's default): weights U(±√(6/(fan_in + fan_out))); biases 0.
    case glorot

    /// Fills a layer's weights (the first `weights.count` values) and biases.
    func fill(weights: UnsafeMutableBufferPointer<Float>, biases: UnsafeMutableBufferPointer<Float>,
              fanIn: Int, fanOut: Int, rng: inout Philox) {
        switch self {
        case .uniform:
            let bound = 1 / Float(fanIn).squareRoot()
            fillUniform(weights, bound: bound, rng: &rng)
            fillUniform(biases, bound: bound, rng: &rng)
        case .he:
            let std = (2 / Double(fanIn)).squareRoot()
            for i in weights.indices { weights[i] = Float(rng.nextGaussian() * std) }
            biases.update(repeating: 0)
        case .glorot:
            fillUniform(weights, bound: Float((6 / Double(fanIn + fanOut)).squareRoot()), rng: &rng)
            biases.update(repeating: 0)
        }
    }
}

/// Fills with U(−bound, bound).
func fillUniform(_ p: UnsafeMutableBufferPointer<Float>, bound: Float, rng: inout Philox) {
    for i in p.indices { p[i] = (rng.nextUniform() * 2 - 1) * bound }
}
