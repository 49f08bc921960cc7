// GEMMPacking: copies a K-block of the B-side operand into contiguous zero-padded panels, and the workspace pool.
import Synchronization

/// Packs columns `0 ..< width` of a `kc`-row block of the B-side operand into panels of `panel` columns
/// (a multiple of 16): panel q holds columns q·panel ..< (q+1)·panel as `kc` rows of `pitch` floats at
/// `dst + q·kc·panel`, where `pitch` is `panel`, or the last panel's width rounded up to 16 (zero-filled).
///
/// The source element (p, j) is at `src + p·kStride + j·jStride`; one of the strides must be 1.
func packPanels(
    _ src: UnsafePointer<Float>, kStride: Int, jStride: Int,
    kc: Int, width: Int, panel: Int, dst: UnsafeMutablePointer<Float>
) {
    var j0 = 0, q = 0
    while j0 < width {
        let w = min(panel, width &- j0)
        let pitch = (w &+ 15) & ~15
        let out = dst + q &* kc &* panel
        if jStride == 1 {
            packRows(src + j0, ld: kStride, kc: kc, width: w, pitch: pitch, dst: out)
        } else {
            packTransposed(src + j0 &* jStride, ld: jStride, kc: kc, width: w, pitch: pitch, dst: out)
        }
        j0 &+= panel
        q &+= 1
    }
}

/// dst[p·pitch + j] = src[p·ld + j] for j < width, zero up to `pitch`.
@inline(__always)
private func packRows(_ src: UnsafePointer<Float>, ld: Int, kc: Int, width: Int, pitch: Int,
                      dst: UnsafeMutablePointer<Float>) {
    let full = width & ~15
    for p in 0..<kc {
        let s = UnsafeRawPointer(src + p &* ld), d = UnsafeMutableRawPointer(dst + p &* pitch)
        var j = 0
        while j < full {
            d.storeBytes(of: s.loadUnaligned(fromByteOffset: j &* 4, as: SIMD16<Float>.self),
                         toByteOffset: j &* 4, as: SIMD16<Float>.self)
            j &+= 16
        }
        if full < pitch {
            var v = SIMD16<Float>()
            let sp = src + p &* ld
            for t in 0..<(width &- full) { v[t] = sp[full &+ t] }
            d.storeBytes(of: v, toByteOffset: full &* 4, as: SIMD16<Float>.self)
        }
    }
}

/// dst[p·pitch + j] = src[j·ld + p] for j < width, zero up to `pitch`: 16 × 16 blocks transposed in registers.
private func packTransposed(_ src: UnsafePointer<Float>, ld: Int, kc: Int, width: Int, pitch: Int,
                            dst: UnsafeMutablePointer<Float>) {
    let kFull = kc & ~15
    var j0 = 0
    while j0 < pitch {
        let valid = min(16, width &- j0)
        var p0 = 0
        while p0 < kFull {
            transposeBlock(src + (j0 &* ld &+ p0), ld: ld, valid: valid, dst: dst + (p0 &* pitch &+ j0), pitch: pitch)
            p0 &+= 16
        }
        if kFull < kc {
            for p in kFull..<kc {
                let d = dst + (p &* pitch &+ j0)
                for j in 0..<16 { d[j] = j < valid ? src[(j0 &+ j) &* ld &+ p] : 0 }
            }
        }
        j0 &+= 16
    }
}

/// (even lanes of x‖y, odd lanes of x‖y). Spelled lane by lane because this compiles to two `vpermi2ps`,
/// where the standard library's `SIMD32.evenHalf` / `.oddHalf` are out-of-line lane loops.
@inline(__always)
func deinterleave(_ x: SIMD16<Float>, _ y: SIMD16<Float>) -> (SIMD16<Float>, SIMD16<Float>) {
    (SIMD16(x[0], x[2], x[4], x[6], x[8], x[10], x[12], x[14], y[0], y[2], y[4], y[6], y[8], y[10], y[12], y[14]),
     SIMD16(x[1], x[3], x[5], x[7], x[9], x[11], x[13], x[15], y[1], y[3], y[5], y[7], y[9], y[11], y[13], y[15]))
}

/// Reads `valid` rows of 16 floats (row j at src + j·ld; missing rows are zeros) and writes the transpose:
/// 16 rows of 16 at dst + p·pitch. Four rounds of even/odd de-interleaving rotate the 8 index bits by 4.
@inline(__always)
private func transposeBlock(_ src: UnsafePointer<Float>, ld: Int, valid: Int,
                            dst: UnsafeMutablePointer<Float>, pitch: Int) {
    @inline(__always) func row(_ j: Int) -> SIMD16<Float> {
        j < valid ? UnsafeRawPointer(src + j &* ld).loadUnaligned(as: SIMD16<Float>.self) : SIMD16<Float>()
    }
    var r0 = row(0), r1 = row(1), r2 = row(2), r3 = row(3), r4 = row(4), r5 = row(5), r6 = row(6), r7 = row(7)
    var r8 = row(8), r9 = row(9), r10 = row(10), r11 = row(11), r12 = row(12), r13 = row(13), r14 = row(14)
    var r15 = row(15)
    for _ in 0..<4 {
        let (n0, n8) = deinterleave(r0, r1), (n1, n9) = deinterleave(r2, r3)
        let (n2, n10) = deinterleave(r4, r5), (n3, n11) = deinterleave(r6, r7)
        let (n4, n12) = deinterleave(r8, r9), (n5, n13) = deinterleave(r10, r11)
        let (n6, n14) = deinterleave(r12, r13), (n7, n15) = deinterleave(r14, r15)
        (r0, r1, r2, r3, r4, r5, r6, r7) = (n0, n1, n2, n3, n4, n5, n6, n7)
        (r8, r9, r10, r11, r12, r13, r14, r15) = (n8, n9, n10, n11, n12, n13, n14, n15)
    }
    @inline(__always) func put(_ p: Int, _ v: SIMD16<Float>) {
        UnsafeMutableRawPointer(dst + p &* pitch).storeBytes(of: v, as: SIMD16<Float>.self)
    }
    put(0, r0); put(1, r1); put(2, r2); put(3, r3); put(4, r4); put(5, r5); put(6, r6); put(7, r7)
    put(8, r8); put(9, r9); put(10, r10); put(11, r11); put(12, r12); put(13, r13); put(14, r14); put(15, r15)
}

/// A packing buffer owned by one running GEMM worker at a time; it only ever grows.
final class GEMMWorkspace: @unchecked Sendable {
    private var raw: UnsafeMutableRawPointer?
    private(set) var capacity = 0

    deinit { raw?.deallocate() }

    /// At least `count` floats, 64-byte aligned; the old contents are not kept.
    func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity || raw == nil {
            raw?.deallocate()
            capacity = max(count, 1)
            let fresh = UnsafeMutableRawPointer.allocate(byteCount: capacity &* 4, alignment: 64)
            fresh.bindMemory(to: Float.self, capacity: capacity)
            raw = fresh
        }
        return raw!.assumingMemoryBound(to: Float.self)
    }
}

/// Idle workspaces. A worker takes one (or makes one), uses it for its whole share of a call, and returns it,
/// so steady-state calls allocate nothing and no two workers ever share a buffer.
private let workspacePool = Mutex<[GEMMWorkspace]>([])

/// Runs `body` with a private buffer of at least `count` floats (64-byte aligned).
@inline(__always)
func withGEMMWorkspace<R>(_ count: Int, _ body: (UnsafeMutablePointer<Float>) -> R) -> R {
    let ws = workspacePool.withLock { $0.popLast() } ?? GEMMWorkspace()
    defer { workspacePool.withLock { $0.append(ws) } }
    return body(ws.floats(count))
}
