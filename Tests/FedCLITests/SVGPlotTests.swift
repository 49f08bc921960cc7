// SVGPlotTests: the chart is well-formed XML with one polyline per series and escaped labels.
import FedCLI
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing

@Suite("SVG plots")
struct SVGPlotTests {
    @Test func rendersParsableSVGWithEverySeries() throws {
        let plot = LinePlot(title: "acc <test> & more", xLabel: "round", yLabel: "accuracy", series: [
            PlotSeries(name: "FedAvg", points: [(1, 0.5), (2, 0.8), (3, 0.9)]),
            PlotSeries(name: "DP", points: [(1, 0.4), (2, .nan), (3, 0.7)]),
        ])
        let svg = plot.render()
        let doc = try XMLDocument(data: Data(svg.utf8))
        #expect(doc.rootElement()?.name == "svg")
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2)
        #expect(svg.contains("acc &lt;test&gt; &amp; more"))
        #expect(!svg.contains("nan"))
        let both = LinePlot.stacked([plot, plot])
        let stacked = try XMLDocument(data: Data(both.utf8))
        #expect(stacked.rootElement()?.children?.count == 2)
        #expect(both.contains("<svg y=\"420\""))
    }
}
