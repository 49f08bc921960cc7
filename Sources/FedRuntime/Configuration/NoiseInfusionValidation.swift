// NoiseInfusionValidation: the checks of `noiseInfusion`, large-cnn's strategies and `batchNorm`, each naming its key.
import FedNN

extension FederationConfiguration {
    /// `noiseInfusion`: every mechanism valid, and none at a site this federation cannot honour.
    func validateNoiseInfusion() throws(ConfigurationError) {
        // large-cnn's BatchNorm statistics ride in the parameter vector: FedAvg averages them, DP noise would
        // corrupt them (a negative running variance) and DP-SGD's per-example passes cannot use batch statistics.
        if model == .largeCNN && (strategy.kind.usesDP || strategy.kind == .niss || training.dpsgd.isEnabled) {
            throw ConfigurationError(
                keyPath: "model",
                message: "large-cnn (BatchNorm) runs with FedAvg only: its running statistics travel in the "
                    + "parameter vector, which DP-FedAvg's or NISS's noise would corrupt, and DP-SGD's "
                    + "per-example gradients are undefined under batch statistics")
        }
        if batchNorm == .local && model != .largeCNN {
            throw ConfigurationError(keyPath: "batchNorm", message: "local (FedBN) keeps BatchNorm coordinates per "
                + "client, but \(model.rawValue) has no BatchNorm layer (large-cnn has); leave it out or use average")
        }
        guard let infusion = noiseInfusion else { return }
        do {
            try infusion.validate()
        } catch {
            throw ConfigurationError(keyPath: "noiseInfusion." + error.keyPath, message: error.message)
        }
        if training.dpsgd.isEnabled {
            for site in [NoiseSite.input, .activation, .gradient] where infusion.has(site) {
                throw ConfigurationError(
                    keyPath: "noiseInfusion",
                    message: "\(site.rawValue) noise is not wired into DP-SGD client training (training.dpsgd); "
                        + "use the clientModel, clientUpdate or globalModel sites with DP-SGD")
            }
        }
    }

    /// `model` with the noise layers of `noiseInfusion` (the same parameter layout); `model` itself without it.
    /// An error names the key path (e.g. an `afterLayers` index beyond the model).
    public func noisyNetwork(_ model: Network) throws(ConfigurationError) -> Network {
        guard let infusion = noiseInfusion else { return model }
        do {
            return try infusion.network(model)
        } catch {
            throw ConfigurationError(keyPath: "noiseInfusion." + error.keyPath, message: error.message)
        }
    }
}
