// Optimizers: deterministic L-BFGS with a strong-Wolfe line search, and Adam, over a flat Double vector.

/// A function and its gradient at a point.
public typealias Objective = (_ x: [Double]) -> (value: Double, gradient: [Double])

/// What a minimiser reports after each iteration; return false to stop.
public typealias IterationCallback = (_ iteration: Int, _ x: [Double], _ value: Double) -> Bool

/// L-BFGS (Nocedal & Wright 2006, Alg. 7.4/7.5: two-loop recursion, H₀ = sᵀy/yᵀy·I) with the strong-Wolfe line
/// search of Alg. 3.5/3.6 (c₁ = 1e-4, c₂ = 0.9, cubic interpolation in the zoom, bisection as fallback). The first
/// trial step is min(1, 1/‖g‖₁), as in `torch.optim.LBFGS`, then 1. A curvature pair is kept only if yᵀs > 1e-10.
/// When the line search fails the memory is cleared and a steepest-descent step is tried; a second failure stops.
public struct LBFGS {
    public var history = 100
    public var maxEvaluationsPerSearch = 25
    public var gradientTolerance = 1e-12
    public init() {}

    /// Minimises from `x0` for at most `iterations` accepted steps; returns the final point and value.
    public func minimize(_ f: Objective, from x0: [Double], iterations: Int,
                         callback: IterationCallback) -> (x: [Double], value: Double) {
        var x = x0
        var (fx, g) = f(x)
        var s: [[Double]] = [], y: [[Double]] = [], rho: [Double] = []
        var first = true
        var failures = 0
        for it in 1...max(iterations, 1) {
            if maxAbs(g) <= gradientTolerance || !fx.isFinite { break }
            // Two-loop recursion: d = −H·g.
            var q = g
            var alpha = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * dot(s[i], q)
                axpy(-alpha[i], y[i], &q)
            }
            if let ls = s.last, let ly = y.last { scale(&q, dot(ls, ly) / dot(ly, ly)) }
            for i in 0..<s.count {
                let beta = rho[i] * dot(y[i], q)
                axpy(alpha[i] - beta, s[i], &q)
            }
            var d = q.map { -$0 }
            var gd = dot(g, d)
            if gd > -1e-300 {  // not a descent direction: restart from steepest descent
                s = []; y = []; rho = []
                d = g.map { -$0 }
                gd = dot(g, d)
            }
            let t0 = first ? min(1, 1 / g.reduce(0) { $0 + abs($1) }) : 1
            first = false
            guard let step = lineSearch(f, x: x, fx: fx, g: g, d: d, gd: gd, t0: t0) else {
                failures += 1
                if failures >= 2 || s.isEmpty { break }
                s = []; y = []; rho = []
                first = true
                continue
            }
            failures = 0
            let sk = d.map { $0 * step.t }
            var yk = step.g
            axpy(-1, g, &yk)
            let ys = dot(yk, sk)
            if ys > 1e-10 {
                if s.count == history { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
                s.append(sk); y.append(yk); rho.append(1 / ys)
            }
            x = step.x; fx = step.f; g = step.g
            if !callback(it, x, fx) { break }
        }
        return (x, fx)
    }

    private struct Point { var t: Double; var x: [Double]; var f: Double; var g: [Double] }

    private func lineSearch(_ f: Objective, x: [Double], fx: Double, g: [Double], d: [Double], gd: Double,
                            t0: Double) -> Point? {
        let c1 = 1e-4, c2 = 0.9
        var evals = 0
        func at(_ t: Double) -> Point {
            evals += 1
            var xt = x
            axpy(t, d, &xt)
            let (v, gr) = f(xt)
            return Point(t: t, x: xt, f: v, g: gr)
        }
        func zoom(_ lo0: Point, _ hi0: Point) -> Point? {
            var lo = lo0, hi = hi0
            while evals < maxEvaluationsPerSearch {
                let dlo = dot(lo.g, d), dhi = dot(hi.g, d)
                var t = cubicMinimizer(lo.t, lo.f, dlo, hi.t, hi.f, dhi)
                let (a, b) = (min(lo.t, hi.t), max(lo.t, hi.t))
                if !t.isFinite || t <= a + 0.1 * (b - a) || t >= b - 0.1 * (b - a) { t = (a + b) / 2 }
                let p = at(t)
                if !p.f.isFinite || p.f > fx + c1 * t * gd || p.f >= lo.f {
                    hi = p
                } else {
                    let dp = dot(p.g, d)
                    if abs(dp) <= -c2 * gd { return p }
                    if dp * (hi.t - lo.t) >= 0 { hi = lo }
                    lo = p
                }
                if abs(hi.t - lo.t) * maxAbs(d) < 1e-14 { break }
            }
            return lo.t > 0 && lo.f < fx ? lo : nil
        }
        var previous = Point(t: 0, x: x, f: fx, g: g)
        var t = t0
        while evals < maxEvaluationsPerSearch {
            let p = at(t)
            if !p.f.isFinite || p.f > fx + c1 * t * gd || (evals > 1 && p.f >= previous.f) {
                return zoom(previous, p)
            }
            let dp = dot(p.g, d)
            if abs(dp) <= -c2 * gd { return p }
            if dp >= 0 { return zoom(p, previous) }
            previous = p
            t *= 2
        }
        return previous.t > 0 ? previous : nil
    }
}

/// The minimiser of the cubic through (a, fa, da) and (b, fb, db) (Nocedal & Wright eq. 3.59).
func cubicMinimizer(_ a: Double, _ fa: Double, _ da: Double, _ b: Double, _ fb: Double, _ db: Double) -> Double {
    let d1 = da + db - 3 * (fa - fb) / (a - b)
    let disc = d1 * d1 - da * db
    guard disc >= 0 else { return .nan }
    let d2 = (b > a ? 1.0 : -1.0) * disc.squareRoot()
    return b - (b - a) * (db + d2 - d1) / (db - da + 2 * d2)
}

/// Adam (Kingma & Ba 2015, Alg. 1) with bias correction; one objective evaluation per iteration.
public struct Adam {
    public var learningRate = 0.1
    public var beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8
    public init(learningRate: Double = 0.1) { self.learningRate = learningRate }

    public func minimize(_ f: Objective, from x0: [Double], iterations: Int,
                         callback: IterationCallback) -> (x: [Double], value: Double) {
        var x = x0
        var m = [Double](repeating: 0, count: x.count), v = m
        var last = Double.infinity
        for it in 1...max(iterations, 1) {
            let (fx, g) = f(x)
            guard fx.isFinite else { break }
            let b1 = 1 - pow(beta1, Double(it)), b2 = 1 - pow(beta2, Double(it))
            for i in x.indices {
                m[i] = beta1 * m[i] + (1 - beta1) * g[i]
                v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
                x[i] -= learningRate * (m[i] / b1) / ((v[i] / b2).squareRoot() + epsilon)
            }
            last = fx
            if !callback(it, x, fx) { break }
        }
        return (x, last)
    }
}

func dot(_ a: [Double], _ b: [Double]) -> Double {
    var s = 0.0
    for i in a.indices { s += a[i] * b[i] }
    return s
}

func axpy(_ a: Double, _ x: [Double], _ y: inout [Double]) {
    for i in y.indices { y[i] += a * x[i] }
}

func scale(_ x: inout [Double], _ a: Double) {
    for i in x.indices { x[i] *= a }
}

func maxAbs(_ x: [Double]) -> Double { x.reduce(0) { max($0, abs($1)) } }

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
