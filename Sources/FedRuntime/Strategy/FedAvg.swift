// FedAvg: McMahan et al.'s federated averaging as a strategy: clients upload p_k·w_k, the server averages.
import FedPrivacy

/// Plain FedAvg (McMahan et al. 2017, Alg. 1): each client uploads p_k·w_k; the average is the next model.
public struct FedAvg: FederatedStrategy {
    public init() {}
    public var name: String { "FedAvg" }
    public func prepareUpload(_ context: UploadContext) throws -> PreparedUpload { weightedModel(context) }
}
