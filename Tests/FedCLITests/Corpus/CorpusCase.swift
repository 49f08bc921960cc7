// CorpusCase: one bad input to `fednoise` (arguments, files, environment) and what its error must say.
import FedCLI
import Foundation
import Synchronization

/// A bad input and the error it must give: a non-zero status (2 usage or configuration, 1 runtime) and a message on
/// stderr that names every string in `mentions` (the flag, key path, file or byte offset). Arguments and file
/// contents may use `$DIR` (the case's own temporary folder) and `$CONFIG` (the repository's config folder).
struct CorpusCase: Sendable, CustomStringConvertible {
    var name: String
    var arguments: [String]
    var files: [String: Data] = [:]
    var environment: [String: String] = [:]
    var status: Int32
    var mentions: [String]
    /// Seconds before the case counts as a hang.
    var timeout: Double = 60

    var description: String { name }

    static let configDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../config").standardized.path

    /// What one run of a case gave.
    struct Outcome: Sendable {
        /// nil: it did not finish within the timeout.
        var status: Int32?
        var stderr: String
        var stdout: String
    }

    /// Runs the case in-process through `FedCommandLine.run`, with its output captured, in a fresh folder.
    func run() async throws -> Outcome {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("fednoise-corpus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func expand(_ s: String) -> String {
            s.replacingOccurrences(of: "$DIR", with: dir.path).replacingOccurrences(of: "$CONFIG", with: Self.configDirectory)
        }
        for (name, data) in files.sorted(by: { $0.key < $1.key }) {
            let url = dir.appendingPathComponent(expand(name))
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            let text = String(data: data, encoding: .utf8)
            try (text.map { Data(expand($0).utf8) } ?? data).write(to: url)
        }
        let args = arguments.map(expand)
        let env = environment, seconds = timeout
        let capture = Capture()
        let sink = ConsoleCapture { text, isError in capture.append(text, isError: isError) }
        // Detached and unstructured, so a hung case is left behind (and reported) instead of hanging the suite.
        Task.detached {
            let s = await ConsoleCapture.$current.withValue(sink) {
                await FedCommandLine.run(args, environment: env)
            }
            capture.finish(s)
        }
        Task.detached {
            try? await Task.sleep(for: .seconds(seconds))
            capture.finish(nil)
        }
        let status: Int32? = await withCheckedContinuation { capture.wait($0) }
        return Outcome(status: status, stderr: capture.stderr.withLock { $0 }, stdout: capture.stdout.withLock { $0 })
    }

    /// A case's captured output, and the first of (its status, the timeout) to arrive.
    final class Capture: Sendable {
        let stderr = Mutex(""), stdout = Mutex("")
        /// The waiter, or the result that came first.
        private let state = Mutex<(waiter: CheckedContinuation<Int32?, Never>?, result: Int32??)>((nil, nil))

        func append(_ text: String, isError: Bool) {
            if isError { stderr.withLock { $0 += text } } else { stdout.withLock { $0 += text } }
        }

        func wait(_ continuation: CheckedContinuation<Int32?, Never>) {
            let ready: Int32?? = state.withLock { s in
                if let r = s.result { return .some(r) }
                s.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }

        func finish(_ status: Int32?) {
            let waiter: CheckedContinuation<Int32?, Never>? = state.withLock { s in
                guard s.result == nil else { return nil }
                s.result = .some(status)
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(returning: status)
        }
    }
}

extension CorpusCase {
    /// `fednoise run config/smoke.json --set rounds=1 --set output=$DIR/out …sets`, the R. By default the
    /// message must name the key path of the last `--set`.
    static func run(_ sets: [String], status: Int32 = 2, mentions: [String]? = nil, name: String? = nil)
        -> CorpusCase
    {
        let key = sets.last.map { String($0.prefix { $0 != "=" }) } ?? ""
        return CorpusCase(
            name: name ?? "run --set " + sets.joined(separator: " --set "),
            arguments: ["run", "$CONFIG/smoke.json", "--quiet", "--set", "rounds=1", "--set", "output=$DIR/out"]
                + sets.flatMap { ["--set", $0] },
            status: status, mentions: mentions ?? [key])
    }

    /// A bad value for `key` under `prefix` settings (e.g. the strategy that reads it), naming the key and `--set`.
    static func value(_ key: String, _ values: [String], after prefix: [String] = [], mentions: [String] = [])
        -> [CorpusCase]
    {
        values.map { v in run(prefix + ["\(key)=\(v)"], mentions: ["--set \(key)=\(v)", key] + mentions) }
    }

    /// `fednoise <arguments>` with files written first.
    static func command(_ arguments: [String], files: [String: Data] = [:], env: [String: String] = [:],
                        status: Int32 = 2, mentions: [String], name: String? = nil) -> CorpusCase {
        CorpusCase(name: name ?? arguments.joined(separator: " ") + (env.isEmpty ? "" : " \(env)"),
                   arguments: arguments, files: files, environment: env, status: status, mentions: mentions)
    }
}

extension Data {
    init(_ text: String) { self.init(text.utf8) }
}
