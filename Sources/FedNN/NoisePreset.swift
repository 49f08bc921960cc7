// NoisePreset: the named mechanisms M1–M5 (spec A.1, unverified placeholders) and the author's own idioms (Part E).
import FedTensor

/// Named noise-infusion setups. **M1–M5 are the spec's placeholder reading of "five mechanisms"** (papers.md
/// A.1 item 1, tagged [I/?]): the paper's full text was not obtainable, so they are not verified to be the
/// paper's. `keras` and `author` are hints from the author's other code (papers.md A.0, Part E), not evidence.
/// Their default levels are this implementation's choice; override with `NoiseInfusion.level`.
public enum NoisePreset: String, Codable, Sendable, CaseIterable {
    /// M1: Gaussian on the inputs, σ = 0.1 (absolute, in the inputs' normalised units).
    case m1 = "M1"
    /// M2: Gaussian on hidden activations (every hidden activation layer), σ = 0.1.
    case m2 = "M2"
    /// M3: Gaussian on the gradient before each step, σ = 0.5·RMS(g) per layer (relative).
    case m3 = "M3"
    /// M4: Gaussian on the client model before upload, σ = 0.01·RMS(w) per layer (relative).
    case m4 = "M4"
    /// M5: Laplace on the client model before upload, σ = 0.01·RMS(w) per layer (relative).
    case m5 = "M5"
    /// Keras `GaussianNoise(0.01)` after the first hidden layer only (`ElahehJafarigol/Federated-Learning`): depth
    /// levels [0.01, 0] (a level of 0 inserts nothing).
    case keras
    /// Activation noise after each hidden layer, σ decreasing with depth: 0.5, 0.3, 0.1
    /// (`ElahehJafarigol/Federated-Learning-GANs`, Part E). With more than three hidden layers the last level
    /// repeats; with fewer, the first ones are used.
    case author

    public var mechanisms: [NoiseMechanism] {
        switch self {
        case .m1: [NoiseMechanism(site: .input, level: 0.1)]
        case .m2: [NoiseMechanism(site: .activation, level: 0.1)]
        case .m3: [NoiseMechanism(site: .gradient, level: 0.5, levelMode: .relative)]
        case .m4: [NoiseMechanism(site: .clientModel, level: 0.01, levelMode: .relative)]
        case .m5: [NoiseMechanism(site: .clientModel, distribution: .laplace, level: 0.01, levelMode: .relative)]
        case .keras: [NoiseMechanism(site: .activation, level: 0.01, depthLevels: [0.01, 0])]
        case .author: [NoiseMechanism(site: .activation, level: 0.5, depthLevels: [0.5, 0.3, 0.1])]
        }
    }
}
