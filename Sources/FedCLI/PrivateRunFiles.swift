// PrivateRunFiles: what `run --processes` hands its children in private: a random session token and a 0700 directory.
import Foundation
import Glibc

/// The session secret and the private directory of a local multi-process run (`fednoise run --processes N`).
///
/// The session a hub serves is the configuration digest, which anyone with the config file can compute; a local
/// run adds 128 random bits, so another user of the machine cannot join the loopback hub first. The token reaches
/// the children through the environment (``tokenVariable``), never the command line (`/proc/PID/cmdline` is world
/// readable, `/proc/PID/environ` is not), and the configuration through a file in a directory only this user can
/// enter. The token must be unpredictable, so it comes from the system's generator (getrandom), not from a seed.
public enum PrivateRunFiles {
    /// The environment variable `serve` and `join` read a session token from (added to the configuration digest).
    public static let tokenVariable = "FEDNOISE_SESSION_TOKEN"

    /// 128 random bits from `SystemRandomNumberGenerator` (getrandom, i.e. /dev/urandom), as 32 hex digits.
    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<2).map { _ in
            let text = String(generator.next() as UInt64, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }.joined()
    }

    /// A new directory under the system's temporary directory that only this user can enter (mkdtemp: mode 0700,
    /// an unpredictable name, never an existing path). The caller removes it.
    public static func makePrivateDirectory() throws -> URL {
        let base = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        var template = Array((base + "fednoise-run-XXXXXX").utf8CString)
        let path = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let made = mkdtemp(buffer.baseAddress!) else { return nil }
            return String(cString: made)
        }
        guard let path else {
            throw RunFailure(description: "cannot make a private temporary directory in \(base): "
                             + String(cString: strerror(errno)))
        }
        return URL(fileURLWithPath: path, isDirectory: true)
    }

    /// The session for `digest`: the digest alone, or `digest:token` when the environment holds a token.
    public static func session(digest: String,
                               environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        guard let token = environment[tokenVariable], !token.isEmpty else { return digest }
        return digest + ":" + token
    }
}
