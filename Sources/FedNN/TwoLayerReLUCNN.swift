// TwoLayerReLUCNN: the theory model of DP-SGD fairness studies, F_j = (1/m)·Σ_r Σ_p ReLU(⟨w_{j,r}, x^(p)⟩).
import FedTensor

/// The two-layer ReLU CNN of the feature-learning literature (Cao et al. 2022; Kou et al. 2023; spec C.1 item 2,
/// pitfalls-dpsgd-attacks §6). An input is P patches x^(1…P) ∈ ℝ^d (shape [P, d]); class j has m filters w_{j,r} and
/// score F_j(W, x) = (1/m)·Σ_{r=1}^{m} Σ_{p=1}^{P} ReLU(⟨w_{j,r}, x^(p)⟩). The second layer is fixed (weights 1/m, not
/// parameters: not clipped, not noised); only W is trained. The outputs are the K scores, fed to softmax
/// cross-entropy: for K = 2 that is exactly the binary model's logistic loss log(1 + e^{−y·f}) with
/// f = F₊₁ − F₋₁. ReLU′(0) = 0. Parameters: w_{j,r} at offset (j·m + r)·d, initialised N(0, σ₀²) whatever the
/// network's `Initialization`.
public struct TwoLayerReLUCNN: Layer {
    public let classes: Int
    public let filtersPerClass: Int
    public let initialStd: Float
    /// Filters r < this in every class stay at their initial values (filter freezing, spec C.1 item 7): no
    /// gradient, no DP noise, left out of the per-example norms (`frozenParameters`).
    public let frozenFiltersPerClass: Int

    public init(classes: Int, filtersPerClass: Int, initialStd: Float = 0.01, frozenFiltersPerClass: Int = 0) {
        precondition(classes >= 2 && filtersPerClass >= 1 && initialStd >= 0, "TwoLayerReLUCNN: bad sizes")
        precondition(frozenFiltersPerClass >= 0 && frozenFiltersPerClass <= filtersPerClass,
                     "TwoLayerReLUCNN: frozen filters must be in 0…m")
        self.classes = classes
        self.filtersPerClass = filtersPerClass
        self.initialStd = initialStd
        self.frozenFiltersPerClass = frozenFiltersPerClass
    }

    var filters: Int { classes * filtersPerClass }

    public var description: String {
        "TwoLayerReLUCNN(K \(classes), m \(filtersPerClass), σ₀ \(initialStd)"
            + (frozenFiltersPerClass > 0 ? ", \(frozenFiltersPerClass) frozen per class)" : ")")
    }

    /// Rows w_{j,r}, r < frozenFiltersPerClass, of every class j.
    public func frozenParameters(input: Shape) -> [Range<Int>] {
        let d = input.last ?? 0
        guard frozenFiltersPerClass > 0 else { return [] }
        return (0..<classes).map { j in (j * filtersPerClass * d)..<((j * filtersPerClass + frozenFiltersPerClass) * d) }
    }

    public func parameterCount(input: Shape) -> Int { filters * (input.last ?? 0) }

    public func outputShape(input: Shape) throws(ShapeError) -> Shape {
        guard input.count == 2, input[0] >= 1, input[1] >= 1 else {
            throw ShapeError("\(description) needs [patches, d] inputs, got \(input)")
        }
        return [classes]
    }

    /// Pre-activations z[p, f] (P·K·m) then their back-propagated gradients (P·K·m), per sample.
    public func workspaceSize(input: Shape) -> Int { 2 * input[0] * filters }

    /// The second half of the workspace is written by `backward`, the first (read) half is kept.
    public func inputGradientPreservesWorkspace(input: Shape) -> Bool { true }

    public func initialize(_ parameters: UnsafeMutableBufferPointer<Float>, input: Shape, scheme: Initialization,
                           rng: inout Philox) {
        for i in parameters.indices { parameters[i] = Float(rng.nextGaussian() * Double(initialStd)) }
    }

    public func forward(_ c: ForwardContext, input: Shape) {
        let (patches, d, f, m) = (input[0], input[1], filters, filtersPerClass)
        // Z (P × K·m) = X (P × d) · Wᵀ per sample, at the start of the sample's own workspace stretch.
        for b in 0..<c.batch {
            gemm(.none, .transposed, m: patches, n: f, k: d, a: c.input + b * patches * d, lda: d, b: c.parameters,
                 ldb: d, c: c.workspace + b * 2 * patches * f, ldc: f)
        }
        let scale = 1 / Float(m)
        for b in 0..<c.batch {
            let z = c.workspace + b * 2 * patches * f
            for j in 0..<classes {
                var s: Float = 0
                for p in 0..<patches {
                    for r in 0..<m { s += max(z[p * f + j * m + r], 0) }
                }
                c.output[b * classes + j] = s * scale
            }
        }
    }

    public func backward(_ c: BackwardContext, input: Shape) {
        let (patches, d, f, m) = (input[0], input[1], filters, filtersPerClass)
        let scale = 1 / Float(m)
        for b in 0..<c.batch {
            let z = c.workspace + b * 2 * patches * f, g = z + patches * f
            for p in 0..<patches {
                for j in 0..<classes {
                    let dj = c.outputGradient[b * classes + j] * scale
                    for r in 0..<m {
                        let k = p * f + j * m + r
                        g[k] = z[k] > 0 ? dj : 0
                    }
                }
            }
            if let dx = c.inputGradient {
                // dX (P × d) = G (P × K·m) · W (K·m × d)
                gemm(.none, .none, m: patches, n: d, k: f, a: g, lda: f, b: c.parameters, ldb: d,
                     c: dx + b * patches * d, ldc: d)
            }
            if let dw = c.parameterGradient {
                // dW (K·m × d) (+)= Gᵀ · X, over the trainable rows r ≥ k₀ of each class (frozen rows are 0).
                let k0 = frozenFiltersPerClass, beta: Float = c.accumulate || b > 0 ? 1 : 0
                if k0 == 0 {
                    gemm(.transposed, .none, m: f, n: d, k: patches, a: g, lda: f, b: c.input + b * patches * d,
                         ldb: d, beta: beta, c: dw, ldc: d)
                } else {
                    for j in 0..<classes {
                        if b == 0 && !c.accumulate { (dw + j * m * d).update(repeating: 0, count: k0 * d) }
                        guard k0 < m else { continue }
                        gemm(.transposed, .none, m: m - k0, n: d, k: patches, a: g + j * m + k0, lda: f,
                             b: c.input + b * patches * d, ldb: d, beta: beta, c: dw + (j * m + k0) * d, ldc: d)
                    }
                }
            }
        }
    }

    /// Exact per-example ‖∇_W ℓ_i‖² without forming the gradient (pitfalls §6, the T = P ghost norm):
    /// Σ_{p,p'} ⟨x^(p), x^(p')⟩ · Σ_f g_{p,f}·g_{p',f}, with g_{p,(j,r)} = (∂ℓ/∂F_j)/m · 1[z_{p,(j,r)} > 0], f over
    /// the trainable filters only (the norm DP-SGD clips is over the trainable coordinates: pitfalls §1.1).
    public func addPerExampleGradientNorms(_ c: BackwardContext, input: Shape,
                                           into norms: UnsafeMutablePointer<Double>) {
        let (patches, d, f, m) = (input[0], input[1], filters, filtersPerClass)
        for b in 0..<c.batch {
            let x = c.input + b * patches * d, z = c.workspace + b * 2 * patches * f
            var total = 0.0
            for p in 0..<patches {
                for q in 0..<patches {
                    var gg = 0.0
                    for j in 0..<classes {
                        let dj = Double(c.outputGradient[b * classes + j]) / Double(m)
                        var both = 0
                        for r in frozenFiltersPerClass..<m where z[p * f + j * m + r] > 0 && z[q * f + j * m + r] > 0 { both += 1 }
                        gg += dj * dj * Double(both)
                    }
                    guard gg != 0 else { continue }
                    var xx = 0.0
                    for i in 0..<d { xx += Double(x[p * d + i]) * Double(x[q * d + i]) }
                    total += xx * gg
                }
            }
            norms[b] += total
        }
    }
}
