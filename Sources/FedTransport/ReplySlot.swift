// ReplySlot: a one-shot value that one task awaits and another thread fills, in either order.
import Synchronization

/// Holds the answer to one request: ``wait()`` suspends until ``fulfil(_:)`` is called (or returns at once if it
/// already was). Only the first `fulfil` counts.
final class ReplySlot<Value: Sendable>: Sendable {
    private let state = Mutex<(value: Value?, waiter: CheckedContinuation<Value, Never>?, done: Bool)>((nil, nil, false))

    func fulfil(_ value: Value) {
        let waiter = state.withLock { s -> CheckedContinuation<Value, Never>? in
            guard !s.done else { return nil }
            s.done = true
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.value = value
            return nil
        }
        waiter?.resume(returning: value)
    }

    func wait() async -> Value {
        await withCheckedContinuation { (c: CheckedContinuation<Value, Never>) in
            let ready = state.withLock { s -> Value? in
                if let v = s.value { return v }
                s.waiter = c
                return nil
            }
            if let ready { c.resume(returning: ready) }
        }
    }
}
