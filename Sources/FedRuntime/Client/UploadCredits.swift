// UploadCredits: in-process flow control: a client trains only while few trained models wait for the parameter server.

/// A counting semaphore between clients and the PS of one process. A client takes a credit before it trains; the PS
/// returns one for every upload it takes in (folded or refused), and all of them when an attempt closes (credits of
/// uploads that never came, lost or abandoned, are then void). So at most `count` trained models exist beyond those
/// being trained, whatever the scheduler does: without it, the cooperative executor can keep running clients while
/// the PS waits, and 1,000 CNN uploads (6.7 MB each) pile up in its mailbox. A socket transport gets the same bound
/// from its buffers.
actor UploadCredits {
    private let total: Int
    private var available: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(_ count: Int) {
        precondition(count >= 1)
        total = count
        available = count
    }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    /// One upload was taken in.
    func release() {
        if waiting.isEmpty {
            available = min(available + 1, total)
        } else {
            waiting.removeFirst().resume()
        }
    }

    /// An attempt closed: every credit is free again.
    func reset() {
        var free = total
        while free > 0, !waiting.isEmpty {
            waiting.removeFirst().resume()
            free -= 1
        }
        available = free
    }
}
