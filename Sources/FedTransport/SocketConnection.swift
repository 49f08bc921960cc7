// SocketConnection: one TCP or TLS connection: a reader thread decoding frames, a writer draining a bounded queue.
import Foundation
import Synchronization

/// The limits of a socket transport: every value that could exhaust memory is bounded by one of these.
public struct SocketLimits: Sendable {
    /// The largest frame body accepted or sent (default 256 MiB: the CNN model is 6.7 MB).
    public var maximumFrameLength: Int
    /// Bytes queued for one connection before senders wait (backpressure; default 64 MiB). A single frame larger
    /// than this is still sent, alone.
    public var outboundQueueBytes: Int
    /// Connections a hub accepts at once (default 1024); later ones are refused and logged.
    public var maximumConnections: Int
    /// The largest frame a hub accepts from a peer whose hello it has not yet accepted (default 4 KiB: a hello is a
    /// few dozen bytes), so an unauthenticated peer cannot make the hub buffer a large frame.
    public var helloFrameLength: Int
    /// Seconds a hub waits for a peer's valid hello before closing the connection (default 5).
    public var helloSeconds: Double
    /// Seconds a connection may have bytes to write while its peer reads none of them (default 60); then the
    /// connection is closed, so a peer that stops reading stalls only its own traffic, for a bounded time.
    public var stallSeconds: Double

    public init(maximumFrameLength: Int = 256 << 20, outboundQueueBytes: Int = 64 << 20,
                maximumConnections: Int = 1024, helloFrameLength: Int = 4096, helloSeconds: Double = 5,
                stallSeconds: Double = 60) {
        precondition(maximumFrameLength >= 64 && outboundQueueBytes >= 1 && maximumConnections >= 1)
        precondition(helloFrameLength >= 64 && helloSeconds > 0 && stallSeconds > 0)
        self.maximumFrameLength = maximumFrameLength
        self.outboundQueueBytes = outboundQueueBytes
        self.maximumConnections = maximumConnections
        self.helloFrameLength = min(helloFrameLength, maximumFrameLength)
        self.helloSeconds = helloSeconds
        self.stallSeconds = stallSeconds
    }
}

/// One connected socket. Frames read are handed to `onFrame` on the reader thread, in order (with a deliver frame's
/// float vectors apart when made with `vectorsApart`: ``SocketFrameDecoder/nextWithVectors()``); frames to write
/// wait in a queue bounded by ``SocketLimits/outboundQueueBytes`` (``send(_:)`` suspends, ``sendBlocking(_:)``
/// blocks, while it is full). `onClose` runs once, on the reader thread, with the reason (nil: the peer closed cleanly or
/// ``close()`` was called). Frames longer than ``frameLimit`` are refused (a hub starts a peer at
/// ``SocketLimits/helloFrameLength`` and raises it once the hello is valid).
final class SocketConnection: @unchecked Sendable {
    let peer: String
    /// What the peer's certificate lets it host; nil on a plaintext connection (`--insecure`).
    let identity: PeerIdentity?
    private let stream: any ByteStream
    private let limits: SocketLimits
    private let frameLimit: Atomic<Int>
    private let vectorsApart: Bool
    private let condition = NSCondition()
    // Guarded by `condition`:
    private var queue: [OutgoingFrame] = []
    private var head = 0
    private var queuedBytes = 0
    private var closing = false
    private var writerDone = false
    /// Set (under the lock) when the descriptor is closed: after that nobody may shut it down (it may be reused).
    private var fdClosed = false
    private var spaceWaiters: [CheckedContinuation<Void, Never>] = []
    /// The most bytes the queue has held.
    private(set) var peakQueuedBytes = 0
    /// Why this side gave up on the peer (a write that timed out), reported as the close reason.
    private var failure: (any Error)?

    /// `frameLimit`: the largest frame read until ``allowFullFrames()`` (default: the limits' maximum).
    init(stream: any ByteStream, peer: String, limits: SocketLimits, identity: PeerIdentity? = nil,
         frameLimit: Int? = nil, vectorsApart: Bool = false) {
        self.stream = stream
        self.vectorsApart = vectorsApart
        self.peer = peer
        self.limits = limits
        self.identity = identity
        self.frameLimit = Atomic(frameLimit ?? limits.maximumFrameLength)
        stream.limitStalledWrites(seconds: limits.stallSeconds)
    }

    /// A plaintext connection on `fd`.
    convenience init(fd: Int32, peer: String, limits: SocketLimits, frameLimit: Int? = nil) {
        self.init(stream: PlainStream(fd: fd), peer: peer, limits: limits, frameLimit: frameLimit)
    }

    /// The TLS cipher suite in use; nil on a plaintext connection.
    var cipherSuite: String? { (stream as? TLSStream)?.cipherSuite }

    /// Accepts frames up to ``SocketLimits/maximumFrameLength`` from now on (the next frame read).
    func allowFullFrames() { frameLimit.store(limits.maximumFrameLength, ordering: .sequentiallyConsistent) }

    /// The most bytes the outgoing queue has held so far.
    var queuePeak: Int {
        condition.lock()
        defer { condition.unlock() }
        return peakQueuedBytes
    }

    /// Starts the reader and writer threads.
    func start(onFrame: @escaping @Sendable (SocketFrame, [Float]?) throws -> Void,
               onClose: @escaping @Sendable ((any Error)?) -> Void) {
        let writer = Thread { [self] in writeLoop() }
        writer.name = "socket-writer \(peer)"
        writer.start()
        let reader = Thread { [self] in
            var reason = readLoop(onFrame)
            condition.lock()
            if let failure { reason = failure }
            condition.unlock()
            close(abort: reason != nil)
            condition.lock()
            while !writerDone { condition.wait() }
            fdClosed = true
            stream.close()
            condition.unlock()
            onClose(reason)
        }
        reader.name = "socket-reader \(peer)"
        reader.start()
    }

    private func readLoop(_ onFrame: @Sendable (SocketFrame, [Float]?) throws -> Void) -> (any Error)? {
        var decoder = SocketFrameDecoder(maximumFrameLength: limits.maximumFrameLength, vectorsApart: vectorsApart)
        decoder.limit = frameLimit.load(ordering: .sequentiallyConsistent)
        let chunk = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: 1 << 18)
        defer { chunk.deallocate() }
        do {
            while true {
                // The rest of a large frame goes straight into the decoder's allocation for it (no copy); other
                // bytes through `chunk`.
                let n: Int
                if let direct = try decoder.readBody({ try stream.read(into: $0) }) {
                    n = direct
                } else {
                    n = try stream.read(into: UnsafeMutableRawBufferPointer(chunk))
                    if n > 0 { try decoder.append(UnsafeBufferPointer(rebasing: chunk[0..<n])) }
                }
                if n == 0 {
                    try decoder.finish()
                    return nil
                }
                while let (frame, vectors) = try decoder.nextWithVectors() {
                    try onFrame(frame, vectors)
                    decoder.limit = frameLimit.load(ordering: .sequentiallyConsistent)
                }
            }
        } catch {
            return error
        }
    }

    private func writeLoop() {
        while true {
            condition.lock()
            while head == queue.count && !closing { condition.wait() }
            guard head < queue.count else {  // closing, and everything queued is written
                stream.shutdown(writeOnly: true)  // under the lock: the reader closes the fd only after
                writerDone = true
                condition.broadcast()
                condition.unlock()
                return
            }
            let frame = queue[head]
            queue[head] = OutgoingFrame(header: [])
            head += 1
            if head == queue.count { queue.removeAll(keepingCapacity: true); head = 0 }
            queuedBytes -= frame.count
            let resumed = queuedBytes < limits.outboundQueueBytes ? spaceWaiters : []
            if !resumed.isEmpty { spaceWaiters = [] }
            condition.broadcast()
            condition.unlock()
            for waiter in resumed { waiter.resume() }
            do {
                try stream.write(frame)
            } catch {
                condition.lock()
                failure = failure ?? error
                closing = true
                queue = []
                head = 0
                queuedBytes = 0
                stream.shutdown(writeOnly: false)  // wakes the reader, which reports the end
                writerDone = true
                let waiters = spaceWaiters
                spaceWaiters = []
                condition.broadcast()
                condition.unlock()
                for waiter in waiters { waiter.resume() }
                return
            }
        }
    }

    /// Queues `bytes`, waiting (suspended) while the queue is full. False if the connection is closing.
    @discardableResult
    func send(_ bytes: [UInt8]) async -> Bool { await send(OutgoingFrame(header: bytes)) }

    /// Queues `bytes` (a frame's header and payload), waiting (suspended) while the queue is full. False if the
    /// connection is closing.
    @discardableResult
    func send(_ bytes: OutgoingFrame) async -> Bool {
        while true {
            if !mustWait(bytes.count) { return enqueue(bytes) }
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                condition.lock()
                let stillFull = isFull(adding: bytes.count)
                if stillFull { spaceWaiters.append(c) }
                condition.unlock()
                if !stillFull { c.resume() }
            }
        }
    }

    /// Queues `bytes`, blocking the calling thread while the queue is full (for the reader threads of a hub), for
    /// at most ``SocketLimits/stallSeconds``: a peer that reads that slowly is disconnected, and false returned.
    @discardableResult
    func sendBlocking(_ bytes: OutgoingFrame) -> Bool {
        let deadline = Date().addingTimeInterval(limits.stallSeconds)
        condition.lock()
        while isFull(adding: bytes.count) {
            if !condition.wait(until: deadline) && isFull(adding: bytes.count) {
                failure = failure ?? SocketError(operation: "write to \(peer)", reason: "its queue stayed full for "
                                                 + "\(limits.stallSeconds) s (the peer reads too slowly)")
                condition.unlock()
                close(abort: true)
                return false
            }
        }
        condition.unlock()
        return enqueue(bytes)
    }

    /// Whether a frame of `count` bytes must wait now (takes the lock).
    private func mustWait(_ count: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        return isFull(adding: count)
    }

    /// Whether a frame of `count` bytes must wait (call under the lock). A frame always fits an empty queue.
    private func isFull(adding count: Int) -> Bool {
        queuedBytes > 0 && queuedBytes + count > limits.outboundQueueBytes && !closing
    }

    /// Queues `bytes` whatever the queue holds (small control frames); false if closing.
    @discardableResult
    func enqueue(_ bytes: [UInt8]) -> Bool { enqueue(OutgoingFrame(header: bytes)) }

    /// Queues a frame whatever the queue holds; false if closing.
    @discardableResult
    func enqueue(_ bytes: OutgoingFrame) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !closing else { return false }
        queue.append(bytes)
        queuedBytes += bytes.count
        peakQueuedBytes = max(peakQueuedBytes, queuedBytes)
        condition.broadcast()
        return true
    }

    /// Blocks the calling thread while the queue holds ``SocketLimits/outboundQueueBytes`` or more (a hub's reader
    /// waits here before taking a peer's next request, so replies to a peer that does not read stay bounded).
    func waitForRoom() {
        condition.lock()
        while queuedBytes >= limits.outboundQueueBytes && !closing { condition.wait() }
        condition.unlock()
    }

    /// Blocks (up to `seconds`) until the writer has written what was queued and stopped; call after ``close()``.
    func waitUntilWritten(seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        while !writerDone && condition.wait(until: deadline) {}
        condition.unlock()
    }

    /// Stops accepting frames. Gracefully (default), frames already queued are written, then the write side is
    /// shut; the reader ends when the peer closes. `abort` drops the queue and shuts both sides at once.
    func close(abort: Bool = false) {
        condition.lock()
        closing = true
        if abort {
            queue = []
            head = 0
            queuedBytes = 0
        }
        if abort && !fdClosed { stream.shutdown(writeOnly: false) }
        let waiters = spaceWaiters
        spaceWaiters = []
        condition.broadcast()
        condition.unlock()
        for waiter in waiters { waiter.resume() }
    }
}
