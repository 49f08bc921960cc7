// WorkspacePool: training buffers shared by all clients, one per concurrently training client, never per client.
import FedNN
import Foundation

/// Hands out `Workspace`s so that 10,000 idle clients hold no buffers: only clients that are training do.
final class WorkspacePool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [Workspace] = []
    private let network: Network
    private let capacity: Int

    init(network: Network, capacity: Int) {
        self.network = network
        self.capacity = capacity
    }

    /// Runs `body` with a workspace of its own, returned to the pool afterwards.
    func withWorkspace<R>(_ body: (Workspace) throws -> R) rethrows -> R {
        lock.lock()
        let workspace = free.popLast() ?? Workspace(network: network, capacity: capacity)
        lock.unlock()
        defer {
            lock.lock()
            free.append(workspace)
            lock.unlock()
        }
        return try body(workspace)
    }
}
