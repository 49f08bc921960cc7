// SocketFrameVectorsApartTests: a deliver frame's float vectors received straight into a [Float] decode exactly.
import FedTransport
import Foundation
import Testing

@Suite struct SocketFrameVectorsApartTests {
    /// A message shaped like a round start: a few fields, then one or two packed vectors.
    struct Model: Codable, Equatable {
        var round: Int
        var participants: [Int]
        @PackedFloats var weights: [Float]
        @PackedOptionalFloats var extra: [Float]?
    }

    /// Scattered bit patterns (NaN payloads, −0, subnormals), compared bit for bit.
    static func floats(_ n: Int, _ rng: inout FuzzBytes) -> [Float] {
        (0..<n).map { i in i == 0 ? -0.0 : Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
    }

    static func bits(_ v: [Float]?) -> [UInt32]? { v?.map(\.bitPattern) }

    /// The frames: two large model deliveries (one vector, two vectors), and frames that must not be split: a
    /// large route, a large deliver whose tail is not whole floats, a deliver whose vector is small.
    static func stream() throws -> (frames: [SocketFrame], models: [Model], bytes: [UInt8]) {
        var rng = FuzzBytes(state: 0x5A1D)
        let models = [
            Model(round: 3, participants: Array(0..<30), weights: floats(50_000, &rng), extra: nil),
            Model(round: 4, participants: [1], weights: floats(20_001, &rng), extra: floats(17_003, &rng)),
            Model(round: 5, participants: [], weights: floats(10, &rng), extra: nil),
        ]
        let payloads = try models.map { try WireFormat.encode($0) }
        let frames: [SocketFrame] = sampleFrames + [
            .deliver(request: 1, from: "ps", to: "client-0", sequence: 0, payload: payloads[0]),
            .route(request: 2, from: "client-1", to: "ps", sequence: nil, payload: payloads[0]),
            .deliver(request: 3, from: "ps", to: "client-12", sequence: 7, payload: payloads[1]),
            .deliver(request: 4, from: "ps", to: "client-2", sequence: 1, payload: Data(rng.bytes(100_001))),
            .deliver(request: 5, from: "ps", to: "client-3", sequence: 2, payload: payloads[2] + Data(count: 70_001)),
        ]
        return (frames, models, try frames.flatMap { try $0.encoded() })
    }

    /// Reads as a SocketConnection does, in pieces of `piece` bytes; each frame with its vectors.
    static func decode(_ bytes: [UInt8], apart: Bool,
                       piece: (Int) -> Int) throws -> [(frame: SocketFrame, vectors: [Float]?)] {
        var decoder = SocketFrameDecoder(vectorsApart: apart)
        return try SocketFrameDirectBodyTests.read(bytes, into: &decoder, piece: piece)
    }

    @Test func modelVectorsArriveApartAndDecodeBitForBit() throws {
        let (frames, models, bytes) = try Self.stream()
        var rng = FuzzBytes(state: 0xA9A7)
        for maxPiece in [1, 1_000, 16_384, 100_000] {  // smaller than either model's frame
            let decoded = try Self.decode(bytes, apart: true) { min($0, 1 + rng.below(maxPiece)) }
            try #require(decoded.count == frames.count)
            // Only the two model deliveries are split: exactly their trailing vectors are held apart.
            let apart = decoded.indices.filter { decoded[$0].vectors != nil }
            #expect(apart == [frames.count - 5, frames.count - 3], "pieces ≤ \(maxPiece)")
            for (i, model) in zip(apart, models) {
                guard case .deliver(_, _, _, _, let payload) = decoded[i].frame else {
                    Issue.record("frame \(i) is not a deliver"); continue
                }
                let back = try WireFormat.decode(Model.self, from: payload, trailingVectors: decoded[i].vectors)
                #expect(back.round == model.round && back.participants == model.participants)
                let exact = Self.bits(back.weights) == Self.bits(model.weights)
                    && Self.bits(back.extra) == Self.bits(model.extra)
                #expect(exact, "frame \(i), round \(model.round), pieces ≤ \(maxPiece)")
            }
            // Every other frame is exactly the frame sent.
            for i in decoded.indices where !apart.contains(i) { #expect(decoded[i].frame == frames[i]) }
        }
    }

    @Test func nextJoinsTheVectorsAgainAndDecodersAgree() throws {
        let (frames, _, bytes) = try Self.stream()
        var rng = FuzzBytes(state: 0x1017)
        var decoder = SocketFrameDecoder(vectorsApart: true)
        let joined = try SocketFrameDirectBodyTests.read(bytes, into: &decoder, joined: true) {
            min($0, 1 + rng.below(50_000))
        }.map(\.frame)
        #expect(joined == frames)
        // The negative control: the split payload alone is not the frame sent.
        let split = try Self.decode(bytes, apart: true) { min($0, 65_536) }
        #expect(split[frames.count - 5].frame != frames[frames.count - 5])
    }

    @Test func theModelVectorIsHandedOverNotCopied() throws {
        var rng = FuzzBytes(state: 0xC0FE)
        let model = Model(round: 1, participants: [0], weights: Self.floats(70_000, &rng), extra: nil)
        let sent = try WireFormat.encode(model)
        let bytes = try SocketFrame.deliver(request: 1, from: "ps", to: "client-0", sequence: 0, payload: sent)
            .encoded()
        let decoded = try Self.decode(bytes, apart: true) { min($0, 16_384) }
        let vectors = try #require(decoded.first?.vectors)
        guard case .deliver(_, _, _, _, let payload) = decoded[0].frame else { Issue.record("not a deliver"); return }
        let back = try WireFormat.decode(Model.self, from: payload, trailingVectors: vectors)
        let same = back.weights.withUnsafeBufferPointer { a in
            vectors.withUnsafeBufferPointer { a.baseAddress == $0.baseAddress }
        }
        let exact = Self.bits(back.weights) == Self.bits(model.weights)
        #expect(same && exact)
        // A frame that is in whole when its length is read is not split (nothing would be saved), and decodes.
        let whole = try Self.decode(bytes, apart: true) { $0 }
        guard case .deliver(_, _, _, _, let all) = whole[0].frame else { Issue.record("not a deliver"); return }
        #expect(whole[0].vectors == nil && all == sent)
        #expect(Self.bits(try WireFormat.decode(Model.self, from: all).weights) == Self.bits(model.weights))
    }

    @Test func aSplitBodyCutShortIsReportedWithItsSize() throws {
        var rng = FuzzBytes(state: 0xC07)
        let model = Model(round: 1, participants: [0], weights: Self.floats(40_000, &rng), extra: nil)
        let bytes = try SocketFrame.deliver(request: 1, from: "ps", to: "client-2", sequence: 5,
                                            payload: try WireFormat.encode(model)).encoded()
        for cut in [200, 4 + 65_536, bytes.count - 1] {
            var decoder = SocketFrameDecoder(vectorsApart: true)
            try decoder.append(bytes[..<cut])
            #expect(try decoder.nextWithVectors() == nil)
            #expect(decoder.bufferedBytes == cut)
            #expect(throws: SocketFrameError.truncated(have: cut, need: bytes.count)) { try decoder.finish() }
        }
    }

    @Test func aPayloadThatDoesNotEndAtItsPropertyListIsRefused() throws {
        let payload = try WireFormat.encode(Model(round: 1, participants: [], weights: [1, 2], extra: nil))
        #expect(throws: DecodingError.self) {
            try WireFormat.decode(Model.self, from: payload, trailingVectors: [1])
        }
        // The control: the same bytes decode whole.
        #expect(try WireFormat.decode(Model.self, from: payload).weights == [1, 2])
    }

    /// A model frame to `client`, read in pieces of at most `piece` bytes by `decoder`, decoded.
    static func receive(_ model: Model, to client: Int, by decoder: inout SocketFrameDecoder,
                        piece: Int) throws -> (model: Model, vectors: [Float]?) {
        let bytes = try SocketFrame.deliver(request: UInt64(client), from: "ps", to: .client(client), sequence: 0,
                                            payload: try WireFormat.encode(model)).encoded()
        let got = try SocketFrameDirectBodyTests.read(bytes, into: &decoder, piece: { min($0, piece) }).last
        guard let got, case .deliver(_, _, _, _, let payload) = got.frame else { throw SocketFrameError.emptyFrame }
        return (try WireFormat.decode(Model.self, from: payload, trailingVectors: got.vectors), got.vectors)
    }

    static func base(_ v: [Float]) -> UnsafeRawPointer? { v.withUnsafeBytes { $0.baseAddress } }

    @Test func aRepeatedModelIsSharedAndAChangedOneIsExact() throws {
        var rng = FuzzBytes(state: 0x2E9E)
        let model = Model(round: 1, participants: [0, 1], weights: Self.floats(90_000, &rng), extra: nil)
        for piece in [977, 16_384, 70_000] {
            var decoder = SocketFrameDecoder(vectorsApart: true)
            let one = try Self.receive(model, to: 0, by: &decoder, piece: piece)
            let two = try Self.receive(model, to: 1, by: &decoder, piece: piece)
            // The same bytes again: the second message holds the first one's vector itself, every bit as sent.
            #expect(Self.bits(two.model.weights) == Self.bits(model.weights))
            #expect(Self.base(two.model.weights) == Self.base(one.model.weights), "piece \(piece)")
            // Changed at the first, a middle and the last value (same size): exact, and a vector of its own; the
            // shared one keeps its bits (the control: a repeat would leave the changed bits out).
            for changed in [0, 45_001, 89_999] {
                var other = model
                other.weights[changed] = Float(bitPattern: other.weights[changed].bitPattern ^ 1)
                let three = try Self.receive(other, to: 2, by: &decoder, piece: piece)
                #expect(Self.bits(three.model.weights) == Self.bits(other.weights), "changed \(changed)")
                #expect(Self.base(three.model.weights) != Self.base(one.model.weights))
                #expect(Self.bits(one.model.weights) == Self.bits(model.weights))
                #expect(Self.bits(two.model.weights) == Self.bits(model.weights))
                _ = try Self.receive(model, to: 3, by: &decoder, piece: piece)  // back to the model for the next
            }
        }
    }

    @Test func aCopiedDecoderKeepsItsOwnRepeat() throws {
        var rng = FuzzBytes(state: 0xD0C0)
        let model = Model(round: 1, participants: [], weights: Self.floats(40_000, &rng), extra: nil)
        var decoder = SocketFrameDecoder(vectorsApart: true)
        _ = try Self.receive(model, to: 0, by: &decoder, piece: 20_000)
        // Given: halfway through a repeat, a copy of the decoder
        var other = model
        other.weights[39_000] = .nan
        let bytes = try SocketFrame.deliver(request: 1, from: "ps", to: "client-1", sequence: 0,
                                            payload: try WireFormat.encode(model)).encoded()
        let changed = try SocketFrame.deliver(request: 1, from: "ps", to: "client-1", sequence: 0,
                                              payload: try WireFormat.encode(other)).encoded()
        try decoder.append(bytes[..<80_000])
        var copy = decoder
        // When: each gets a different rest
        try decoder.append(bytes[80_000...])
        try copy.append(changed[80_000...])
        // Then: each decodes its own bytes
        func weights(_ d: inout SocketFrameDecoder) throws -> [UInt32]? {
            guard let (frame, vectors) = try d.nextWithVectors(), case .deliver(_, _, _, _, let p) = frame else {
                return nil
            }
            return Self.bits(try WireFormat.decode(Model.self, from: p, trailingVectors: vectors).weights)
        }
        #expect(try weights(&decoder) == Self.bits(model.weights))
        #expect(try weights(&copy) == Self.bits(other.weights))
    }
}
