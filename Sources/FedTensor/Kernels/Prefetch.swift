// Prefetch: hints for memory a kernel is about to store to or read, so its cache misses overlap the work before it.
import CFedCPU

/// Asks for the cache lines of `bytes` bytes from `p` in a writable state (one PREFETCHW per 64-byte line): for
/// outputs a loop will write after its current work, e.g. the next band of a pool fused into a convolution, so
/// the lines' reads for ownership run during that work instead of stalling the stores. Changes no value.
public func prefetchForWriting(_ p: UnsafeMutableRawPointer, bytes: Int) {
    var offset = 0
    while offset < bytes {
        fednoise_prefetch_for_write(p + offset)
        offset &+= 64
    }
}

/// Asks for the cache lines of `bytes` bytes from `p` (one PREFETCHT0 per 64-byte line): for inputs a loop will read
/// after its current work, e.g. the next sample's rows in a max pool's backward pass. Changes no value.
public func prefetchForReading(_ p: UnsafeRawPointer, bytes: Int) {
    var offset = 0
    while offset < bytes {
        fednoise_prefetch_for_read(p + offset)
        offset &+= 64
    }
}
