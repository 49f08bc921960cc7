// ClassSubsampling: a seeded imbalanced subset that keeps a fraction of one class and every other example.
import FedTensor

/// Imbalance for the fairness study (spec C.2: one class subsampled to 50%, 10%, 1%).
public enum ClassSubsampling {
    /// The indices of `labels` (ascending) with every example of other classes and round(fraction · n_c) (nearest) of the n_c
    /// examples of `minorityClass` (at least 1 when n_c > 0), chosen uniformly without replacement by a seeded
    /// shuffle of that class's indices (`key`): the same key gives the same subset on every platform.
    public static func indices(labels: [Int32], minorityClass: Int, fraction: Double, key: StreamKey) -> [Int] {
        precondition(fraction > 0 && fraction <= 1, "fraction must be in (0, 1]")
        var members = labels.indices.filter { Int(labels[$0]) == minorityClass }
        let keep = members.isEmpty ? 0 : max(1, Int((fraction * Double(members.count)).rounded()))
        var rng = Philox(key)
        RandomDraws.shuffle(&members, using: &rng)
        let kept = Set(members.prefix(keep))
        return labels.indices.filter { Int(labels[$0]) != minorityClass || kept.contains($0) }
    }
}
