// StandardNormalsTests: normals drawn into a buffer and added later give `addGaussian`'s bits.
import FedTensor
import Testing

@Suite("Standard normals drawn now, added later")
struct StandardNormalsTests {
    /// `fillStandardNormal` equals the per-element definition `gaussian(key, index:)` at ragged starts and lengths,
    /// and `addScaledNormals` over it equals `addGaussian` on the same vector bit for bit; the normals of another
    /// key give a different vector (the comparison can fail).
    @Test("fillStandardNormal = gaussian(key, index:); + addScaledNormals = addGaussian, bit for bit",
          arguments: [(0, 64), (3, 1), (5, 200), (61, 4_099), (128, 70_001)])
    func drawnThenAddedEqualsAddGaussian(start: Int, count: Int) {
        let key = StreamKey(seed: 11, 2), other = StreamKey(seed: 11, 3)
        var rng = Philox(seed: 9)
        let w0 = (0..<count).map { _ in Float(rng.nextGaussian()) * 0.1 }
        var z = [Float](repeating: .nan, count: count)
        z.withUnsafeMutableBufferPointer { fillStandardNormal($0, key: key, startIndex: UInt64(start)) }
        for j in Set([0, count / 2, count - 1]) {
            #expect(z[j].bitPattern == gaussian(key, index: UInt64(start + j)).bitPattern)
        }
        let a: Float = -0.0371
        var direct = w0, later = w0
        direct.withUnsafeMutableBufferPointer { addGaussian($0, key: key, std: a, startIndex: UInt64(start)) }
        z.withUnsafeBufferPointer { zb in
            later.withUnsafeMutableBufferPointer {
                addScaledNormals(zb.baseAddress!, scale: a, to: $0.baseAddress!, count: count)
            }
        }
        #expect(direct.map(\.bitPattern) == later.map(\.bitPattern))
        var wrong = w0, zOther = [Float](repeating: 0, count: count)
        zOther.withUnsafeMutableBufferPointer { fillStandardNormal($0, key: other, startIndex: UInt64(start)) }
        zOther.withUnsafeBufferPointer { zb in
            wrong.withUnsafeMutableBufferPointer {
                addScaledNormals(zb.baseAddress!, scale: a, to: $0.baseAddress!, count: count)
            }
        }
        #expect(wrong != direct)
    }
}
