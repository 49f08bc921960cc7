// StrategyFactory: the strategy a configuration names: the one place outside decoding that switches on its kind.

extension FederationConfiguration {
    /// FedAvg, DP-FedAvg or NISS with this configuration's parameters.
    public func makeStrategy() -> any FederatedStrategy {
        switch strategy.kind {
        case .fedAvg:
            FedAvg()
        case .dpFedAvg:
            DPFedAvg(dp: strategy.dp, rounds: rounds)
        case .niss:
            NISS(dp: strategy.dp, niss: strategy.niss, rounds: rounds, colluders: colluders,
                 clientCount: clients.count, hasDeadline: deadlineSeconds != nil)
        }
    }
}
