// UploadDiagnostics: what a client reports beside its upload in simulation only: its noise, distortion, revealed shares.
import FedTransport

/// Simulation diagnostics that travel beside a `ClientUpload` (never part of what a deployment sends): they reveal
/// the client's noise, so they exist only to measure the protocol (the realised aggregate noise, Theorem 2 and 3).
public struct UploadDiagnostics: Codable, Sendable {
    /// The noise vector in the upload (DP-FedAvg: n_k; NISS: Σ n_i + Σ s_j·r_j), when diagnostics are on.
    @PackedOptionalFloats public var noise: [Float]?
    /// NISS: σ²·Σ_j (s_j − 1)², this client's realised contribution to the aggregate noise variance.
    public var distortion: Double?
    /// NISS, a client that colludes with the PS: every share it created or received.
    public var reveal: CollusionReveal?

    public init(noise: [Float]? = nil, distortion: Double? = nil, reveal: CollusionReveal? = nil) {
        self.noise = noise
        self.distortion = distortion
        self.reveal = reveal
    }
}

/// A colluding client's disclosure to the PS (Theorem 3's threat model).
public struct CollusionReveal: Codable, Sendable {
    /// Shares it created: each as sent (negated), with its receiver in `to`.
    public var created: [NoiseShare]
    /// Shares it received, as they arrived.
    public var received: [NoiseShare]

    public init(created: [NoiseShare], received: [NoiseShare]) {
        self.created = created
        self.received = received
    }
}
