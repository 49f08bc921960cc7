// StandardNormals: a stream's standard normals z_g drawn now and added later, with the same bits as `addGaussian`.
//
// `addGaussian(w, key:, std: a, startIndex: s)` sets w_j ← fma(a, z_(s+j), w_j) (one rounding; Gaussian.swift).
// Drawing z into a buffer first and adding it afterwards with the same fused multiply-add gives the same w bit for
// bit, whoever drew which part and when: DP-SGD draws its noise on one thread while another computes the clipped
// gradient (`DPSGDTrainer`). A value is stored as z itself, not as 0 + 1·z, which would turn −0 into +0.

/// Writes z_(startIndex + j), the standard normals of stream `key` (the values `fillGaussian` scales), into
/// `buffer[j]`; one thread, any chunking gives the same values.
public func fillStandardNormal(_ buffer: UnsafeMutableBufferPointer<Float>, key: StreamKey, startIndex: UInt64 = 0) {
    guard let out = buffer.baseAddress else { return }
    var v = NormalStore(out: out)
    walkGroups(PhiloxSchedule(key), start: startIndex, count: buffer.count, &v)
}

/// w[j] ← fma(a, z[j], w[j]) for j in 0..<count: with z from `fillStandardNormal`, exactly what `addGaussian` with
/// std a does to w.
public func addScaledNormals(_ z: UnsafePointer<Float>, scale a: Float, to w: UnsafeMutablePointer<Float>,
                             count: Int) {
    let av = SIMD16<Float>(repeating: a)
    var i = 0
    while i &+ 16 <= count {
        store16(load16(w + i).addingProduct(av, load16(z + i)), w + i)
        i &+= 16
    }
    while i < count {
        w[i] = w[i].addingProduct(a, z[i])
        i &+= 1
    }
}
