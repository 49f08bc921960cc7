// MPICheckCommand: `fednoise mpi-check`, run under mpirun: ordering and delivery across ranks, broadcast and upload GB/s.
#if MPI
import FedMPI
#endif
import FedTransport
import Foundation

enum MPICheckCommand {
    static let help = """
    USAGE: mpirun -np N fednoise mpi-check [--messages N] [--megabytes X] [--repeats N] [--timeout SECONDS]

    Checks the MPI transport across the ranks mpirun (or srun) started, then measures model broadcast and upload
    collection:
      1. every rank sends --messages numbered messages to every rank (itself included) through MPITransport;
         each rank checks that all arrive, once, every sender's in order with increasing sequence numbers;
      2. rank 0 sends a payload of --megabytes (default 6.65: the McMahan CNN's 1,663,370 floats) to every other
         rank --repeats times, each rank answering every copy; rank 0 prints the aggregate GB/s (bytes delivered
         over the time until the last answer: encoding, MPI, decoding, the answer's latency);
      3. every other rank sends rank 0 the same payload --repeats times at once; rank 0 prints the aggregate GB/s
         until the last one is decoded.
    Each rank prints one line; the exit status is 0 only if every check passed on this rank. A rank that does not
    finish within --timeout seconds aborts every rank (MPI_Abort) with a message naming the step.
    Needs a build with the MPI trait: swift build -c release --traits MPI (Open MPI or MPICH development files).

    OPTIONS:
      --messages N         numbered messages per (sender, receiver) pair, 1…100000 (default 200)
      --megabytes X        payload in MB (10⁶ bytes), 0.001…1024 (default 6.65)
      --repeats N          broadcast and upload rounds, 1…1000 (default 5); megabytes × repeats ≤ 8192
      --timeout SECONDS    give up (all ranks) after this long, 1…86400 (default 120)
      -h, --help           show this help
    """

    struct Options {
        var messages = 200
        var megabytes = 6.653480
        var repeats = 5
        var timeout = 120.0
    }

    static func run(_ argv: [String]) async throws {
        var args = try Arguments(argv, booleanFlags: ["help"])
        if args.flag("help") {
            say(help)
            return
        }
        var options = Options()
        options.messages = try args.int("messages", in: 1...100_000) ?? options.messages
        options.megabytes = try args.double("megabytes", in: 0.001...1024) ?? options.megabytes
        options.repeats = try args.int("repeats", in: 1...1000) ?? options.repeats
        options.timeout = try args.double("timeout", in: 1...86_400) ?? options.timeout
        try args.finish()
        guard options.megabytes * Double(options.repeats) <= 8192 else {
            throw UsageError("--megabytes × --repeats is \(options.megabytes * Double(options.repeats)) MB; at most "
                             + "8192 (every copy can be in flight at once, in a receiver's mailbox)")
        }
        #if MPI
        try await MPICheck(options).run()
        #else
        throw UsageError("this fednoise was built without MPI: build it with `swift build -c release --traits MPI` "
                         + "(needs libopenmpi-dev or MPICH) and start it with mpirun")
        #endif
    }
}

/// What the check sends.
enum MPICheckMessage: Codable, Sendable {
    case number(Int)
    case payload(round: Int, floats: PackedFloats)
    case received(round: Int, count: Int)
}

#if MPI
/// One rank's part of `fednoise mpi-check`.
struct MPICheck {
    let options: MPICheckCommand.Options

    init(_ options: MPICheckCommand.Options) { self.options = options }

    struct Failed: Error, CustomStringConvertible { let description: String }

    func run() async throws {
        let world = try MPIWorld.shared()
        let (rank, size) = (world.rank, world.size)
        let step = StepClock()
        let watchdog = Task {
            try await Task.sleep(for: .seconds(options.timeout))
            writeError("fednoise mpi-check rank \(rank): no progress within \(options.timeout) s (\(step.name)); "
                       + "aborting every rank\n")
            world.abort(code: 3)
        }
        defer { watchdog.cancel() }
        let transport = try MPITransport<MPICheckMessage>(world: world) { id in
            id.role == "client" ? id.index.flatMap { $0 >= 0 && $0 < size ? $0 : nil } : nil
        }
        let me = EndpointID.client(rank)
        var inbox = try await transport.register(me).makeAsyncIterator()
        step.name = "waiting for every rank to register"
        try await world.barrier()

        // 1. All to all, in order.
        step.name = "exchanging numbered messages"
        let sending = Task {
            for destination in 0..<size {
                for n in 0..<options.messages {
                    try await transport.send(.number(n), from: me, to: .client(destination))
                }
            }
        }
        var numbers = [[Int]](repeating: [], count: size), sequences = [[UInt64]](repeating: [], count: size)
        for _ in 0..<(size * options.messages) {
            guard let envelope = await inbox.next() else { throw Failed(description: "mailbox ended early") }
            guard case .number(let n) = envelope.message, let s = envelope.from.index, s < size else {
                throw Failed(description: "unexpected \(envelope)")
            }
            numbers[s].append(n)
            sequences[s].append(envelope.sequence)
        }
        try await sending.value
        for s in 0..<size {
            guard numbers[s] == Array(0..<options.messages) else {
                throw Failed(description: "rank \(rank): messages from rank \(s) arrived out of order or incomplete")
            }
            guard zip(sequences[s], sequences[s].dropFirst()).allSatisfy({ $0 < $1 }) else {
                throw Failed(description: "rank \(rank): sequence numbers from rank \(s) do not increase")
            }
        }
        step.name = "waiting for every rank to finish the exchange"
        try await world.barrier()

        // 2. Broadcast from rank 0.
        let floats = max(1, Int(options.megabytes * 1e6 / 4))
        var line = "rank \(rank) of \(size): \(size * options.messages) messages from \(size) ranks in order"
        if rank == 0 {
            let payload = Self.payload(floats)
            // What the wire format alone costs per copy (rank 0 encodes each copy; each receiver decodes one).
            let message = MPICheckMessage.payload(round: 0, floats: PackedFloats(wrappedValue: payload))
            let t0 = ContinuousClock.now
            let frame = try WireFormat.frame(Envelope(from: me, to: me, sequence: 0, message: message))
            let t1 = ContinuousClock.now
            var reader = FrameReader<MPICheckMessage>()
            reader.append(frame)
            _ = try reader.next()
            let t2 = ContinuousClock.now
            line += "; wire format per copy: encode \(fixed((t1 - t0) / .milliseconds(1), 1)) ms, "
                + "decode \(fixed((t2 - t1) / .milliseconds(1), 1)) ms"
            step.name = "broadcasting"
            let start = ContinuousClock.now
            for round in 0..<options.repeats {
                for destination in 1..<max(1, size) {
                    try await transport.send(.payload(round: round, floats: PackedFloats(wrappedValue: payload)),
                                             from: me, to: .client(destination))
                }
            }
            for _ in 0..<((size - 1) * options.repeats) {
                guard let envelope = await inbox.next(), case .received(_, let count) = envelope.message,
                      count == floats else { throw Failed(description: "rank 0: a broadcast was not acknowledged whole") }
            }
            if size > 1 { line += rate("broadcast", to: "to \(size - 1) ranks", floats: floats, ranks: size, since: start) }
        } else {
            step.name = "receiving the broadcast"
            for round in 0..<options.repeats {
                guard let envelope = await inbox.next(), case .payload(let r, let packed) = envelope.message,
                      r == round else { throw Failed(description: "rank \(rank): broadcast \(round) missing") }
                let ok = Self.isWhole(packed.wrappedValue, floats)
                try await transport.send(.received(round: r, count: ok ? floats : -1), from: me, to: .client(0))
            }
            line += "; \(options.repeats) broadcasts received whole"
        }
        // 3. Upload collection: every other rank sends rank 0 the same payload `repeats` times at once.
        step.name = "waiting for every rank before the uploads"
        try await world.barrier()
        if rank == 0 {
            step.name = "collecting uploads"
            let start = ContinuousClock.now
            for _ in 0..<((size - 1) * options.repeats) {
                guard let envelope = await inbox.next(), case .payload(_, let packed) = envelope.message,
                      Self.isWhole(packed.wrappedValue, floats) else {
                    throw Failed(description: "rank 0: an upload did not arrive whole")
                }
            }
            if size > 1 { line += rate("collected", to: "of uploads", floats: floats, ranks: size, since: start) }
        } else {
            step.name = "uploading"
            let payload = Self.payload(floats)
            for round in 0..<options.repeats {
                try await transport.send(.payload(round: round, floats: PackedFloats(wrappedValue: payload)),
                                         from: me, to: .client(0))
            }
        }
        step.name = "waiting for every rank to finish"
        try await world.barrier()
        say(line + "; ok")
        await transport.shutdown()
        world.finalize()
    }
}

extension MPICheck {
    /// The check's payload: `floats` values in a pattern a receiver can check.
    static func payload(_ floats: Int) -> [Float] { (0..<floats).map { Float($0 % 1000) * 0.001 } }

    /// Whether `values` is the whole payload of `floats` values (its length and its last value).
    static func isWhole(_ values: [Float], _ floats: Int) -> Bool {
        values.count == floats && values.last == Float((floats - 1) % 1000) * 0.001
    }

    /// `; broadcast 133.1 MB to 1 ranks in 0.196 s: 0.68 GB/s` for `repeats` payloads to or from each other rank.
    func rate(_ verb: String, to whom: String, floats: Int, ranks: Int, since start: ContinuousClock.Instant) -> String {
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        let bytes = Double(floats * 4 * (ranks - 1) * options.repeats)
        return "; \(verb) \(fixed(bytes / 1e6, 1)) MB \(whom) in \(fixed(seconds, 3)) s: "
            + "\(fixed(bytes / seconds / 1e9, 2)) GB/s"
    }
}

/// The step a rank is in, for the watchdog's message.
private final class StepClock: @unchecked Sendable {
    private let lock = NSLock()
    private var _name = "starting MPI"
    var name: String {
        get { lock.withLock { _name } }
        set { lock.withLock { _name = newValue } }
    }
}
#endif
