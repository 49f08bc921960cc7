// FederationClock: the time source the actors are given: the system's monotonic clock, or a test's manual one.

/// Where the parameter server gets the time for its deadlines and round timings. Injected, so tests can drive
/// every deadline with a manual clock (`FedTestKit.ManualClock`) and no real sleeps.
public protocol FederationClock: Sendable {
    /// Seconds since an arbitrary fixed origin.
    var now: Double { get }
    /// Suspends for `seconds` of this clock's time; throws `CancellationError` if the task is cancelled first.
    func sleep(seconds: Double) async throws
}

/// The system's monotonic clock (`ContinuousClock`).
public struct SystemClock: FederationClock {
    private let origin = ContinuousClock.now

    public init() {}

    public var now: Double {
        let d = origin.duration(to: ContinuousClock.now).components
        return Double(d.seconds) + Double(d.attoseconds) * 1e-18
    }

    public func sleep(seconds: Double) async throws {
        // Duration cannot hold more than ~2.9e11 years; longer deadlines are as good as none.
        try await Task.sleep(for: .seconds(min(seconds, 1e9)))
    }
}
