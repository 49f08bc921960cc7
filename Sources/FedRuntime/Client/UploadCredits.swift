// UploadCredits: in-process flow control: a client trains only while few trained models wait for the parameter server.

/// A counting semaphore between clients and the PS of one process. A client takes a credit before it trains; the PS
/// returns one for every upload it takes in (folded or refused), and all of them when an attempt closes (credits of
/// uploads that never came, lost or abandoned, are then void). So about `count` trained models exist beyond those
/// being trained, whatever the scheduler does: without it the cooperative executor keeps running clients while the
/// PS waits, and 1,000 CNN uploads (6.7 MB each) pile up in its mailbox. A socket transport gets the same bound from
/// its buffers.
///
/// It bounds memory and never blocks progress: when clients wait, nobody trains, and no credit came back for
/// `patience` seconds, the uploads that hold the credits are stuck in the transport (a fault injector's reorder
/// batch, a slow link), so one waiting client goes ahead without a credit. Which client trains when never changes a
/// result bit.
actor UploadCredits {
    private let total: Int
    private let patience: Double
    private var available: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var training = 0
    /// Counts credits coming back, so the watchdog can tell a stall from a slow PS.
    private var progress = 0
    private var watchdog: Task<Void, Never>?

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
        if watchdog == nil {
            let patience = self.patience
            watchdog = Task { [weak self] in
                while let self, await self.watch(after: patience) {}
            }
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    /// Sleeps `seconds`, then lets one waiter go if nothing moved meanwhile; false once nobody waits.
    private func watch(after seconds: Double) async -> Bool {
        let before = progress
        try? await Task.sleep(for: .seconds(seconds))
        guard !waiting.isEmpty else {
            watchdog = nil
            return false
        }
        if progress == before, training == 0 { waiting.removeFirst().resume() }
        return true
    }

    /// The caller starts or ends local training (a client that trains is progress the PS will see).
    func training(_ started: Bool) { training += started ? 1 : -1 }

    /// One upload was taken in.
    func release() {
        progress += 1
        if waiting.isEmpty {
            available = min(available + 1, total)
        } else {
            waiting.removeFirst().resume()
        }
    }

    /// An attempt closed: every credit is free again.
    func reset() {
        progress += 1
        var free = total
        while free > 0, !waiting.isEmpty {
            waiting.removeFirst().resume()
            free -= 1
        }
        available = free
    }
}
