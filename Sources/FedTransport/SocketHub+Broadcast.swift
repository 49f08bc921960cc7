// SocketHub+Broadcast: one message to many endpoints, encoded once and written to every link at once.
import Foundation

extension SocketHub {
    /// Sends `message` to each of `receivers` as that many sends would (same sequence numbers, same errors), but
    /// encodes it once: every deliver frame carries the same payload bytes (only each frame's header differs), and
    /// the frames for different links are queued concurrently, so the links receive and decode while the hub is
    /// still writing. Receivers hosted here get the message directly. Replies are awaited from all before
    /// returning.
    /// - Returns: the receivers that were closed, in the order given.
    /// - Throws: the first other error in receiver order. Placement stops at a receiver that is unknown (or at a
    ///   shutdown), as a loop of sends would; relays already filed are still sent and awaited.
    public func broadcast(_ message: Message, from sender: EndpointID,
                          to receivers: [EndpointID]) async throws -> [EndpointID] {
        var outcome = [TransportError?](repeating: nil, count: receivers.count)
        var firstError: (index: Int, error: any Error)?
        let pending = state.withLock { s -> [BroadcastRelay] in
            var pending: [BroadcastRelay] = []
            for (i, receiver) in receivers.enumerated() {
                let slot = Slot()
                do throws(TransportError) {
                    let envelope = Envelope(from: sender, to: receiver, sequence: 0, message: message)
                    if let (connection, id, sequence) = try s.take(envelope, stamped: false, slot) {
                        pending.append(BroadcastRelay(receiver: i, connection: connection, id: id, sequence: sequence,
                                               slot: slot))
                    }
                } catch .endpointClosed(let id) {
                    outcome[i] = .endpointClosed(id)
                } catch {
                    firstError = (i, error)
                    break
                }
            }
            return pending
        }
        if !pending.isEmpty {
            let payload: Data
            do {
                payload = try WireFormat.encode(message)
            } catch {
                state.withLock { s in for p in pending { s.relays[p.id] = nil } }
                throw error
            }
            // One task per link, each queuing its frames in receiver order (FIFO per pair holds).
            let byLink = Dictionary(grouping: pending) { ObjectIdentifier($0.connection) }.values
            let tooLarge = await withTaskGroup(of: [(Int, any Error)].self) { group in
                for frames in byLink {
                    group.addTask {
                        var failed: [(Int, any Error)] = []
                        for p in frames {
                            do { try await self.relay(p.id, on: p.connection, sender, receivers[p.receiver],
                                                      p.sequence, payload) }
                            catch {
                                failed.append((p.receiver, error))
                                p.slot.fulfil(.success(.ok))  // nothing was sent: its error is reported instead
                            }
                        }
                        return failed
                    }
                }
                return await group.reduce(into: []) { $0 += $1 }
            }
            for (i, error) in tooLarge where firstError.map({ i < $0.index }) ?? true { firstError = (i, error) }
            for p in pending {
                let reply = await p.slot.wait()
                let error: (any Error)?
                switch reply {
                case .success(let status): error = status.error
                case .failure(let lost): error = lost
                }
                if case TransportError.endpointClosed(let id)? = error {
                    outcome[p.receiver] = .endpointClosed(id)
                } else if let error, firstError.map({ p.receiver < $0.index }) ?? true {
                    firstError = (p.receiver, error)
                }
            }
        }
        if let firstError { throw firstError.error }
        return receivers.indices.compactMap { outcome[$0] == nil ? nil : receivers[$0] }
    }
}

/// One relay of a broadcast: receiver number `receiver` is on `connection`, awaited in `slot`.
private struct BroadcastRelay: Sendable {
    var receiver: Int
    var connection: SocketConnection
    var id: UInt64
    var sequence: UInt64
    var slot: ReplySlot<Result<SocketReply, SocketTransportError>>
}
