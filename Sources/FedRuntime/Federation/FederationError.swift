// FederationError: why a federation could not run.

/// Why a federation could not run.
public enum FederationError: Error, CustomStringConvertible {
    case mailboxClosed
    case invalidData(String)

    public var description: String {
        switch self {
        case .mailboxClosed: "the parameter server's mailbox closed before the run ended"
        case .invalidData(let why): why
        }
    }
}
