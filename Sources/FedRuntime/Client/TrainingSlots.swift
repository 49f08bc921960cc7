// TrainingSlots: an async counting semaphore that caps how many clients train at once (the compute-thread limit).

/// At most `count` holders at a time; others wait in FIFO order. Used so that `--threads N` bounds the whole
/// federation, not only each client's kernels, and so that only N workspaces ever exist.
actor TrainingSlots {
    private var available: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) {
        precondition(count >= 1)
        available = count
    }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func release() {
        if waiting.isEmpty {
            available += 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
