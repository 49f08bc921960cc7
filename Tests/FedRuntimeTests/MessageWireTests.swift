// MessageWireTests: every federation message survives the wire format bit for bit, and vectors cost 4 B per value.
import FedRuntime
import FedTestKit
import FedTensor
import FedTransport
import Foundation
import Testing

@Suite("Federation messages on the wire")
struct MessageWireTests {
    /// Awkward floats: NaN with a payload, signed zero, infinities, subnormals, extremes.
    static let awkward: [Float] = [Float(bitPattern: 0x7FC0_1234), -0.0, .infinity, -.infinity,
                                   .leastNonzeroMagnitude, .greatestFiniteMagnitude, -1.5, 0.1]

    func bits(_ v: [Float]?) -> [UInt32]? { v?.map(\.bitPattern) }

    @Test func roundStartAndUploadKeepEveryBit() throws {
        let start = RoundStart(round: 7, weights: Self.awkward, sampledSamples: 600, participants: [1, 4, 9],
                               attempt: 2, parameters: RoundParameters(unitNoiseVariance: 0.01))
        guard case .roundStart(let s) = try roundTrip(FederationMessage.roundStart(start)) else {
            Issue.record("not a round start")
            return
        }
        #expect(bits(s.weights) == bits(Self.awkward))
        #expect(s.round == 7 && s.sampledSamples == 600 && s.participants == [1, 4, 9] && s.attempt == 2)
        #expect(s.parameters.unitNoiseVariance == 0.01)

        for noise in [nil, Array(Self.awkward.reversed())] {
            let upload = ClientUpload(round: 7, client: 4, payload: Self.awkward, weight: 0.25, samples: 600,
                                      trainLoss: 0.5, noiseStd: 0.04, preClipNorm: 2.5)
            let diagnostics = noise.map { UploadDiagnostics(noise: $0) }
            guard case .upload(let u, let d) = try roundTrip(FederationMessage.upload(upload, diagnostics: diagnostics))
            else {
                Issue.record("not an upload")
                return
            }
            #expect(bits(u.payload) == bits(Self.awkward))
            #expect(bits(d?.noise) == bits(noise))
            #expect(u.client == 4 && u.weight == 0.25 && u.noiseStd == 0.04 && u.preClipNorm == 2.5)
        }
    }

    @Test func sharesKeepTheirPayloadInBothEncodings() throws {
        let key = StreamKey(seed: 3, 4)
        for payload in [SharePayload.dense(Self.awkward), .seeded(key)] {
            let share = NoiseShare(round: 2, attempt: 1, id: ShareID(from: 5, index: 3), to: 8, payload: payload)
            let reveal = CollusionReveal(created: [share], received: [share])
            let report = NISSUploadReport(tau2: 0.3, targets: [8], incoming: [ShareID(from: 1, index: 0)],
                                          shareBytes: share.bytes, denseBytes: 1, seededBytes: 2)
            let upload = ClientUpload(round: 2, client: 5, payload: [1], weight: 1, samples: 1, trainLoss: 0,
                                      niss: report)
            for message in [FederationMessage.share(share), .upload(upload, diagnostics: UploadDiagnostics(reveal: reveal))] {
                let back = try roundTrip(message)
                let got: SharePayload? = switch back {
                case .share(let s): s.payload
                case .upload(_, let d): d?.reveal?.received.first?.payload
                default: nil
                }
                switch (got, payload) {
                case (.dense(let a)?, .dense(let b)): #expect(bits(a) == bits(b))
                case (.seeded(let a)?, .seeded(let b)): #expect(a == b)
                default: Issue.record("payload changed kind: \(String(describing: got))")
                }
            }
        }
    }

    @Test func vectorsCostFourBytesPerValue() throws {
        // The binary property list spends about 9 bytes on each element of a plain [Float]; packed, 4 plus a
        // small fixed overhead for the other fields.
        let n = 100_000
        let weights = (0..<n).map { Float($0) * 1e-3 }
        let packed = try WireFormat.encode(FederationMessage.roundStart(
            RoundStart(round: 1, weights: weights, sampledSamples: 1, participants: [0])))
        let plain = try WireFormat.encode(weights)
        #expect(packed.count <= 4 * n + 1_024, "\(packed.count) bytes")
        #expect(plain.count > 2 * packed.count, "plain \(plain.count) against packed \(packed.count)")
        // JSON carries the same blob as base64 and decodes to the same bits.
        let json = try JSONDecoder().decode(RoundStart.self, from: JSONEncoder().encode(
            RoundStart(round: 1, weights: Self.awkward, sampledSamples: 1, participants: [0])))
        #expect(bits(json.weights) == bits(Self.awkward))
    }

    @Test func aTruncatedVectorIsADecodingErrorNamingTheField() throws {
        struct Holder: Codable { @PackedFloats var values: [Float] }
        var plist = try PropertyListSerialization.propertyList(
            from: PropertyListEncoder().encode(Holder(values: [1, 2])), format: nil) as! [String: Any]
        plist["values"] = Data([0, 0, 128, 63, 0, 0, 0])  // 7 bytes: 1.0 and 3 stray bytes
        let bad = try PropertyListSerialization.data(fromPropertyList: plist, format: .binary, options: 0)
        do {
            _ = try PropertyListDecoder().decode(Holder.self, from: bad)
            Issue.record("7 bytes decoded as floats")
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.codingPath.map(\.stringValue) == ["values"])
            #expect(context.debugDescription.contains("7 bytes is not a whole number of 4-byte values"))
        }
        #expect(PackedFloats.floats(Data([0, 0, 128, 63])) == [1])  // little-endian 1.0
    }
}

@Suite("Federation messages on the wire: shapes")
struct MessageWireShapeTests {
    @Test func aMissingDiagnosticVectorIsLeftOutAndReadBackAsNil() throws {
        let upload = ClientUpload(round: 1, client: 2, payload: [1, 2], weight: 1, samples: 1, trainLoss: 0)
        let json = try JSONEncoder().encode(upload)
        let object = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
        // A deployment's upload carries no diagnostics field at all: they travel beside it, in simulation only.
        #expect(object["diagnosticNoise"] == nil && object["noise"] == nil)
        #expect(object["payload"] as? String == PackedFloats.bytes([1, 2]).base64EncodedString())
        let diagnostics = try JSONSerialization.jsonObject(with: JSONEncoder().encode(UploadDiagnostics()))
            as? [String: Any]
        #expect(diagnostics?["noise"] == nil)
        let withNull = try JSONDecoder().decode(UploadDiagnostics.self, from: Data(#"{"noise": null}"#.utf8))
        #expect(withNull.noise == nil)
        #expect(try JSONDecoder().decode(ClientUpload.self, from: json).payload == [1, 2])
    }

    @Test func aDenseShareCostsFourBytesPerValueAndNeedsExactlyOneKind() throws {
        let n = 50_000
        let share = NoiseShare(round: 1, attempt: 0, id: ShareID(from: 1, index: 0), to: 2,
                               payload: .dense([Float](repeating: 0.5, count: n)))
        #expect(try WireFormat.encode(FederationMessage.share(share)).count <= 4 * n + 1_024)
        let both = Data(#"{"dense": "AAAAPw==", "seeded": {"key": 1, "stream": 2}}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SharePayload.self, from: both) }
        let dense = Data(#"{"dense": "AAAAPw=="}"#.utf8)  // 0.5 = 0x3F000000, little-endian
        guard case .dense(let v) = try JSONDecoder().decode(SharePayload.self, from: dense) else {
            Issue.record("not dense")
            return
        }
        #expect(v == [0.5])
    }
}
