// EndpointID: the readable name of a transport endpoint ("ps", "tracker", "client-17").

/// The address of one endpoint on a ``Transport``: a role and, for roles with many members, an index.
///
/// Its text form is `role` or `role-index` (`"ps"`, `"tracker"`, `"client-17"`); that is also its `Codable` form
/// (a single string), so logs and wire frames stay readable. A role is non-empty and made of ASCII letters, digits
/// and `_`; an index is non-negative. The transport gives roles no meaning: ``parameterServer``, ``tracker`` and
/// ``client(_:)`` are only conventions for FedNoise's runtime.
///
/// ```swift
/// let ps: EndpointID = "ps"                       // same as .parameterServer
/// let c = EndpointID.client(17)                   // "client-17"
/// EndpointID("client-17") == c                    // true
/// ```
public struct EndpointID: Hashable, Comparable, Sendable {
    /// The role, such as `"ps"`, `"tracker"` or `"client"`.
    public let role: String
    /// The member's index within its role, or `nil` for a singleton role.
    public let index: Int?

    /// An endpoint called `role` (or `role-index`).
    /// - Precondition: `role` is non-empty ASCII letters, digits or `_`; `index` is `nil` or `>= 0`.
    public init(role: String, index: Int? = nil) {
        precondition(Self.isValidRole(role), "EndpointID role must be non-empty [A-Za-z0-9_]: \(role.debugDescription)")
        precondition((index ?? 0) >= 0, "EndpointID index must be non-negative: \(index ?? 0)")
        self.role = role
        self.index = index
    }

    /// The parameter server, `"ps"`.
    public static let parameterServer = EndpointID(role: "ps")
    /// The tracker, `"tracker"`.
    public static let tracker = EndpointID(role: "tracker")
    /// Client number `index`, `"client-<index>"`.
    public static func client(_ index: Int) -> EndpointID { EndpointID(role: "client", index: index) }

    /// Orders by role, then by index (a singleton role sorts before its indexed members).
    public static func < (lhs: EndpointID, rhs: EndpointID) -> Bool {
        if lhs.role != rhs.role { return lhs.role < rhs.role }
        return (lhs.index ?? -1) < (rhs.index ?? -1)
    }

    static func isValidRole(_ role: Substring) -> Bool {
        !role.isEmpty && role.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F
        }
    }

    static func isValidRole(_ role: String) -> Bool { isValidRole(role[...]) }
}

extension EndpointID: LosslessStringConvertible, ExpressibleByStringLiteral {
    /// `role` or `role-index`.
    public var description: String { index.map { "\(role)-\($0)" } ?? role }

    /// Parses `role` or `role-index`; `nil` for anything ``description`` would not produce
    /// (an empty or invalid role, a signed index, leading zeros).
    public init?(_ description: String) {
        guard let dash = description.lastIndex(of: "-") else {
            guard Self.isValidRole(description) else { return nil }
            self.init(role: description)
            return
        }
        let role = description[..<dash], digits = description[description.index(after: dash)...]
        guard Self.isValidRole(role), !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              digits == "0" || !digits.hasPrefix("0"), let index = Int(digits)
        else { return nil }
        self.init(role: String(role), index: index)
    }

    /// A literal endpoint such as `"ps"` or `"client-3"`.
    /// - Precondition: the literal is a valid endpoint name.
    public init(stringLiteral value: String) {
        guard let id = EndpointID(value) else {
            preconditionFailure("invalid EndpointID literal \(value.debugDescription)")
        }
        self = id
    }
}

extension EndpointID: Codable {
    /// Decodes the text form, `"client-17"`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = EndpointID(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "invalid endpoint name \(text.debugDescription)")
        }
        self = id
    }

    /// Encodes the text form, `"client-17"`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
