// PeerIdentity: what a federation certificate lets its holder be: the hub, or the host of some endpoints.
import Foundation

/// The identity a TLS certificate carries in its subject's common name, which the hub enforces: a link may
/// register only the endpoints its certificate grants (and send only from endpoints it registered).
///
/// The name is a comma-separated list of grants:
/// - `hub`: the listening side (`fednoise serve`); links accept no other server certificate. Grants no endpoint.
/// - `clients:A..B`: clients A to B inclusive (`client-A` … `client-B`); `clients:A` is one client.
/// - `server`: the parameter server and the tracker (`ps`, `tracker`).
/// - an endpoint name (`ps`, `client-7`, `observer`).
/// - `*`: every endpoint (tests, single-operator setups). A link holding it may also send from endpoints nobody
///   has registered, as a plaintext link may.
///
/// ```swift
/// let node = PeerIdentity("clients:0..9")!
/// node.allows(.client(9))       // true
/// node.allows(.parameterServer) // false
/// ```
public struct PeerIdentity: Hashable, Sendable, CustomStringConvertible {
    enum Grant: Hashable, Sendable {
        case hub
        case everything
        case clients(ClosedRange<Int>)
        case endpoint(EndpointID)
    }

    /// The common name, as written in the certificate.
    public let name: String
    let grants: [Grant]

    /// Parses a certificate's common name; nil if any grant is malformed (such a certificate is refused).
    public init?(_ name: String) {
        var grants: [Grant] = []
        for item in name.split(separator: ",", omittingEmptySubsequences: false) {
            let text = item.trimmingCharacters(in: .whitespaces)
            if text == "hub" { grants.append(.hub)
            } else if text == "*" { grants.append(.everything)
            } else if text == "server" { grants += [.endpoint(.parameterServer), .endpoint(.tracker)]
            } else if text.hasPrefix("clients:") {
                guard let range = Self.range(text.dropFirst("clients:".count)) else { return nil }
                grants.append(.clients(range))
            } else if let endpoint = EndpointID(text) { grants.append(.endpoint(endpoint))
            } else { return nil }
        }
        guard !grants.isEmpty else { return nil }
        self.name = name
        self.grants = grants
    }

    /// `A..B` or `A`, non-negative, A ≤ B.
    private static func range(_ text: Substring) -> ClosedRange<Int>? {
        let parts = text.components(separatedBy: "..")
        guard parts.count <= 2, let a = Int(parts[0]), let b = Int(parts[parts.count - 1]), a >= 0, a <= b
        else { return nil }
        return a...b
    }

    /// The identity of the clients `range` (`clients:A..B`).
    public static func clients(_ range: ClosedRange<Int>) -> PeerIdentity {
        PeerIdentity("clients:\(range.lowerBound)..\(range.upperBound)")!
    }

    /// Whether this is the hub's identity.
    public var isHub: Bool { grants.contains(.hub) }
    /// Whether every endpoint is granted (`*`).
    public var grantsEverything: Bool { grants.contains(.everything) }

    /// Whether the holder may register (and so send from) `endpoint`.
    public func allows(_ endpoint: EndpointID) -> Bool {
        grants.contains { grant in
            switch grant {
            case .hub: false
            case .everything: true
            case .clients(let range): endpoint.role == "client" && endpoint.index.map(range.contains) == true
            case .endpoint(let e): e == endpoint
            }
        }
    }

    public var description: String { name }
}
