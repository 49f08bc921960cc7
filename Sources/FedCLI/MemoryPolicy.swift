// MemoryPolicy: keeps freed multi-megabyte buffers in the process so model messages are not page-faulted in anew.
#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// glibc serves every allocation above its mmap threshold (128 KiB at start, raised only as large blocks are freed)
/// with fresh pages from the kernel, and returns freed memory at the top of the heap beyond the trim threshold. A
/// model message (the CNN's 6.7 MB) is encoded, framed, sent, received and decoded through several such buffers, so
/// every copy also paid a page fault and a zeroed page per 4 KiB: about a third of the time of an MPI broadcast
/// (perf, `fednoise mpi-check`). Raising both thresholds keeps those pages in the process for reuse; the cost is that
/// the process gives memory back to the system later. Applied once, by the `fednoise` command; a user who tunes
/// malloc through `GLIBC_TUNABLES` keeps their settings.
enum MemoryPolicy {
    /// Blocks up to this size come from the heap (glibc's largest allowed mmap threshold on 64-bit: 32 MiB).
    static let mmapThreshold: Int32 = 32 << 20
    /// Free memory at the top of the heap kept before it is returned to the system.
    static let trimThreshold: Int32 = 512 << 20

    /// Applies the policy (glibc only; elsewhere, or when `GLIBC_TUNABLES` names a malloc setting, nothing).
    static func apply() {
        #if canImport(Glibc)
        if let tunables = ProcessInfo.processInfo.environment["GLIBC_TUNABLES"], tunables.contains("malloc") { return }
        // <malloc.h> is not part of Swift's Glibc module: look `mallopt` up, with its parameter numbers from that
        // header (M_TRIM_THRESHOLD −1, M_MMAP_THRESHOLD −3, stable since glibc 2.0).
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
        _ = mallopt(-3, mmapThreshold)
        _ = mallopt(-1, trimThreshold)
        #endif
    }
}
