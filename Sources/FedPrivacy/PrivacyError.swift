// PrivacyError: the one error type of FedPrivacy, and the input checks that throw it.

/// An input the privacy math cannot use, or a budget it cannot meet.
public enum PrivacyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `name` had `value`, which breaks `requirement` (e.g. `delta`, `1.5`, `"in (0, 1)"`).
    case invalidParameter(name: String, value: Double, requirement: String)
    /// No noise multiplier up to `maximumNoiseMultiplier` reaches `targetEpsilon` at `delta`.
    case unreachableBudget(targetEpsilon: Double, delta: Double, maximumNoiseMultiplier: Double)

    public var description: String {
        switch self {
        case let .invalidParameter(name, value, requirement):
            return "invalid \(name) = \(value): must be \(requirement)"
        case let .unreachableBudget(epsilon, delta, maximum):
            return "privacy budget too small: ε = \(epsilon) at δ = \(delta) needs a noise multiplier above \(maximum)"
        }
    }
}

/// Input checks shared by the public entry points; each names the parameter it rejects.
enum Check {
    static func positive(_ value: Double, _ name: String) throws {
        guard value > 0, value.isFinite else {
            throw PrivacyError.invalidParameter(name: name, value: value, requirement: "finite and > 0")
        }
    }

    static func nonNegative(_ value: Double, _ name: String) throws {
        guard value >= 0, value.isFinite else {
            throw PrivacyError.invalidParameter(name: name, value: value, requirement: "finite and ≥ 0")
        }
    }

    /// δ ∈ (0, 1).
    static func delta(_ value: Double, _ name: String = "delta") throws {
        guard value > 0, value < 1 else {
            throw PrivacyError.invalidParameter(name: name, value: value, requirement: "in (0, 1)")
        }
    }

    /// A sampling rate q ∈ [0, 1].
    static func rate(_ value: Double, _ name: String) throws {
        guard value >= 0, value <= 1 else {
            throw PrivacyError.invalidParameter(name: name, value: value, requirement: "in [0, 1]")
        }
    }

    static func atLeast(_ value: Int, _ minimum: Int, _ name: String) throws {
        guard value >= minimum else {
            throw PrivacyError.invalidParameter(name: name, value: Double(value), requirement: "≥ \(minimum)")
        }
    }

    /// RDP orders α ∈ (1, 10 000] (α = 1 would divide by zero in the ε conversion; an integer α costs α + 1
    /// terms, so the range is capped well above any useful order).
    static func orders(_ orders: [Double]) throws {
        guard !orders.isEmpty else {
            throw PrivacyError.invalidParameter(name: "orders.count", value: 0, requirement: "≥ 1")
        }
        for alpha in orders where !(alpha > 1 && alpha <= 10_000) {
            throw PrivacyError.invalidParameter(name: "orders", value: alpha, requirement: "in (1, 10 000]")
        }
    }
}
