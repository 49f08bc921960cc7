// ConfigurationShape: checks a merged JSON config against the Swift types of its defaults, naming the key path.
import Foundation

/// What `JSONDecoder` cannot say clearly: `"rounds": 2.5`, `"seed": -1` or `2^64` all fail there as "not valid
/// JSON" at key ''. This walk compares every value with the type of the field it lands in (read from the defaults
/// by reflection) and names the key path, the input that set it, what was expected and what was given. It also
/// checks the objects inside arrays (`clientBudgets`, `clientTau2` entries) for unknown keys, which the overlay of
/// top-level objects cannot see.
enum ConfigurationShape {
    /// Checks `json` (the merged config) against `defaults`. `arrayElements` gives an example element for arrays
    /// whose default is empty ("strategy.dp.clientBudgets": a `ClientBudget`), so their entries can be checked.
    static func check(_ json: Any, against defaults: Any, arrayElements: [String: Any],
                      origins: ConfigurationFile.Origins) throws(UsageError) {
        try walk(json, defaults, path: "", arrayElements: arrayElements, origins: origins)
    }

    private static func walk(_ json: Any, _ template: Any, path: String, arrayElements: [String: Any],
                             origins: ConfigurationFile.Origins) throws(UsageError) {
        func fail(_ what: String) -> UsageError {
            UsageError("\(origins.source(of: path)): key '\(path)': \(what)")
        }
        let mirror = Mirror(reflecting: template)
        if mirror.displayStyle == .optional {
            if json is NSNull { return }
            if let wrapped = mirror.children.first { return try walk(json, wrapped.value, path: path,
                                                                     arrayElements: arrayElements, origins: origins) }
            if let kind = nilOptionalKind(template) { try checkScalar(json, kind, fail) }
            return
        }
        if let kind = scalarKind(template) { return try checkScalar(json, kind, fail) }
        if type(of: template) is any CaseIterable.Type {
            guard json is String else { throw fail("expected one of its names as a string, got \(show(json))") }
            return
        }
        switch mirror.displayStyle {
        case .struct:
            guard let object = json as? [String: Any] else { throw fail("expected an object, got \(show(json))") }
            let fields = Dictionary(mirror.children.compactMap { c in c.label.map { ($0, c.value) } },
                                    uniquingKeysWith: { a, _ in a })
            for (key, value) in object.sorted(by: { $0.key < $1.key }) {
                let child = path.isEmpty ? key : path + "." + key
                guard let field = fields[key] else {
                    throw UsageError("\(origins.source(of: child)): unknown key '\(child)' "
                                     + "(allowed here: \(fields.keys.sorted().joined(separator: ", ")))")
                }
                try walk(value, field, path: child, arrayElements: arrayElements, origins: origins)
            }
        case .collection:
            guard let array = json as? [Any] else { throw fail("expected a list [ … ], got \(show(json))") }
            guard let element = mirror.children.first?.value ?? arrayElements[path] else { return }
            for (i, value) in array.enumerated() {
                try walk(value, element, path: "\(path)[\(i)]", arrayElements: arrayElements, origins: origins)
            }
        default:
            return
        }
    }

    private enum Kind { case int, uint64, double, bool, string }

    private static func scalarKind(_ value: Any) -> Kind? {
        switch value {
        case is Bool: .bool
        case is Int: .int
        case is UInt64: .uint64
        case is Double, is Float: .double
        case is String: .string
        default: nil
        }
    }

    /// The kind of a nil optional field, which reflection cannot unwrap.
    private static func nilOptionalKind(_ value: Any) -> Kind? {
        let t = type(of: value)
        if t == Int?.self { return .int }
        if t == UInt64?.self { return .uint64 }
        if t == Double?.self || t == Float?.self { return .double }
        if t == Bool?.self { return .bool }
        if t == String?.self { return .string }
        return nil
    }

    private static func checkScalar(_ json: Any, _ kind: Kind, _ fail: (String) -> UsageError) throws(UsageError) {
        let number = json as? NSNumber
        let type = number.map { String(cString: $0.objCType) }
        let isBool = type == "c"
        switch kind {
        case .bool:
            guard isBool else { throw fail("expected true or false, got \(show(json))") }
        case .string:
            guard json is String else { throw fail("expected a string, got \(show(json))") }
        case .double:
            guard let number, !isBool else { throw fail("expected a number, got \(show(json))") }
            guard number.doubleValue.isFinite else { throw fail("\(show(json)) is beyond the floating-point range") }
        case .int, .uint64:
            let unsigned = kind == .uint64
            let range = unsigned ? "0…18446744073709551615" : "−9223372036854775808…9223372036854775807"
            guard let number, !isBool else { throw fail("expected a whole number, got \(show(json))") }
            if type == "Q" || ["i", "q", "l", "s"].contains(type) {
                if unsigned, type != "Q", number.int64Value < 0 {
                    throw fail("expected a whole number in \(range), got \(show(json))")
                }
                if !unsigned, type == "Q", number.uint64Value > UInt64(Int.max) {
                    throw fail("expected a whole number in \(range), got \(show(json))")
                }
                return
            }
            let d = number.doubleValue
            guard d.isFinite, d == d.rounded() else { throw fail("expected a whole number, got \(show(json))") }
            let fits = unsigned ? (d >= 0 && d < 18_446_744_073_709_551_616.0) : (d >= -9.223372036854775808e18
                                                                                  && d < 9.223372036854775808e18)
            guard fits, !(json is NSDecimalNumber) else {
                throw fail("expected a whole number in \(range), got \(show(json))")
            }
        }
    }

    /// A JSON value as the user wrote it, short.
    static func show(_ json: Any) -> String {
        switch json {
        case is NSNull: return "null"
        case let s as String: return "'\(s.count > 40 ? s.prefix(40) + "…" : s)'"
        case let n as NSNumber where String(cString: n.objCType) == "c": return n.boolValue ? "true" : "false"
        case let n as NSNumber: return n.description
        case is [Any]: return "a list"
        case is [String: Any]: return "an object"
        default: return "\(json)"
        }
    }
}
