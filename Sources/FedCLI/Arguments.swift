// Arguments: a small `--flag value` scanner whose errors name the flag and the allowed values.

/// A command-line mistake: printed with the command's usage hint, exit status 2.
public struct UsageError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Options of one subcommand, consumed as they are read; leftovers are reported as unknown.
public struct Arguments {
    private var values: [String: String] = [:]
    private var repeated: [String: [String]] = [:]
    /// Options given last with no value: an error in `finish()` (unknown options are reported first).
    private var missingValue: [String] = []
    private var flags: Set<String> = []
    public private(set) var positionals: [String] = []
    private var order: [String] = []
    private var used: Set<String> = []

    /// Parses `--key value`, `--key=value` and bare `--flag` (a flag is an option listed in `booleanFlags`).
    public init(_ arguments: [String], booleanFlags: Set<String>, repeatable: Set<String> = [])
        throws(UsageError)
    {
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            if arg == "--" {
                positionals += arguments[(i + 1)...]
                break
            }
            if arg.hasPrefix("--") {
                var name = String(arg.dropFirst(2))
                var value: String?
                if let eq = name.firstIndex(of: "=") {
                    value = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                if booleanFlags.contains(name) {
                    if let value, !["true", "false"].contains(value) {
                        throw UsageError("--\(name) takes no value (or =true/=false), got '\(value)'")
                    }
                    if value != "false" { flags.insert(name) }
                } else {
                    if value == nil {
                        guard i + 1 < arguments.count else {
                            missingValue.append(name)
                            order.append(name)
                            break
                        }
                        // `--output --epochs 3`: the next word is an option, not this one's value (a value that
                        // starts with "--" is written --output=--name).
                        if arguments[i + 1].hasPrefix("--") && arguments[i + 1].count > 2 {
                            missingValue.append(name)
                            order.append(name)
                            i += 1
                            continue
                        }
                        i += 1
                        value = arguments[i]
                    }
                    if repeatable.contains(name) { repeated[name, default: []].append(value!) } else { values[name] = value }
                }
                order.append(name)
            } else if arg.hasPrefix("-") && arg.count > 1 && Double(arg) == nil {
                if arg == "-h" {
                    flags.insert("help")
                    order.append("help")
                } else {
                    throw UsageError("unknown option '\(arg)' (options are spelled --name)")
                }
            } else {
                positionals.append(arg)
            }
            i += 1
        }
    }

    public mutating func flag(_ name: String) -> Bool {
        used.insert(name)
        return flags.contains(name)
    }

    /// Every value of a repeatable option, in order.
    public mutating func strings(_ name: String) -> [String] {
        used.insert(name)
        return repeated[name] ?? []
    }

    public mutating func string(_ name: String) -> String? {
        used.insert(name)
        return values[name]
    }

    public mutating func int(_ name: String, in range: ClosedRange<Int> = 1...Int.max) throws(UsageError) -> Int? {
        guard let text = string(name) else { return nil }
        guard let v = Int(text.replacingOccurrences(of: "_", with: "")), range.contains(v) else {
            throw UsageError("--\(name) must be a whole number in \(describe(range)), got '\(text)'")
        }
        return v
    }

    public mutating func double(_ name: String, in range: ClosedRange<Double> = 0...Double.greatestFiniteMagnitude)
        throws(UsageError) -> Double?
    {
        guard let text = string(name) else { return nil }
        guard let v = Double(text), v.isFinite, range.contains(v) else {
            throw UsageError("--\(name) must be a number in [\(range.lowerBound), \(range.upperBound)], got '\(text)'")
        }
        return v
    }

    public mutating func choice<T: RawRepresentable & CaseIterable>(_ name: String, _ type: T.Type)
        throws(UsageError) -> T? where T.RawValue == String
    {
        guard let text = string(name) else { return nil }
        guard let v = T(rawValue: text) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw UsageError("--\(name) must be one of: \(allowed); got '\(text)'")
        }
        return v
    }

    /// Fails on any option that no reader asked for, naming it.
    public func finish(maxPositionals: Int = 0) throws(UsageError) {
        for name in order where !used.contains(name) {
            throw UsageError("unknown option --\(name)")
        }
        if let name = missingValue.first {
            throw UsageError("--\(name) needs a value (a value starting with -- is written --\(name)=VALUE)")
        }
        if positionals.count > maxPositionals {
            throw UsageError("unexpected argument '\(positionals[maxPositionals])'")
        }
    }

    private func describe(_ r: ClosedRange<Int>) -> String {
        r.upperBound == Int.max ? "\(r.lowerBound)…" : "\(r.lowerBound)…\(r.upperBound)"
    }
}
