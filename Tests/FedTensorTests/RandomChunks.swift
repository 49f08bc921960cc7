// RandomChunks: a span combined chunk by chunk at random lengths, for the noise combines' chunk-invariance tests.
import FedTensor

/// `source` run through `combine(from, to, length, startIndex)` over consecutive chunks of 1…300 or 1,501…1,800
/// values (lengths from a SplitMix64 counter at `seed`), chunk k reading `source` at its offset, or with `inPlace`
/// the output itself (which then starts as a copy of `source`; else as NaN), at global index `start` + offset.
func combinedInChunks(_ source: [Float], start: UInt64, inPlace: Bool, seed: UInt64,
                      _ combine: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int, UInt64) -> Void) -> [Float] {
    struct Steps: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 { state &+= 1; return splitMix64(state) }
    }
    let n = source.count
    var out = inPlace ? source : [Float](repeating: .nan, count: n)
    var rng = Steps(state: seed)
    var at = 0
    while at < n {
        let len = min(n - at, Int.random(in: 1...300, using: &rng) + (Bool.random(using: &rng) ? 0 : 1500))
        source.withUnsafeBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                combine(inPlace ? UnsafePointer(o.baseAddress! + at) : s.baseAddress! + at, o.baseAddress! + at, len,
                        start + UInt64(at))
            }
        }
        at += len
    }
    return out
}
