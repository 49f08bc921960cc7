// FederationCheckpoint: everything a federation needs to continue after round k, bit for bit, and its file format.
import FedStrategy
import Foundation

/// The full state of a run after a completed round: with it, `Federation.run(control:)` continues to a final model
/// and reports bit-identical to an uninterrupted run.
///
/// Why this is enough: every random stream of a run is `StreamKey(seed, purpose, client, round, attempt, …)` via
/// Philox (`StreamPurpose`): client sampling (seed, round), local training (seed, client, round), upload noise (seed,
/// client, round), NISS shares and distortions (seed, client, round, attempt, index), the tracker's neighbour lists
/// (seed, round, attempt). No generator is carried from one round to the next, so a generator's "position" is the
/// round index, and `round` restores them all. The partition and the colluders depend on the seed only (rebuilt from
/// the configuration). Clients keep nothing between rounds (the global model arrives with each round start), the
/// tracker's live set is every client that said hello, and strategies are immutable values. What does carry across
/// rounds is the server's: the global model, the privacy ledger (every client's accountants and releases), the round
/// reports (the rows of rounds.csv), and the aggregator's state (server momentum, `Aggregator.savedState`).
///
/// New server state is added to `ServerMachine.Snapshot` and to `CodingKeys` and the coding below; the JSON
/// header carries it. The snapshot's fields read as the checkpoint's own (`checkpoint.round`, `.weights`, …).
@dynamicMemberLookup
public struct FederationCheckpoint: Sendable, Codable {
    /// The format this code writes and reads.
    public static let formatVersion = 1
    public var format = FederationCheckpoint.formatVersion
    /// The run's configuration (its `output` as it was written).
    public var configuration: FederationConfiguration
    /// `configuration.resumeDigest`: a resume with another configuration is refused.
    public var configurationDigest: String
    /// The server's state after the last completed round k (a resume starts at k + 1): the global model (exact
    /// bits, stored as raw little-endian Float32 after the header), the privacy ledger (every client's
    /// client-level and example-level accountants and releases: the accountants' whole state), the round reports (rounds.csv's rows), the
    /// aggregator's state (its vectors stored raw after the model), the wall-clock seconds so far and the first
    /// divergence.
    public var server: ServerMachine.Snapshot

    public subscript<T>(dynamicMember path: WritableKeyPath<ServerMachine.Snapshot, T>) -> T {
        get { server[keyPath: path] }
        set { server[keyPath: path] = newValue }
    }

    enum CodingKeys: String, CodingKey {
        case format, configuration, configurationDigest, round, elapsedSeconds, ledger, reports, aggregatorValues,
             aggregatorVectorLengths, weightCount, payloadDigest, divergence
    }

    public init(configuration: FederationConfiguration, server: ServerMachine.Snapshot) {
        self.configuration = configuration
        configurationDigest = configuration.resumeDigest
        self.server = server
    }

    // The JSON header describes the payload; `encoded()` / `init(encoded:)` move the vectors themselves.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(configuration, forKey: .configuration)
        try c.encode(configurationDigest, forKey: .configurationDigest)
        try c.encode(server.round, forKey: .round)
        try c.encode(server.elapsedSeconds, forKey: .elapsedSeconds)
        try c.encode(server.ledger, forKey: .ledger)
        try c.encode(server.reports, forKey: .reports)
        try c.encodeIfPresent(server.aggregator?.values, forKey: .aggregatorValues)
        try c.encodeIfPresent(server.aggregator?.vectors.map(\.count), forKey: .aggregatorVectorLengths)
        try c.encodeIfPresent(server.divergence, forKey: .divergence)
        try c.encode(server.weights.count, forKey: .weightCount)
        try c.encode(digest(payloadVectors), forKey: .payloadDigest)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(Int.self, forKey: .format)
        configuration = try c.decode(FederationConfiguration.self, forKey: .configuration)
        configurationDigest = try c.decode(String.self, forKey: .configurationDigest)
        // Vectors are placeholders sized by the header; `init(encoded:)` fills them from the payload.
        let aggregator = try c.decodeIfPresent([Int].self, forKey: .aggregatorVectorLengths).map { lengths in
            AggregatorState(values: try c.decodeIfPresent([String: Double].self, forKey: .aggregatorValues) ?? [:],
                            vectors: lengths.map { [Float](repeating: 0, count: $0) })
        }
        server = ServerMachine.Snapshot(
            round: try c.decode(Int.self, forKey: .round),
            elapsedSeconds: try c.decode(Double.self, forKey: .elapsedSeconds),
            ledger: try c.decode(ClientPrivacyLedger.self, forKey: .ledger),
            reports: try c.decode([RoundReport].self, forKey: .reports),
            weights: [Float](repeating: 0, count: try c.decode(Int.self, forKey: .weightCount)),
            aggregator: aggregator, divergence: try c.decodeIfPresent(String.self, forKey: .divergence))
    }

    private var payloadVectors: [Float] { server.weights + (server.aggregator?.vectors.flatMap { $0 } ?? []) }

    /// Why a checkpoint file cannot be read.
    public struct FormatError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The magic bytes every checkpoint starts with.
    static let magic = Array("FNCKPT\n\u{0}".utf8)

    /// The file: 8 magic bytes "FNCKPT\n\0", the header's length as a little-endian UInt64, the JSON header (UTF-8),
    /// then the model and the aggregator's vectors as raw little-endian Float32, in that order. The header holds
    /// every other field, the vector lengths and an FNV-1a digest of the vectors' bits (a torn file is refused).
    public func encoded() throws -> Data {
        let header = try Self.jsonEncoder().encode(self)
        var data = Data(Self.magic)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(header)
        for vector in [server.weights] + (server.aggregator?.vectors ?? []) {
            #if _endian(little)
            vector.withUnsafeBytes { data.append(contentsOf: $0) }
            #else
            for x in vector { withUnsafeBytes(of: x.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
            #endif
        }
        return data
    }

    /// Reads `encoded()`'s bytes; errors say what is wrong (not a checkpoint, another format, torn, corrupt).
    public init(encoded data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.count >= 16, Array(bytes[0..<8]) == Self.magic else {
            throw FormatError(description: "not a FedNoise checkpoint (it does not start with FNCKPT)")
        }
        var length: UInt64 = 0
        for i in (8..<16).reversed() { length = length << 8 | UInt64(bytes[i]) }
        guard length <= UInt64(bytes.count - 16) else {
            throw FormatError(description: "truncated: the header needs \(length) bytes, the file has \(bytes.count - 16)")
        }
        let headerEnd = 16 + Int(length)
        struct Version: Decodable { var format: Int }
        let decoder = Self.jsonDecoder()
        let version = try decoder.decode(Version.self, from: Data(bytes[16..<headerEnd]))
        guard version.format == Self.formatVersion else {
            throw FormatError(description: "format \(version.format); this FedNoise reads format \(Self.formatVersion)")
        }
        self = try decoder.decode(FederationCheckpoint.self, from: Data(bytes[16..<headerEnd]))
        let expected = server.weights.count + (server.aggregator?.vectors.map(\.count).reduce(0, +) ?? 0)
        guard bytes.count - headerEnd == 4 * expected else {
            throw FormatError(description: "the payload holds \(bytes.count - headerEnd) bytes, the header announces "
                              + "\(4 * expected) (\(expected) Float32): the file is torn")
        }
        var offset = headerEnd
        func read(_ count: Int) -> [Float] {
            defer { offset += 4 * count }
            return (0..<count).map { i in
                let o = offset + 4 * i
                let bits = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16
                    | UInt32(bytes[o + 3]) << 24
                return Float(bitPattern: bits)
            }
        }
        server.weights = read(server.weights.count)
        if var state = server.aggregator {
            state.vectors = state.vectors.map { read($0.count) }
            server.aggregator = state
        }
        struct Check: Decodable { var payloadDigest: String }
        let stored = try decoder.decode(Check.self, from: Data(bytes[16..<headerEnd])).payloadDigest
        guard stored == digest(payloadVectors) else {
            throw FormatError(description: "the model's bits do not match the header's digest: the file is corrupt")
        }
    }

    /// JSON for the header: sorted keys, and NaN or infinite report values (a diverged round) as strings.
    static func jsonEncoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                nan: "nan")
        return e
    }

    static func jsonDecoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf",
                                                                  nan: "nan")
        return d
    }
}

extension FederationConfiguration {
    /// FNV-1a of the configuration's canonical JSON without the keys a resume may change (`output`,
    /// `checkpointEvery`, `continueAfterDivergence`): equal digests mean the same run.
    public var resumeDigest: String {
        var c = self
        c.output = ""
        c.checkpointEvery = 0
        c.continueAfterDivergence = false
        let data = (try? FederationCheckpoint.jsonEncoder().encode(c)) ?? Data()
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in data { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
