// SocketFrameDirectBodyTests: large frame bodies gathered in their own allocation decode as the small path does.
import FedTransport
import Foundation
import Testing

@Suite struct SocketFrameDirectBodyTests {
    /// A stream of every sample frame plus two large deliveries, as bytes.
    static func stream() throws -> (frames: [SocketFrame], bytes: [UInt8]) {
        var rng = FuzzBytes(state: 0xB0D1)
        let frames = sampleFrames + [
            .deliver(request: 1, from: "ps", to: "client-0", sequence: 0, payload: Data(rng.bytes(200_000))),
            .route(request: 2, from: "client-1", to: "ps", sequence: nil, payload: Data(rng.bytes(70_001))),
        ]
        return (frames, try frames.flatMap { try $0.encoded() })
    }

    /// Reading as a SocketConnection does: `readBody` while a large body is open, else a chunk and `append`.
    static func decode(_ bytes: [UInt8], piece: (Int) -> Int, directBodyLength: Int) throws -> [SocketFrame] {
        var decoder = SocketFrameDecoder(directBodyLength: directBodyLength)
        return try read(bytes, into: &decoder, piece: piece).map(\.frame)
    }

    /// Feeds `bytes` to `decoder` as a SocketConnection does, in pieces of `piece(left)` bytes: `readBody` while a
    /// large body is open, else a chunk and `append`; every frame with its vectors (``SocketFrameDecoder/next()``'s
    /// joined frames instead if `joined`). Finishes the stream.
    static func read(_ bytes: [UInt8], into decoder: inout SocketFrameDecoder, joined: Bool = false,
                     piece: (Int) -> Int) throws -> [(frame: SocketFrame, vectors: [Float]?)] {
        var decoded: [(frame: SocketFrame, vectors: [Float]?)] = []
        var at = 0
        while at < bytes.count {
            let want = piece(bytes.count - at)
            let direct = decoder.readBody { space in
                let n = min(want, space.count)
                bytes.withUnsafeBytes { space.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[at..<at + n])) }
                return n
            }
            if let direct { at += direct } else {
                try decoder.append(bytes[at..<at + want])
                at += want
            }
            if joined {
                while let f = try decoder.next() { decoded.append((f, nil)) }
            } else {
                while let f = try decoder.nextWithVectors() { decoded.append(f) }
            }
        }
        try decoder.finish()
        return decoded
    }

    @Test func largeBodiesReadInPlaceDecodeLikeSmallOnes() throws {
        let (frames, bytes) = try Self.stream()
        var rng = FuzzBytes(state: 0x0D1E)
        // Bodies of 1 byte and more, of 64 KiB and more, or never gathered apart; pieces of every size.
        for threshold in [1, 100, 1 << 16, Int.max] {
            for maxPiece in [1_000, 40_000, 300_000] {
                let decoded = try Self.decode(bytes, piece: { min($0, 1 + rng.below(maxPiece)) },
                                              directBodyLength: threshold)
                #expect(decoded == frames, "threshold \(threshold), pieces ≤ \(maxPiece)")
            }
        }
    }

    @Test func aCopiedDecoderKeepsItsOwnBody() throws {
        // Given: a decoder halfway through a large body, and a copy of it
        let payload = Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let bytes = try SocketFrame.deliver(request: 1, from: "ps", to: "client-1", sequence: 3, payload: payload)
            .encoded()
        var first = SocketFrameDecoder()
        try first.append(bytes[..<50_000])
        var second = first
        // When: each gets a different second half
        var corrupt = Array(bytes[50_000...])
        corrupt[corrupt.count - 1] ^= 0xFF
        try first.append(bytes[50_000...])
        _ = second.readBody { space in
            corrupt.withUnsafeBytes { space.copyMemory(from: $0) }
            return corrupt.count
        }
        // Then: each decodes its own bytes (value semantics), the untouched one exactly the frame sent
        let one = try first.next(), two = try second.next()
        #expect(one == .deliver(request: 1, from: "ps", to: "client-1", sequence: 3, payload: payload))
        #expect(two != one && two != nil)
    }

    @Test func aLargeBodyCutShortIsReportedWithItsSize() throws {
        let bytes = try SocketFrame.deliver(request: 1, from: "ps", to: "client-2", sequence: 5,
                                            payload: Data(count: 100_000)).encoded()
        for cut in [5, 4 + 65_536, bytes.count - 1] {
            var decoder = SocketFrameDecoder()
            try decoder.append(bytes[..<cut])
            #expect(try decoder.next() == nil)
            #expect(decoder.bufferedBytes == cut)
            #expect(throws: SocketFrameError.truncated(have: cut, need: bytes.count)) { try decoder.finish() }
        }
        // The control: the whole frame decodes and leaves nothing behind.
        var decoder = SocketFrameDecoder()
        try decoder.append(bytes)
        #expect(try decoder.next() != nil && decoder.bufferedBytes == 0)
        try decoder.finish()
    }

    @Test func anOversizedLargeFrameIsRefusedBeforeAnyAllocation() throws {
        var decoder = SocketFrameDecoder(maximumFrameLength: 1 << 20, directBodyLength: 1)
        #expect(throws: SocketFrameError.frameTooLarge(declared: 1 << 21, limit: 1 << 20)) {
            try decoder.append([0, 0x20, 0, 0, 4])
        }
        #expect(decoder.bufferedBytes == 0)
        #expect(decoder.readBody { _ in Issue.record("read into a refused frame"); return 0 } == nil)
    }
}
