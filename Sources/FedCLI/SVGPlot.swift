// SVGPlot: a dependency-free line chart (several series, axes, ticks, legend) written as a standalone SVG file.
import Foundation

/// One named line of (x, y) points.
public struct PlotSeries: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    public init(name: String, points: [(x: Double, y: Double)]) {
        self.name = name
        self.points = points
    }
}

/// A line chart with labelled axes. `render()` returns SVG text any browser opens.
public struct LinePlot: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [PlotSeries]
    public var width = 720.0
    public var height = 420.0
    /// A fixed y axis (nil: fit the data). Lines leaving it are clipped at the frame.
    public var yRange: ClosedRange<Double>?

    public init(title: String, xLabel: String, yLabel: String, series: [PlotSeries]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public func render() -> String {
        let left = 70.0, right = 160.0, top = 40.0, bottom = 55.0
        let pw = width - left - right, ph = height - top - bottom
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        var (x0, x1) = (all.map(\.x).min() ?? 0, all.map(\.x).max() ?? 1)
        var (y0, y1) = yRange.map { ($0.lowerBound, $0.upperBound) }
            ?? (all.map(\.y).min() ?? 0, all.map(\.y).max() ?? 1)
        if x1 <= x0 { (x0, x1) = widen(x0, by: 1) }
        if y1 <= y0 { (y0, y1) = widen(y0, by: 0.5) }
        let wholeX = all.allSatisfy { $0.x == $0.x.rounded() }
        let xTicks = niceTicks(x0, x1, wholeNumbers: wholeX)
        var yTicks = niceTicks(y0, y1)
        x0 = min(x0, xTicks.first ?? x0)
        x1 = max(x1, xTicks.last ?? x1)
        if yRange == nil {
            y0 = min(y0, yTicks.first ?? y0)
            y1 = max(y1, yTicks.last ?? y1)
        } else {
            yTicks = yTicks.filter { $0 >= y0 - 1e-12 * (y1 - y0) && $0 <= y1 + 1e-12 * (y1 - y0) }
        }
        // Halved before subtracting: ±1e308 data must not make the span infinite (and every coordinate NaN).
        func fraction(_ v: Double, _ lo: Double, _ hi: Double) -> Double { (v / 2 - lo / 2) / (hi / 2 - lo / 2) }
        func sx(_ x: Double) -> Double { left + fraction(x, x0, x1) * pw }
        func sy(_ y: Double) -> Double { top + ph - fraction(y, y0, y1) * ph }
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
        viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left + pw / 2)" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>

        """
        for t in yTicks {
            s += "<line x1=\"\(left)\" x2=\"\(left + pw)\" y1=\"\(sy(t))\" y2=\"\(sy(t))\" stroke=\"#e5e5e5\"/>"
            s += "<text x=\"\(left - 6)\" y=\"\(sy(t) + 4)\" text-anchor=\"end\">\(label(t))</text>\n"
        }
        for t in xTicks {
            s += "<line x1=\"\(sx(t))\" x2=\"\(sx(t))\" y1=\"\(top)\" y2=\"\(top + ph)\" stroke=\"#f0f0f0\"/>"
            s += "<text x=\"\(sx(t))\" y=\"\(top + ph + 18)\" text-anchor=\"middle\">\(label(t))</text>\n"
        }
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"#333\"/>\n"
        // Clipping only with a fixed y axis; the id is derived from the title so output is deterministic.
        let clipID = "clip\(title.utf8.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 })"
        let clip = yRange == nil ? "" : " clip-path=\"url(#\(clipID))\""
        if yRange != nil {
            s += "<clipPath id=\"\(clipID)\"><rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" "
            s += "height=\"\(ph)\"/></clipPath>\n"
        }
        s += "<text x=\"\(left + pw / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(18 \(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">"
        s += "\(escape(yLabel))</text>\n"
        for (i, line) in series.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            let pts = line.points.filter { $0.x.isFinite && $0.y.isFinite }
            let path = pts.map { "\(fmt(sx($0.x))),\(fmt(sy($0.y)))" }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(clip) "
            s += "points=\"\(path)\"/>\n"
            if pts.count <= 60 {
                for p in pts where yRange.map({ $0.contains(p.y) }) ?? true {
                    s += "<circle cx=\"\(fmt(sx(p.x)))\" cy=\"\(fmt(sy(p.y)))\" r=\"2.5\" fill=\"\(color)\"/>"
                }
                s += "\n"
            }
            let ly = top + 10 + Double(i) * 20
            s += "<line x1=\"\(left + pw + 12)\" x2=\"\(left + pw + 36)\" y1=\"\(ly)\" y2=\"\(ly)\" stroke=\"\(color)\" "
            s += "stroke-width=\"3\"/><text x=\"\(left + pw + 42)\" y=\"\(ly + 4)\">\(escape(line.name))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// Several charts stacked vertically in one SVG document (each keeps its own axes).
    public static func stacked(_ plots: [LinePlot]) -> String {
        let width = plots.map(\.width).max() ?? 0, height = plots.map(\.height).reduce(0, +)
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" "
            + "viewBox=\"0 0 \(Int(width)) \(Int(height))\">\n"
        var y = 0.0
        for plot in plots {
            // A nested <svg> placed at y: the chart's own document, positioned.
            out += plot.render().replacingOccurrences(of: "<svg xmlns=\"http://www.w3.org/2000/svg\" ",
                                                      with: "<svg y=\"\(Int(y))\" ")
            y += plot.height
        }
        return out + "</svg>\n"
    }

    /// A span around a single value `v`: ±`by`, or ±1% of v where `by` is lost in v's precision (v = 1e308).
    func widen(_ v: Double, by: Double) -> (Double, Double) {
        let d = max(by, abs(v) * 0.01)
        let lo = v - d, hi = v + d
        return (lo.isFinite ? lo : -.greatestFiniteMagnitude, hi.isFinite ? hi : .greatestFiniteMagnitude)
    }

    /// About five round-numbered ticks covering [lo, hi] (none when the span is not a finite positive number).
    /// With `wholeNumbers` (rounds, epochs) the step is at least 1 and never 2.5.
    func niceTicks(_ lo: Double, _ hi: Double, wholeNumbers: Bool = false) -> [Double] {
        let raw = hi / 5 - lo / 5
        guard raw.isFinite, raw > 0 else { return [] }
        let mag = pow(10, floor(log10(raw)))
        var step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        if wholeNumbers { step = step < 1 ? 1 : (step == 2.5 ? 2 : step.rounded()) }
        var t = floor(lo / step) * step
        var ticks: [Double] = []
        while t <= hi + step * 0.5 && t.isFinite && ticks.count < 20 {
            ticks.append(t)
            t += step
        }
        return ticks
    }

    func label(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
        return String(format: abs(v) < 0.01 ? "%.1e" : "%.3g", v)
    }

    func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
