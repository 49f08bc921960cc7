// GradientCheck: finite-difference oracle for layer and network backward passes.
import FedNN
import FedTensor
import Testing

/// Checks a network's parameter and input gradients against central differences of L = Σ r ⊙ f(x; θ),
/// with r a fixed random projection, so every output element contributes.
/// `step` is the difference step; agreement is required to `tolerance` relative to max(1, |analytic|).
func expectGradientsMatchFiniteDifferences(
    _ network: Network, batch: Int = 2, seed: UInt64 = 1, step: Float = 1e-2, tolerance: Double = 2e-2,
    checks: Int = 60, sourceLocation: SourceLocation = #_sourceLocation
) {
    let workspace = Workspace(network: network, capacity: batch)
    var parameters = network.initialParameters(key: StreamKey(seed: seed, 1))
    // Spread inputs away from 0 and from each other so ReLU kinks and max-pool ties are unlikely within ±step.
    var rng = Philox(seed: seed, 2)
    var input = (0..<(batch * network.inputSize)).map { _ in Float(rng.nextGaussian()) }
    let projection = (0..<(batch * network.outputSize)).map { _ in Float(rng.nextGaussian()) }

    func loss(_ p: [Float], _ x: [Float]) -> Double {
        workspace.input.update(from: x, count: x.count)
        p.withUnsafeBufferPointer { workspace.forward(parameters: $0.baseAddress!, batch: batch, training: false) }
        var l = 0.0
        for i in projection.indices { l += Double(projection[i]) * Double(workspace.output[i]) }
        return l
    }

    _ = loss(parameters, input)
    workspace.zeroGradient()
    parameters.withUnsafeBufferPointer { p in
        projection.withUnsafeBufferPointer { r in
            workspace.backward(parameters: p.baseAddress!, outputGradient: r.baseAddress!, batch: batch,
                               inputGradient: true)
        }
    }
    let analyticParameters = Array(workspace.gradient)
    let analyticInput = Array(UnsafeBufferPointer(start: workspace.inputGradient, count: input.count))

    var worst = 0.0
    var pick = Philox(seed: seed, 3)
    for _ in 0..<checks where network.parameterCount > 0 {
        let i = Int(pick.next() % UInt64(network.parameterCount))
        let saved = parameters[i]
        parameters[i] = saved + step
        let plus = loss(parameters, input)
        parameters[i] = saved - step
        let minus = loss(parameters, input)
        parameters[i] = saved
        let numeric = (plus - minus) / (2 * Double(step))
        let err = abs(numeric - Double(analyticParameters[i])) / max(1, abs(Double(analyticParameters[i])))
        worst = max(worst, err)
        #expect(err <= tolerance, "parameter \(i): numeric \(numeric), analytic \(analyticParameters[i])",
                sourceLocation: sourceLocation)
    }
    for _ in 0..<checks {
        let i = Int(pick.next() % UInt64(input.count))
        let saved = input[i]
        input[i] = saved + step
        let plus = loss(parameters, input)
        input[i] = saved - step
        let minus = loss(parameters, input)
        input[i] = saved
        let numeric = (plus - minus) / (2 * Double(step))
        let err = abs(numeric - Double(analyticInput[i])) / max(1, abs(Double(analyticInput[i])))
        #expect(err <= tolerance, "input \(i): numeric \(numeric), analytic \(analyticInput[i])",
                sourceLocation: sourceLocation)
    }
}
