// WeightsFileTests: saved-then-loaded weights evaluate bit-identically; corrupt, truncated and foreign files are refused.
import FedNN
import FedTensor
import Foundation
import Testing

@Suite struct WeightsFileTests {
    func sample() throws -> (Network, ModelWeights) {
        let network = try ModelKind.mlp.network(inputShape: [4, 4, 1], classes: 3)
        var p = network.initialParameters(key: StreamKey(seed: 3))
        // Every special bit pattern must survive: −0, NaN with a payload, infinities, a subnormal.
        p[0] = -0.0
        p[1] = Float(bitPattern: 0x7FC0_1234)
        p[2] = .infinity
        p[3] = -.infinity
        p[4] = .leastNonzeroMagnitude
        return (network, ModelWeights(model: "mlp", inputShape: [4, 4, 1], outputs: 3, parameters: p))
    }

    /// CRC-32 check value of the IEEE polynomial (the catalogue's "123456789" → 0xCBF43926) and of the empty input.
    @Test func crcMatchesTheStandardCheckValue() {
        #expect(crc32IEEE(Array("123456789".utf8)[...]) == 0xCBF4_3926)
        #expect(crc32IEEE(ArraySlice<UInt8>()) == 0)
        #expect(crc32IEEE(Array("123456788".utf8)[...]) != 0xCBF4_3926)
    }

    /// The layout of the format table: magic, version, name, rank and dims, outputs, count, floats, CRC.
    @Test func layoutIsTheDocumentedOne() throws {
        let w = ModelWeights(model: "ab", inputShape: [2, 1], outputs: 5, parameters: [1, -2])
        let b = WeightsFile.encode(w)
        let expected: [UInt8] = Array("FNWEIGHT".utf8) + [1, 0, 0, 0, 2, 0, 0, 0, 0x61, 0x62, 2, 0, 0, 0, 2, 0, 0, 0,
                                                          1, 0, 0, 0, 5, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
                                                          0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0]
        #expect(b.count == expected.count + 4)
        #expect(Array(b.prefix(expected.count)) == expected)
        let crc = crc32IEEE(b[0..<expected.count])
        #expect(Array(b.suffix(4)) == [UInt8(crc & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 24)])
    }

    /// Save, load through a file, evaluate: the outputs are the same bits as before saving.
    @Test func savedThenLoadedEvaluatesBitIdentically() throws {
        var (network, w) = try sample()
        w.parameters = network.initialParameters(key: StreamKey(seed: 4))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("w-\(UUID().uuidString).bin").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try WeightsFile.write(w, to: path)
        let loaded = try WeightsFile.read(path, expecting: w)
        #expect(loaded.map(\.bitPattern) == w.parameters.map(\.bitPattern))
        var rng = Philox(StreamKey(seed: 5))
        let x = (0..<(8 * 16)).map { _ in Float(rng.nextGaussian()) }
        func outputs(_ p: [Float]) -> [UInt32] {
            let ws = Workspace(network: network, capacity: 8)
            ws.input.update(from: x, count: x.count)
            p.withUnsafeBufferPointer { ws.forward(parameters: $0.baseAddress!, batch: 8, training: false) }
            return (0..<24).map { ws.output[$0].bitPattern }
        }
        #expect(outputs(loaded) == outputs(w.parameters))
        // Negative control: the comparison sees a small change of one weight (an output bias, by 1e-4).
        var nudged = loaded
        nudged[nudged.count - 1] += 1e-4
        #expect(outputs(nudged) != outputs(w.parameters))
    }

    @Test func specialValuesRoundTrip() throws {
        let (_, w) = try sample()
        let back = try WeightsFile.decode(WeightsFile.encode(w), file: "x")
        #expect(back.parameters.map(\.bitPattern) == w.parameters.map(\.bitPattern))
        #expect(back.model == "mlp" && back.inputShape == [4, 4, 1] && back.outputs == 3)
    }

    /// Every single-bit flip anywhere in the file, and every truncation, is refused with an error naming the file
    /// (CRC-32 detects all single-bit errors; header damage is caught by the field checks first).
    @Test func everyCorruptionAndTruncationIsRefused() throws {
        let w = ModelWeights(model: "mlp", inputShape: [2, 2, 1], outputs: 2, parameters: (0..<20).map { Float($0) / 7 })
        let good = WeightsFile.encode(w)
        #expect(try WeightsFile.decode(good, file: "f").parameters == w.parameters)
        for i in good.indices {
            for bit in 0..<8 {
                var bad = good
                bad[i] ^= 1 << bit
                #expect(throws: WeightsFileError.self, "byte \(i) bit \(bit)") { try WeightsFile.decode(bad, file: "f") }
            }
        }
        for n in 0..<good.count {
            #expect(throws: WeightsFileError.self, "first \(n) bytes") {
                try WeightsFile.decode(Array(good.prefix(n)), file: "f")
            }
        }
        #expect(throws: WeightsFileError.self) { try WeightsFile.decode(good + [0], file: "f") }
    }

    @Test func errorsNameTheOffsetAndTheMismatch() throws {
        let (_, w) = try sample()
        var bytes = WeightsFile.encode(w)
        bytes[60] ^= 0xFF  // inside the floats (they start at byte 47): only the checksum can tell
        do {
            _ = try WeightsFile.decode(bytes, file: "m.bin")
            Issue.record("corrupt file accepted")
        } catch {
            #expect(error.description.hasPrefix("m.bin: byte \(bytes.count - 4): checksum mismatch"), "\(error)")
        }
        do {
            _ = try WeightsFile.decode(Array(bytes.prefix(30)), file: "m.bin")
            Issue.record("truncated file accepted")
        } catch {
            #expect(error.description.contains("truncated"), "\(error)")
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("w-\(UUID().uuidString).bin").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try WeightsFile.write(w, to: path)
        var other = w
        other.model = "cnn"
        #expect(throws: WeightsFileError.self) { try WeightsFile.read(path, expecting: other) }
        other = w
        other.outputs = 10
        #expect(throws: WeightsFileError.self) { try WeightsFile.read(path, expecting: other) }
        other = w
        other.parameters.append(0)
        #expect(throws: WeightsFileError.self) { try WeightsFile.read(path, expecting: other) }
    }
}
