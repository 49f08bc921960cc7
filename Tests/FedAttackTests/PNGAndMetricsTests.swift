// PNGAndMetricsTests: the PNG decodes (CRCs, zlib stream, size, pixels); SSIM, assignment, L-BFGS against closed forms.
import FedAttack
import CZlib
import Foundation
import Testing

@Suite struct PNGAndMetricsTests {
    /// Parses the chunks, checks every CRC with zlib's crc32, inflates the IDAT and returns (width, height, colour
    /// type, raw scanlines); nil when any check fails.
    func decode(_ file: [UInt8]) -> (Int, Int, UInt8, [UInt8])? {
        guard file.count > 8, Array(file[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else { return nil }
        func be(_ i: Int) -> Int { Int(file[i]) << 24 | Int(file[i + 1]) << 16 | Int(file[i + 2]) << 8 | Int(file[i + 3]) }
        var i = 8, width = 0, height = 0, colour: UInt8 = 0, idat = [UInt8](), sawEnd = false
        while i + 12 <= file.count {
            let length = be(i)
            guard i + 12 + length <= file.count else { return nil }
            let body = Array(file[(i + 4)..<(i + 8 + length)])
            let crc = body.withUnsafeBufferPointer { Int(crc32(0, $0.baseAddress, uInt($0.count))) }
            guard crc == be(i + 8 + length) else { return nil }
            let type = String(decoding: body[0..<4], as: UTF8.self), data = Array(body[4...])
            if type == "IHDR" { width = be(i + 8); height = be(i + 12); colour = data[9] }
            if type == "IDAT" { idat += data }
            if type == "IEND" { sawEnd = true }
            i += 12 + length
        }
        guard sawEnd, width > 0 else { return nil }
        let channels = colour == 2 ? 3 : 1
        var size = uLong(height * (1 + width * channels))
        var raw = [UInt8](repeating: 0, count: Int(size))
        guard uncompress(&raw, &size, idat, uLong(idat.count)) == Z_OK, Int(size) == raw.count else { return nil }
        return (width, height, colour, raw)
    }

    @Test func gridDecodesWithTheDrawnPixels() throws {
        let image: [Float] = (0..<(4 * 5)).map { Float($0) / 19 }  // 4×5 gray ramp
        let png = reconstructionGrid(rows: [(image, [image, image.map { 1 - $0 }])], batch: 1, height: 4, width: 5,
                                     channels: 1, scale: 2, gap: 4)
        let file = png.encoded()
        let (w, h, colour, raw) = try #require(decode(file))
        #expect(w == 4 + 3 * (10 + 4) && h == 4 + 8 + 4 && colour == 0)
        #expect((0..<h).allSatisfy { raw[$0 * (w + 1)] == 0 })  // filter bytes
        // Pixel (row 1, col 3) of the first image, drawn 2× at (4, 4): value 8/19.
        let value = raw[(4 + 2) * (w + 1) + 1 + 4 + 6]
        #expect(value == UInt8((Float(8) / 19 * 255).rounded()))
        // Negative control: one flipped byte inside IDAT breaks its CRC.
        var broken = file
        broken[60] ^= 0xFF
        #expect(decode(broken) == nil)
    }

    /// For constant images the SSIM map is constant: (2μaμb + C₁)/(μa² + μb² + C₁) (the variances are 0).
    @Test func ssimClosedForms() {
        let a = [Double](repeating: 0.2, count: 28 * 28), b = [Double](repeating: 0.7, count: 28 * 28)
        let expected = (2 * 0.2 * 0.7 + 1e-4) / (0.04 + 0.49 + 1e-4)
        #expect(abs(structuralSimilarity(a, b, height: 28, width: 28) - expected) < 1e-12)
        var rng = SystemRandomNumberGenerator()
        let c = (0..<(28 * 28)).map { _ in Double.random(in: 0...1, using: &rng) }
        #expect(abs(structuralSimilarity(c, c, height: 28, width: 28) - 1) < 1e-12)
        #expect(structuralSimilarity(c, c.map { 1 - $0 }, height: 28, width: 28) < 0)
    }

    @Test func batchOrderIsMatchedBeforeScoring() {
        let n = 4
        let truth: [Float] = (0..<(3 * n)).map { Float($0 / n) / 2 }  // images of 0, 0.5, 1
        let shuffled = Array(truth[(2 * n)...]) + Array(truth[0..<n]) + Array(truth[n..<(2 * n)])
        let q = reconstructionQuality(reconstructed: shuffled, truth: truth, count: 3, height: 2, width: 2, channels: 1)
        #expect(q.assignment == [2, 0, 1] && q.mse == 0 && q.exact == 3)
    }

    /// Rosenbrock's minimum is (1, 1) with value 0.
    @Test func lbfgsFindsTheRosenbrockMinimum() {
        let f: Objective = { x in
            let (a, b) = (x[0], x[1])
            return ((1 - a) * (1 - a) + 100 * (b - a * a) * (b - a * a),
                    [-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)])
        }
        let r = LBFGS().minimize(f, from: [-1.2, 1], iterations: 200) { _, _, _ in true }
        #expect(abs(r.x[0] - 1) < 1e-6 && abs(r.x[1] - 1) < 1e-6)
        let adam = Adam(learningRate: 0.02).minimize(f, from: [-1.2, 1], iterations: 5000) { _, _, _ in true }
        #expect(abs(adam.x[0] - 1) < 0.05)
    }
}
