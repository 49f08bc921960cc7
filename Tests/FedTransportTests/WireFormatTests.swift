// WireFormatTests: messages and envelopes survive encoding; frames reassemble from pieces; endpoint names.
import FedTransport
import Foundation
import Testing

@Suite struct WireFormatTests {
    @Test(arguments: [
        TestMessage.number(-42), .text("héllo, wörld"), .stop,
        .weights([0, -0.0, Float(bitPattern: 1), .pi, .greatestFiniteMagnitude]),
    ])
    func everyMessageRoundTrips(_ message: TestMessage) throws {
        #expect(try roundTrip(message) == message)
        let envelope = Envelope(from: .client(3), to: .parameterServer, sequence: 9, message: message)
        #expect(try roundTrip(envelope) == envelope)
    }

    @Test func floatBitsSurviveIncludingNaNAndInfinities() throws {
        let values: [Float] = [.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude, 0.1]
        let back = try roundTrip(values)
        #expect(back.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test func framesReassembleFromArbitraryPieces() throws {
        // Given: three framed envelopes in one byte stream
        let envelopes = (0..<3).map {
            Envelope(from: .client($0), to: .tracker, sequence: UInt64($0), message: TestMessage.number($0 * 10))
        }
        var stream = Data()
        for envelope in envelopes { stream.append(try WireFormat.frame(envelope)) }
        // When: it arrives 7 bytes at a time
        var reader = FrameReader<TestMessage>()
        var decoded: [Envelope<TestMessage>] = []
        for start in stride(from: 0, to: stream.count, by: 7) {
            reader.append(stream[start..<min(start + 7, stream.count)])
            while let envelope = try reader.next() { decoded.append(envelope) }
        }
        // Then
        #expect(decoded == envelopes)
        #expect(try reader.next() == nil)
    }

    @Test func oversizedFrameIsRejected() {
        var reader = FrameReader<TestMessage>()
        reader.append(Data([0xFF, 0xFF, 0xFF, 0xFF, 0]))
        #expect(throws: WireFormatError.frameTooLarge(0xFFFF_FFFF)) { _ = try reader.next() }
    }

    @Test func endpointNamesAreReadableAndLossless() throws {
        #expect(EndpointID.client(17).description == "client-17")
        #expect(EndpointID.parameterServer == "ps" && EndpointID.tracker.description == "tracker")
        for text in ["ps", "client-0", "client-17", "worker_2-5"] { #expect(EndpointID(text)?.description == text) }
        for text in ["", "-1", "client-", "client--1", "client-01", "client-+1", "a b", "x-y-1"] {
            #expect(EndpointID(text) == nil, "\(text.debugDescription) should not parse")
        }
        let json = try JSONEncoder().encode([EndpointID.client(2), .parameterServer])
        #expect(String(decoding: json, as: UTF8.self) == #"["client-2","ps"]"#)
        #expect(try JSONDecoder().decode([EndpointID].self, from: json) == [.client(2), .parameterServer])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(EndpointID.self, from: Data(#""a b""#.utf8)) }
        #expect([EndpointID.client(10), .client(2), "client", .parameterServer].sorted()
            == ["client", .client(2), .client(10), .parameterServer])
    }

    @Test func envelopeDescriptionNamesTheKindNotThePayload() {
        let envelope = Envelope(from: .client(1), to: .parameterServer, sequence: 4,
                                message: TestMessage.weights([1, 2]))
        #expect(envelope.description == "client-1 → ps #4 (TestMessage.weights)")
        let stop = Envelope(from: .tracker, to: .client(0), sequence: 0, message: TestMessage.stop)
        #expect(stop.description == "tracker → client-0 #0 (TestMessage.stop)")
    }
}

@Suite("Wire format: float vectors after the property list")
struct WireBlobTests {
    struct TwoVectors: Codable, Equatable {
        var name: String
        @PackedFloats var first: [Float]
        @PackedOptionalFloats var second: [Float]?
    }

    /// The bytes after the property list, read independently of the decoder: the 4-byte big-endian length, then skip.
    private func trailing(_ data: Data) -> Data {
        let length = data.prefix(4).reduce(0) { $0 << 8 | Int($1) }
        return data.dropFirst(4 + length)
    }

    @Test func vectorsTravelAfterThePropertyListAsTheirLittleEndianBits() throws {
        let value = TwoVectors(name: "x", first: [1, -0.0, .nan, 3e-38], second: [.infinity, 2])
        let data = try WireFormat.encode(value)
        // Oracle: each float's bit pattern written byte by byte, little-endian, in field order.
        var expected = Data()
        for v in value.first + value.second! {
            let bits = v.bitPattern
            expected.append(contentsOf: (0..<4).map { UInt8(truncatingIfNeeded: bits >> (8 * $0)) })
        }
        #expect(trailing(data) == expected)
        let back = try WireFormat.decode(TwoVectors.self, from: data)
        #expect(back.first.map(\.bitPattern) == value.first.map(\.bitPattern))
        #expect(back.second?.map(\.bitPattern) == value.second?.map(\.bitPattern))
        #expect(back.name == "x")
        // An absent optional vector costs no trailing bytes and stays absent.
        let none = try WireFormat.encode(TwoVectors(name: "y", first: [5], second: nil))
        #expect(trailing(none).count == 4)
        #expect(try WireFormat.decode(TwoVectors.self, from: none).second == nil)
    }

    @Test func aFrameDecodedFromASliceInsideABiggerBufferKeepsItsVectors() throws {
        // Decoding reads the trailing area relative to the slice, not to the buffer holding it.
        let envelope = Envelope(from: .client(2), to: .parameterServer, sequence: 1,
                                message: TestMessage.weights((0..<1000).map { Float($0) / 7 }))
        var stream = Data([9, 9, 9])
        stream.append(try WireFormat.frame(envelope))
        stream.append(try WireFormat.frame(envelope))
        var reader = FrameReader<TestMessage>()
        reader.append(stream.dropFirst(3))
        #expect(try reader.next() == envelope)
        #expect(try reader.next() == envelope)
        #expect(try reader.next() == nil)
    }

    @Test func aVectorReferenceOutsideTheMessageIsADecodingErrorNamingTheField() throws {
        let data = try WireFormat.encode(TwoVectors(name: "z", first: [1, 2, 3], second: [4]))
        #expect(try WireFormat.decode(TwoVectors.self, from: data).second == [4])  // control: intact bytes decode
        // Cut the last value: `second` now points past the end.
        do {
            _ = try WireFormat.decode(TwoVectors.self, from: data.dropLast(4))
            Issue.record("a reference past the end decoded")
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.codingPath.map(\.stringValue) == ["value", "second"])
            #expect(context.debugDescription.contains("inside the message's 12 trailing bytes"))
        }
        // A property-list length longer than the bytes is refused before any decoding.
        var lying = data
        lying[lying.startIndex] = 0x7F
        #expect(throws: DecodingError.self) { try WireFormat.decode(TwoVectors.self, from: lying) }
        #expect(throws: DecodingError.self) { try WireFormat.decode(TwoVectors.self, from: Data([0, 0])) }
    }
}
