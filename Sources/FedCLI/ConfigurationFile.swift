// ConfigurationFile: strict JSON decoding whose errors name the file and the key path.
import Foundation

enum ConfigurationFile {
    /// Decodes `T` from the JSON file at `path`, rejecting keys outside `knownKeys` (typos) and reporting
    /// type errors with their key path.
    static func decode<T: Decodable>(_ type: T.Type, from path: String, knownKeys: Set<String>) throws -> T {
        let url = URL(fileURLWithPath: path)
        guard let data = try? Data(contentsOf: url) else { throw UsageError("\(path): cannot read the file") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw UsageError("\(path): not valid JSON (\((error as NSError).userInfo["NSDebugDescription"] ?? error))")
        }
        guard let dict = object as? [String: Any] else { throw UsageError("\(path): the top level must be an object") }
        for key in dict.keys.sorted() where !knownKeys.contains(key) {
            let allowed = knownKeys.sorted().joined(separator: ", ")
            throw UsageError("\(path): unknown key '\(key)' (allowed: \(allowed))")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.typeMismatch(type, context) {
            throw UsageError("\(path): key '\(keyPath(context.codingPath))': expected \(type)")
        } catch let DecodingError.dataCorrupted(context) {
            throw UsageError("\(path): key '\(keyPath(context.codingPath))': \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(type, context) {
            throw UsageError("\(path): key '\(keyPath(context.codingPath))': expected \(type), found null")
        } catch let DecodingError.keyNotFound(key, context) {
            throw UsageError("\(path): missing key '\(keyPath(context.codingPath + [key]))'")
        }
    }

    static func keyPath(_ path: [any CodingKey]) -> String {
        path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}
