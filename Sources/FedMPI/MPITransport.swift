// MPITransport: a Transport whose endpoints live on MPI ranks; every envelope crosses MPI as wire-format bytes.
#if MPI
import FedTransport
import Foundation
import Synchronization

/// A ``Transport`` over MPI. Each endpoint lives on the rank `placement` names; `register` and `close` act on this
/// rank's endpoints, and an envelope for an endpoint on any rank, this one included, travels as one
/// ``WireFormat`` frame through MPI (so a one-rank world exercises the same bytes as many ranks).
///
/// **Contract** (``Transport``): FIFO per pair (frames are queued under one lock in send order, MPI does not let
/// messages between two ranks on one tag overtake each other, and the receiving side delivers in arrival order);
/// sequence numbers are stamped by the sending rank; no loss or duplication. A send to this rank returns once the
/// envelope is in its mailbox, and throws as ``InProcessTransport`` would (unknown, closed, shut down). A send to
/// another rank returns once MPI has the frame (*accepted for delivery*); the receiving rank reports an envelope it
/// cannot deliver (its endpoint closed) on standard error and in ``undeliverable``, since MPI has no way back.
///
/// An envelope from another rank for an endpoint this rank hosts but has not registered yet waits (up to
/// ``pendingLimit`` envelopes) and is delivered, in order, when the endpoint registers: ranks may start sending as
/// soon as every rank has made its transport (``MPIWorld/barrier()``), before the others have registered anything.
///
/// Every rank must make its MPI transports in the same order: the n-th one made on each rank shares a tag.
public final class MPITransport<Message: Codable & Sendable>: Transport {
    /// The MPI world this transport runs on.
    public let world: MPIWorld
    private let placement: @Sendable (EndpointID) -> Int?
    private let local = InProcessTransport<Message>()
    private let tag: Int32

    private struct State {
        var nextSequence: [EndpointID: UInt64] = [:]
        /// Sends to this rank waiting for their frame to come back through MPI and be delivered, in send order.
        var waiting: [CheckedContinuation<Void, any Error>] = []
        var isShutDown = false
        var undeliverable = 0
        /// Envelopes from other ranks for endpoints this rank hosts but has not registered yet, in arrival order.
        var pending: [EndpointID: [Envelope<Message>]] = [:]
        var pendingCount = 0
    }

    /// At most this many envelopes wait for endpoints not registered yet (beyond, they are undeliverable).
    public static var pendingLimit: Int { 100_000 }

    private let state = Mutex(State())

    /// A transport on `world` (this process's by default) where `placement(endpoint)` is the rank that hosts the
    /// endpoint, or nil for a name no rank hosts (sends to it throw ``TransportError/unknownEndpoint(_:)``).
    public init(world: MPIWorld? = nil, placement: @escaping @Sendable (EndpointID) -> Int?) throws {
        let world = try world ?? MPIWorld.shared()
        self.world = world
        self.placement = placement
        let box = HandlerBox<Message>()
        tag = try world.openChannel { source, bytes in box.transport?.receive(bytes, from: source) }
        box.transport = self
    }

    /// Envelopes that reached this rank for an endpoint that could not take them (closed, unknown, shut down).
    public var undeliverable: Int { state.withLock { $0.undeliverable } }

    public func register(_ endpoint: EndpointID) async throws -> Mailbox<Message> {
        if let rank = placement(endpoint), rank != world.rank {
            throw MPITransportError.hostedElsewhere(endpoint, rank: rank, thisRank: world.rank)
        }
        return try state.withLock { s in
            let mailbox = try local.register(endpoint)
            for envelope in s.pending.removeValue(forKey: endpoint) ?? [] {
                s.pendingCount -= 1
                do { try local.forward(envelope) } catch { s.undeliverable += 1 }
            }
            return mailbox
        }
    }

    public func send(_ message: Message, from sender: EndpointID, to receiver: EndpointID) async throws {
        try await transmit(receiver) { state in
            let sequence = state.nextSequence[sender, default: 0]
            state.nextSequence[sender] = sequence + 1
            return Envelope(from: sender, to: receiver, sequence: sequence, message: message)
        }
    }

    public func forward(_ envelope: Envelope<Message>) async throws {
        try await transmit(envelope.to) { _ in envelope }
    }

    public func close(_ endpoint: EndpointID) async { local.close(endpoint) }

    public func shutdown() async {
        let waiting = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.isShutDown = true
            defer { s.waiting.removeAll() }
            return s.waiting
        }
        local.shutdown()
        for continuation in waiting { continuation.resume(throwing: TransportError.shutDown) }
    }

    /// Frames the envelope `make` stamps (under the lock, so queue order is sequence order) and posts it.
    private func transmit(_ receiver: EndpointID,
                          _ make: @escaping (inout State) -> Envelope<Message>) async throws {
        guard let rank = placement(receiver), rank >= 0, rank < world.size else {
            throw TransportError.unknownEndpoint(receiver)
        }
        let toSelf = rank == world.rank
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, any Error> = state.withLock { s in
                if s.isShutDown { return .failure(TransportError.shutDown) }
                do {
                    let frame = try WireFormat.frame(make(&s))
                    try world.post(frame, to: rank, tag: tag)
                } catch {
                    return .failure(error)
                }
                if toSelf { s.waiting.append(continuation) }
                return .success(())
            }
            switch outcome {
            case .failure(let error): continuation.resume(throwing: error)
            case .success: if !toSelf { continuation.resume() }
            }
        }
    }

    /// A frame from `source` (on the communication thread): decode it and deliver it here.
    fileprivate func receive(_ bytes: Data, from source: Int) {
        let delivered: Result<Void, any Error>
        do {
            // One MPI message is one whole frame: its 4-byte big-endian length must match what arrived.
            let start = bytes.startIndex
            guard bytes.count >= 4, bytes[start..<start + 4].reduce(0, { $0 << 8 | Int($1) }) == bytes.count - 4 else {
                throw MPITransportError.truncatedFrame(bytes.count)
            }
            let envelope = try WireFormat.decode(Envelope<Message>.self, from: bytes[(start + 4)...])
            try state.withLock { (s) throws in
                do {
                    try local.forward(envelope)
                } catch TransportError.unknownEndpoint(let id) where source != world.rank && !s.isShutDown
                    && s.pendingCount < Self.pendingLimit {
                    s.pending[id, default: []].append(envelope)  // delivered when `id` registers here
                    s.pendingCount += 1
                }
            }
            delivered = .success(())
        } catch {
            delivered = .failure(error)
        }
        if source == world.rank {
            let continuation = state.withLock { s in s.waiting.isEmpty ? nil : s.waiting.removeFirst() }
            continuation?.resume(with: delivered)
        } else if case .failure(let error) = delivered {
            state.withLock { $0.undeliverable += 1 }
            FileHandle.standardError.write(Data("FedMPI rank \(world.rank): a frame from rank \(source) was not delivered: \(error)\n".utf8))
        }
    }
}

/// Why an MPI transport refused an operation.
public enum MPITransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `register` on a rank other than the one the placement names.
    case hostedElsewhere(EndpointID, rank: Int, thisRank: Int)
    /// A message whose frame length header does not match the bytes MPI delivered.
    case truncatedFrame(Int)

    public var description: String {
        switch self {
        case .hostedElsewhere(let id, let rank, let here):
            "endpoint \"\(id)\" lives on rank \(rank); it cannot register on rank \(here)"
        case .truncatedFrame(let n): "a message of \(n) bytes is not one whole frame (its length header disagrees)"
        }
    }
}

/// The channel handler's weak way back to its transport (the world outlives transports).
private final class HandlerBox<Message: Codable & Sendable>: @unchecked Sendable {
    private let lock = Mutex<Void>(())
    private weak var _transport: MPITransport<Message>?
    var transport: MPITransport<Message>? {
        get { lock.withLock { _ in _transport } }
        set { lock.withLock { _ in _transport = newValue } }
    }
}
#endif
