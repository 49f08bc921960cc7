// NormalTail: the standard normal CDF Φ and log-space erfc, accurate deep into the tails.
import Foundation

/// Φ(x) = ½·erfc(−x/√2): relative accuracy is kept in the lower tail, where 1 − Φ(−x) would cancel.
@inline(__always)
func normalCDF(_ x: Double) -> Double {
    0.5 * erfc(-x / 2.0.squareRoot())
}

/// log Φ(x), finite even where Φ(x) underflows (x ≲ −37).
@inline(__always)
func logNormalCDF(_ x: Double) -> Double {
    log(0.5) + logErfc(-x / 2.0.squareRoot())
}

/// log erfc(x), accurate for all x.
///
/// Below x = 25 this is `log(erfc(x))` (erfc(25) ≈ 8e-274 is still a normal double, and glibc's erfc keeps its
/// relative accuracy there). Above, the asymptotic series (Abramowitz & Stegun 7.1.23)
/// erfc x = e^{−x²}/(x√π) · Σₖ (−1)ᵏ (2k−1)!!/(2x²)ᵏ, truncated after eight terms (the first omitted one is below 5e-21 for x ≥ 25).
/// It plays the role of scipy's `log_ndtr` in opacus `_log_erfc`.
func logErfc(_ x: Double) -> Double {
    if x < 25 { return log(erfc(x)) }
    let r = 1 / (2 * x * x)
    var term = 1.0, series = 1.0
    for k in 1...8 {
        term *= -Double(2 * k - 1) * r
        series += term
    }
    return -x * x - log(x * Double.pi.squareRoot()) + log(series)
}
