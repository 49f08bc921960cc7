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
