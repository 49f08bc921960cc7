// Console: output helpers: a live progress line on terminals, throttled lines in logs, and number formatting.
import FedNN
import Foundation

/// Writes to standard error; redraws one line in place when stderr is a terminal, otherwise prints at most
/// one line every `logInterval` seconds so CI logs stay short.
public final class ProgressLine {
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var lastDraw = 0.0
    private var lastLength = 0
    private let logInterval: Double

    public init(logInterval: Double = 10) {
        self.logInterval = logInterval
        if !isTerminal { lastDraw = monotonicSeconds() }
    }

    public func update(_ text: String) {
        let now = monotonicSeconds()
        if isTerminal {
            guard now - lastDraw >= 0.1 else { return }
            lastDraw = now
            let pad = max(0, lastLength - text.count)
            writeError("\r" + text + String(repeating: " ", count: pad))
            lastLength = text.count
        } else if now - lastDraw >= logInterval {
            lastDraw = now
            writeError(text + "\n")
        }
    }

    /// Clears the live line so the next regular output starts at column 0.
    public func clear() {
        if isTerminal && lastLength > 0 {
            writeError("\r" + String(repeating: " ", count: lastLength) + "\r")
            lastLength = 0
        }
        lastDraw = isTerminal ? 0 : monotonicSeconds()
    }
}

/// Where `say` and `writeError` send their text: the process's standard output and error, unless a task (a test
/// running the command line in-process) captures them.
public final class ConsoleCapture: Sendable {
    /// The capture of the current task and the tasks it starts (nil: the process's stdout and stderr).
    @TaskLocal public static var current: ConsoleCapture?
    /// Receives (text, isError).
    let write: @Sendable (String, Bool) -> Void
    public init(_ write: @escaping @Sendable (String, Bool) -> Void) { self.write = write }
}

/// Writes a line to standard output at once (unbuffered), so per-round lines reach logs and pipes as they happen.
public func say(_ text: String = "") {
    if let capture = ConsoleCapture.current { return capture.write(text + "\n", false) }
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

public func writeError(_ text: String) {
    if let capture = ConsoleCapture.current { return capture.write(text, true) }
    FileHandle.standardError.write(Data(text.utf8))
}

/// Seconds from an arbitrary origin, monotonic.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// "12.3%" style percentages and fixed-point numbers.
func percent(_ x: Double, digits: Int = 2) -> String { String(format: "%.\(digits)f%%", x * 100) }
func fixed(_ x: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)f", x) }
/// A rounded number with thousands separators: 12345.6 → "12,346".
func grouped(_ x: Double) -> String { Int(x.rounded()).formatted() }

/// The encoder for result files: readable, stable key order, and NaN or infinite values (a diverged run's loss)
/// written as the strings "nan", "inf" and "-inf" instead of failing the whole file.
func resultEncoder() -> JSONEncoder {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                  nan: "nan")
    return encoder
}
