// ConfigurationFile: JSON configs over typed defaults with `--set` overrides; errors name the input and key path.
import Foundation

enum ConfigurationFile {
    /// Which input (the file or one `--set`) gave each key path its value, so an error can name the right one.
    struct Origins {
        var byKeyPath: [String: String] = [:]
        /// What a key path falls back to: the file, or "defaults" without one.
        var fallback: String

        /// The input behind `keyPath` ("a.b[2].c", or a validation path such as "a.b[0].from/.to"): the origin of
        /// its longest prefix that was set.
        func source(of keyPath: String) -> String {
            let names = keyPath.split(separator: "/").first.map { path in
                path.split(separator: ".").map { $0.split(separator: "[").first.map(String.init) ?? "" }
            } ?? []
            return source(ofNames: names)
        }

        func source(of codingPath: [any CodingKey]) -> String {
            source(ofNames: codingPath.filter { $0.intValue == nil }.map(\.stringValue))
        }

        private func source(ofNames names: [String]) -> String {
            for n in stride(from: names.count, through: 1, by: -1) {
                if let origin = byKeyPath[names.prefix(n).joined(separator: ".")] { return origin }
            }
            return fallback
        }
    }

    /// Decodes `T` from the JSON file at `path` (nil: defaults only) with `overrides` ("key.path=value") applied.
    ///
    /// Every key of the file and of the overrides must name a field of `defaults` (or one of `optionalKeys`, the
    /// paths of optional fields, which JSON leaves out while nil): a typo is an error naming its path. Missing keys
    /// keep their defaults. A value of the wrong type is an error naming its path and what was expected.
    static func load<T: Codable>(
        _ type: T.Type, defaults: T, path: String?, overrides: [String] = [], optionalKeys: Set<String> = []
    ) throws -> T {
        try loadWithOrigins(type, defaults: defaults, path: path, overrides: overrides, optionalKeys: optionalKeys).0
    }

    /// `load`, also returning which input set each key, for errors found later (validation). `arrayElements` gives
    /// an example element for each list whose default is empty, so its entries' keys and types are checked too.

    static func loadWithOrigins<T: Codable>(
        _ type: T.Type, defaults: T, path: String?, overrides: [String] = [], optionalKeys: Set<String> = [],
        arrayElements: [String: Any] = [:]
    ) throws -> (T, Origins) {
        let encoder = JSONEncoder()
        var base = try JSONSerialization.jsonObject(with: encoder.encode(defaults)) as! [String: Any]
        var origins: [String: String] = [:]
        if let path {
            guard FileManager.default.fileExists(atPath: path) else { throw UsageError("\(path): no such file") }
            guard let data = FileManager.default.contents(atPath: path) else {
                throw UsageError("\(path): cannot read the file")
            }
            let object: Any
            do {
                object = try JSONSerialization.jsonObject(with: data)
            } catch {
                var what = describe(error)
                if !what.contains("character") { what += " The file ends at byte \(data.count)." }
                throw UsageError("\(path): not valid JSON (\(what))")
            }
            guard let dict = object as? [String: Any] else {
                throw UsageError("\(path): the top level must be an object")
            }
            try overlay(dict, onto: &base, prefix: "", optionalKeys: optionalKeys, source: path,
                        origins: &origins)
        }
        for item in overrides {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw UsageError("--set needs key.path=value, got '\(item)'")
            }
            let key = String(item[..<eq]), text = String(item[item.index(after: eq)...])
            // A value is JSON when it parses as JSON (numbers, true/false, null, quoted strings), else a string.
            let value = (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) ?? text
            var nested: Any = value
            for part in key.split(separator: ".").reversed() { nested = [String(part): nested] }
            try overlay(nested as! [String: Any], onto: &base, prefix: "", optionalKeys: optionalKeys,
                        source: "--set \(item)", origins: &origins)
        }
        let merged = try JSONSerialization.data(withJSONObject: base)
        let found = Origins(byKeyPath: origins, fallback: path ?? "defaults")
        func source(_ codingPath: [any CodingKey]) -> String { found.source(of: codingPath) }
        try ConfigurationShape.check(base, against: defaults, arrayElements: arrayElements, origins: found)
        do {
            return (try JSONDecoder().decode(T.self, from: merged), found)
        } catch let DecodingError.typeMismatch(type, context) {
            throw UsageError(
                "\(source(context.codingPath)): key '\(keyPath(context.codingPath))': expected \(describe(type))")
        } catch let DecodingError.dataCorrupted(context) {
            let key = keyPath(context.codingPath), source = source(context.codingPath)
            if let names = choices(in: defaults, at: context.codingPath) {
                let given = value(in: base, at: context.codingPath).map { " '\($0)'" } ?? ""
                throw UsageError(
                    "\(source): key '\(key)': unknown value\(given) (allowed: \(names.joined(separator: ", ")))")
            }
            throw UsageError("\(source): key '\(key)': \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(type, context) {
            let key = keyPath(context.codingPath)
            throw UsageError("\(source(context.codingPath)): key '\(key)': expected \(describe(type)), found null")
        } catch let DecodingError.keyNotFound(key, context) {
            let path = context.codingPath + [key]
            throw UsageError("\(source(path)): missing key '\(keyPath(path))'")
        }
    }

    private static func overlay(_ dict: [String: Any], onto base: inout [String: Any], prefix: String,
                                optionalKeys: Set<String>, source: String,
                                origins: inout [String: String]) throws {
        for (key, value) in dict.sorted(by: { $0.key < $1.key }) {
            let path = prefix.isEmpty ? key : prefix + "." + key
            guard base[key] != nil || optionalKeys.contains(path) else {
                let siblings = (Array(base.keys) + optionalKeys.compactMap { p -> String? in
                    let parts = p.split(separator: ".")
                    return parts.dropLast().joined(separator: ".") == prefix ? String(parts.last!) : nil
                }).sorted()
                throw UsageError("\(source): unknown key '\(path)' (allowed here: \(siblings.joined(separator: ", ")))")
            }
            if let sub = value as? [String: Any], var existing = base[key] as? [String: Any] {
                try overlay(sub, onto: &existing, prefix: path, optionalKeys: optionalKeys, source: source,
                            origins: &origins)
                base[key] = existing
            } else {
                base[key] = value is NSNull ? nil : value
                origins = origins.filter { !$0.key.hasPrefix(path + ".") }
                origins[path] = source
            }
        }
    }

    /// The allowed names when the field at `path` of `defaults` is an enumeration (ModelKind, StrategyKind, …).
    private static func choices(in defaults: Any, at path: [any CodingKey]) -> [String]? {
        var current = defaults
        for key in path {
            let children = Mirror(reflecting: current).children
            let child = key.intValue.map { i in children.dropFirst(i).first }
                ?? children.first { $0.label == key.stringValue }
            guard let child else { return nil }
            current = child.value
        }
        if Mirror(reflecting: current).displayStyle == .optional {
            guard let wrapped = Mirror(reflecting: current).children.first else { return nil }
            current = wrapped.value
        }
        guard let kind = type(of: current) as? any CaseIterable.Type else { return nil }
        return caseNames(kind)
    }

    private static func caseNames<T: CaseIterable>(_: T.Type) -> [String] {
        T.allCases.map { ($0 as? any RawRepresentable).map { "\($0.rawValue)" } ?? "\($0)" }
    }

    /// The merged JSON value at `path`, as written.
    private static func value(in object: Any, at path: [any CodingKey]) -> Any? {
        var current: Any? = object
        for key in path {
            if let i = key.intValue { current = (current as? [Any]).flatMap { i < $0.count ? $0[i] : nil } }
            else { current = (current as? [String: Any])?[key.stringValue] }
        }
        return current
    }

    static func keyPath(_ path: [any CodingKey]) -> String {
        path.reduce("") { text, key in
            if let i = key.intValue { return text + "[\(i)]" }
            return text.isEmpty ? key.stringValue : text + "." + key.stringValue
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is UInt64.Type: "a whole number"
        case is Double.Type, is Float.Type: "a number"
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        default: "\(type)"
        }
    }

    private static func describe(_ error: any Error) -> String {
        ((error as NSError).userInfo["NSDebugDescription"] as? String) ?? "\(error)"
    }
}
