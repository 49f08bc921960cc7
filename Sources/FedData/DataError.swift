// DataError: the error thrown when a data file is missing, truncated or malformed.

/// A problem with a data file: which file, where in it (when known) and what was wrong.
///
/// The ``description`` reads `file: byte 16: what was expected vs. what was found`. Byte offsets are
/// 0-based and refer to the *uncompressed* bytes for IDX and CIFAR-10 content, and to the compressed
/// file for gzip-level problems (the message says which).
public struct DataError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file name (last path component) or another short identifier of the data source.
    public let file: String
    /// The 0-based byte offset of the problem, when it has one.
    public let offset: Int?
    /// What was expected and what was found.
    public let reason: String

    public init(file: String, offset: Int? = nil, _ reason: String) {
        self.file = file
        self.offset = offset
        self.reason = reason
    }

    /// `file: byte N: reason`, or `file: reason` when there is no offset.
    public var description: String {
        if let offset { return "\(file): byte \(grouped(offset)): \(reason)" }
        return "\(file): \(reason)"
    }
}

/// `1234567` → `"1,234,567"`: large counts in error messages stay readable and locale-independent.
func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return value < 0 ? "-" + out : out
}
