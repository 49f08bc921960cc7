// UploadCredits: in-process flow control: a client trains only while few trained models wait for the parameter server.

/// A counting semaphore between clients and the PS of one process. A client takes a credit before it trains; the PS
/// returns one for every upload it takes in (folded or refused), and all of them when an attempt closes (credits of
/// uploads that never came, lost or abandoned, are then void). So about `count` trained models exist beyond those
/// being trained, whatever the scheduler does: without it the cooperative executor keeps running clients while the
/// PS waits, and 1,000 CNN uploads (6.7 MB each) pile up in its mailbox. A socket transport gets the same bound from
/// its buffers.
///
/// It is a bound on memory, never a condition of progress: a client that has waited `patience` seconds goes ahead
/// without a credit, so a transport that holds uploads back (a fault injector's reorder batch, a slow link) cannot
/// deadlock the federation. Which client trains when never changes a result bit.
actor UploadCredits {
    private let total: Int
    private let patience: Double
    private var available: Int
    private var waiting: [(id: Int, continuation: CheckedContinuation<Void, Never>)] = []
    private var nextID = 0

    init(_ count: Int, patience: Double = 0.25) {
        precondition(count >= 1)
        total = count
        available = count
        self.patience = patience
    }

    func acquire() async {
        if available > 0 {
            available -= 1
            return
        }
        let id = nextID
        nextID += 1
        let patience = self.patience
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .seconds(patience))
            await self?.expire(id)
        }
        await withCheckedContinuation { waiting.append((id, $0)) }
        timer.cancel()
    }

    /// `id` waited long enough: it goes ahead without a credit.
    private func expire(_ id: Int) {
        guard let i = waiting.firstIndex(where: { $0.id == id }) else { return }
        waiting.remove(at: i).continuation.resume()
    }

    /// One upload was taken in.
    func release() {
        if waiting.isEmpty {
            available = min(available + 1, total)
        } else {
            waiting.removeFirst().continuation.resume()
        }
    }

    /// An attempt closed: every credit is free again.
    func reset() {
        var free = total
        while free > 0, !waiting.isEmpty {
            waiting.removeFirst().continuation.resume()
            free -= 1
        }
        available = free
    }
}
