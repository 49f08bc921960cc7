// SocketFrameTests: frames round-trip; the decoder, fuzzed, gives a clear error (never a crash) in bounded memory.
import FedTransport
import Foundation
import Testing

/// One frame of each kind, with awkward values (empty and large payloads, unset and maximal sequence numbers).
let sampleFrames: [SocketFrame] = [
    .hello(version: SocketFrame.version, session: "sha-1f2e"),
    .register(request: 1, endpoint: "client-17"),
    .close(endpoint: "tracker"),
    .route(request: 2, from: "client-3", to: "ps", sequence: nil, payload: Data()),
    .route(request: .max, from: "ps", to: "client-0", sequence: .max, payload: Data((0..<3000).map { UInt8($0 & 0xFF) })),
    .deliver(request: 9, from: "ps", to: "client-99", sequence: 41, payload: Data([1, 2, 3])),
    .reply(request: 3, status: .ok),
    .reply(request: 4, status: .unknownEndpoint("client-9")),
    .reply(request: 5, status: .endpointClosed("ps")),
    .reply(request: 6, status: .alreadyRegistered("client-1")),
    .reply(request: 7, status: .shutDown),
    .reply(request: 8, status: .failed("the message does not decode: é")),
    .shutdown,
]

/// A fixed-seed xorshift64* generator: the fuzz inputs are the same on every run.
struct FuzzBytes {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

@Suite struct SocketFrameTests {
    @Test func everyKindRoundTripsWhenBytesArriveOneAtATime() throws {
        var decoder = SocketFrameDecoder()
        var decoded: [SocketFrame] = []
        for frame in sampleFrames {
            for byte in try frame.encoded() {
                try decoder.append([byte])
                while let f = try decoder.next() { decoded.append(f) }
            }
        }
        #expect(decoded == sampleFrames)
        #expect(decoder.bufferedBytes == 0)
        try decoder.finish()
    }

    @Test func framesSurviveAnyCuttingOfTheStream() throws {
        let stream = try sampleFrames.flatMap { try $0.encoded() }
        var rng = FuzzBytes(state: 0x5EED)
        for _ in 0..<200 {
            var decoder = SocketFrameDecoder(maximumFrameLength: 4096)
            var decoded: [SocketFrame] = []
            var at = 0
            while at < stream.count {
                let n = min(stream.count - at, 1 + rng.below(700))
                try decoder.append(stream[at..<at + n])
                at += n
                while let f = try decoder.next() { decoded.append(f) }
            }
            #expect(decoded == sampleFrames)
        }
    }

    @Test func oversizedLengthIsRefusedBeforeItsBodyIsBuffered() throws {
        var decoder = SocketFrameDecoder(maximumFrameLength: 1000)
        #expect(throws: SocketFrameError.frameTooLarge(declared: 0x7FFF_FFFF, limit: 1000)) {
            try decoder.append([0x7F, 0xFF, 0xFF, 0xFF, 3])
        }
        #expect(decoder.bufferedBytes == 0)
        // Spent: later bytes are refused with the same error, and nothing is kept.
        #expect(throws: SocketFrameError.frameTooLarge(declared: 0x7FFF_FFFF, limit: 1000)) {
            try decoder.append([UInt8](repeating: 0, count: 10_000))
        }
        #expect(decoder.bufferedBytes == 0)
        // And the sender's side refuses to build such a frame.
        #expect(throws: SocketFrameError.frameTooLarge(declared: 1 + 8 + (2 + 2) + (2 + 7) + 1 + 8 + 2000, limit: 1000)) {
            _ = try SocketFrame.route(request: 1, from: "ps", to: "tracker", sequence: nil,
                                      payload: Data(count: 2000)).encoded(maximumLength: 1000)
        }
    }

    @Test func everyTruncationIsReportedAtEndOfStream() throws {
        let frame = try SocketFrame.deliver(request: 1, from: "ps", to: "client-2", sequence: 5,
                                            payload: Data([9, 8, 7])).encoded()
        for cut in 1..<frame.count {
            var decoder = SocketFrameDecoder()
            try decoder.append(frame[..<cut])
            #expect(try decoder.next() == nil)
            #expect(throws: SocketFrameError.truncated(have: cut, need: cut < 4 ? 4 : frame.count)) {
                try decoder.finish()
            }
        }
    }

    @Test func malformedBodiesNameWhatIsWrong() throws {
        func decode(_ body: [UInt8]) throws(SocketFrameError) -> SocketFrame? {
            var decoder = SocketFrameDecoder()
            let n = body.count
            try decoder.append([UInt8(n >> 24), UInt8((n >> 16) & 0xFF), UInt8((n >> 8) & 0xFF), UInt8(n & 0xFF)] + body)
            return try decoder.next()
        }
        #expect(throws: SocketFrameError.unknownKind(42)) { try decode([42]) }
        #expect(throws: SocketFrameError.emptyFrame) { try decode([]) }
        #expect(throws: SocketFrameError.malformed("field request needs 8 bytes, 2 left")) { try decode([1, 0, 0]) }
        // A register frame whose endpoint is not a valid name.
        #expect(throws: SocketFrameError.malformed("field endpoint is not an endpoint name: \"a b\"")) {
            try decode([1] + [UInt8](repeating: 0, count: 8) + [0, 3] + Array("a b".utf8))
        }
        #expect(throws: SocketFrameError.malformed("field endpoint is not UTF-8")) {
            try decode([2, 0, 2, 0xC3, 0x28])
        }
        #expect(throws: SocketFrameError.malformed("1 unexpected bytes after a frame of kind 6")) { try decode([6, 0]) }
        // The control: a well-formed body decodes.
        #expect(try decode([6]) == .shutdown)
    }

    /// Random bytes, random frames with random bytes flipped, and random piece sizes: every input ends in frames or a
    /// `SocketFrameError`, and the decoder never holds more than one frame plus one piece.
    @Test func randomBytesNeverCrashAndStayBounded() throws {
        var rng = FuzzBytes(state: 0xF022)
        let limit = 512
        var outcomes: [String: Int] = [:]
        for trial in 0..<3000 {
            var input: [UInt8]
            if trial % 2 == 0 {
                input = rng.bytes(rng.below(600))
            } else {
                input = try sampleFrames[rng.below(sampleFrames.count)].encoded()
                for _ in 0...rng.below(3) where !input.isEmpty { input[rng.below(input.count)] = UInt8(rng.below(256)) }
            }
            var decoder = SocketFrameDecoder(maximumFrameLength: limit)
            var at = 0
            var maxPiece = 0
            do throws(SocketFrameError) {
                while at < input.count {
                    let n = min(input.count - at, 1 + rng.below(64))
                    maxPiece = max(maxPiece, n)
                    try decoder.append(input[at..<at + n])
                    at += n
                    #expect(decoder.bufferedBytes <= 4 + limit + maxPiece)
                    while try decoder.next() != nil {}
                }
                try decoder.finish()
                outcomes["ok", default: 0] += 1
            } catch {
                let kind = switch error {
                case .frameTooLarge: "frameTooLarge"
                case .emptyFrame: "emptyFrame"
                case .unknownKind: "unknownKind"
                case .malformed: "malformed"
                case .truncated: "truncated"
                }
                outcomes[kind, default: 0] += 1
            }
        }
        // The fuzzing reached every kind of outcome (so it tested the error paths, not one of them).
        for kind in ["ok", "frameTooLarge", "unknownKind", "malformed", "truncated"] {
            #expect(outcomes[kind, default: 0] > 0, "no input ended in \(kind): \(outcomes)")
        }
    }
}
