// DPSGDValidation: the checks of `training.dpsgd`, each naming its key path.

extension FederationConfiguration {
    /// `training.dpsgd`: exactly one of noiseMultiplier / targetEpsilon, at most one of expectedBatchSize /
    /// samplingRate, every value in range.
    func validateDPSGD() throws(ConfigurationError) {
        let d = training.dpsgd
        func check(_ ok: Bool, _ key: String, _ what: String) throws(ConfigurationError) {
            if !ok { throw ConfigurationError(keyPath: "training.dpsgd." + key, message: what) }
        }
        let anySet = d.noiseMultiplier != nil || d.targetEpsilon != nil || d.expectedBatchSize != nil
            || d.samplingRate != nil
        guard anySet else { return }
        try check(d.isEnabled, "noiseMultiplier", "give noiseMultiplier or targetEpsilon to train with DP-SGD")
        try check(d.noiseMultiplier == nil || d.targetEpsilon == nil, "targetEpsilon",
                  "give noiseMultiplier or targetEpsilon, not both")
        try check(d.noiseMultiplier.map { $0.isFinite && $0 >= 0 && $0 <= 1e6 } ?? true, "noiseMultiplier",
                  "must be in [0, 1e6], got \(d.noiseMultiplier ?? 0)")
        try check(d.targetEpsilon.map { Limits.epsilon.contains($0) } ?? true, "targetEpsilon",
                  "must be in [\(Limits.epsilon.lowerBound), \(Limits.epsilon.upperBound)], got \(d.targetEpsilon ?? 0)")
        try check(d.maxGradNorm.isFinite && d.maxGradNorm > 0 && d.maxGradNorm <= Limits.clippingThreshold,
                  "maxGradNorm", "must be in (0, \(Limits.clippingThreshold)], got \(d.maxGradNorm)")
        try check(d.delta > 0 && d.delta < 1, "delta", "must be in (0, 1), got \(d.delta)")
        try check(d.expectedBatchSize == nil || d.samplingRate == nil, "samplingRate",
                  "give expectedBatchSize or samplingRate, not both")
        try check(d.expectedBatchSize.map { $0.isFinite && $0 > 0 && $0 <= Double(Limits.batchSize) } ?? true,
                  "expectedBatchSize", "must be in (0, \(Limits.batchSize)], got \(d.expectedBatchSize ?? 0)")
        try check(d.samplingRate.map { $0 > 0 && $0 <= 1 } ?? true, "samplingRate",
                  "must be in (0, 1], got \(d.samplingRate ?? 0)")
    }

    /// Every client's DP-SGD settings for partitions of `samples` (nil: DP-SGD is off).
    public func dpsgdPlan(samples: [Int]) throws(ConfigurationError) -> FederatedDPSGD? {
        guard training.dpsgd.isEnabled else { return nil }
        var d = training.dpsgd
        if d.expectedBatchSize == nil && d.samplingRate == nil { d.expectedBatchSize = 10 }
        return try FederatedDPSGD(d, samples: samples, rounds: rounds, localEpochs: training.localEpochs)
    }
}
