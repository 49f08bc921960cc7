// ClientSampling: how the server picks a round's clients — m = ⌊C·K⌋ without replacement, or Poisson with q = C.
import FedTensor

/// How a round's cohort is drawn (config key `clients.sampling`).
public enum ClientSampling: String, Codable, Sendable, CaseIterable {
    /// m = max(⌊C·K⌋, 1) live clients uniformly without replacement. Accounted without amplification (every
    /// upload is a full release, q = 1): conservative, and what the runtime always did.
    case fixed
    /// Each live client independently with probability q = C: a cohort of variable size (mean qK, variance
    /// qK(1 − q)), possibly empty (a round nobody answered). Accounted as the Poisson-subsampled Gaussian with
    /// q = C every round (Mironov, Talwar & Zhang 2019), which is what amplification by sampling needs.
    case poisson

    /// What this sampling's accounting assumes, said before (and kept with) a run whose uploads carry noise.
    public func warnings(addsNoise: Bool) -> [String] {
        guard self == .poisson, addsNoise else { return [] }
        return ["Poisson client sampling: the client-level ε is amplified by subsampling (q = C), which holds only "
                + "against an observer who does not learn who was sampled; the parameter server draws the cohort and "
                + "receives each upload, so against it every upload is a full release (rounds_participated "
                + "releases at q = 1 in clients_privacy.csv)"]
    }

    /// The Poisson cohort of a round: client k (in `live`) joins when its uniform draw u_k < q. One draw per client
    /// id 0..<K in id order from the round's own generator, so a client's coin does not depend on who else is live.
    public static func poisson(live: [Int], rate q: Double, totalClients: Int, key: StreamKey) -> [Int] {
        var rng = Philox(key)
        let isLive = Set(live)
        var cohort: [Int] = []
        for k in 0..<totalClients {
            let u = RandomDraws.uniformOpen(using: &rng)
            if u < q && isLive.contains(k) { cohort.append(k) }
        }
        return cohort
    }
}

extension ServerMachine {
    /// Picks m = max(⌊C·K⌋, 1) of `live` clients with the round's own generator (never the clients' streams).
    public static func sample(live: [Int], fraction: Double, totalClients: Int, key: StreamKey) -> [Int] {
        let m = min(max(Int((fraction * Double(totalClients)).rounded(.down)), 1), live.count)
        var pool = live.sorted()
        var rng = Philox(key)
        // Partial Fisher–Yates: the first m positions are a uniform sample without replacement.
        for i in 0..<m {
            let j = i + RandomDraws.index(below: pool.count - i, using: &rng)
            pool.swapAt(i, j)
        }
        return pool[..<m].sorted()
    }
}
