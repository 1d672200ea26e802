import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import SwivelLinearAlgebra
import Testing
@testable import SwivelEmbeddings

/// Collects the elements and text of an SVG document.
private final class SVGCollector: NSObject, XMLParserDelegate {
    var elements: [String: Int] = [:]
    var texts: [String] = []
    var circles: [(Double, Double)] = []
    var viewBox: [Double] = []
    private var inText = false

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String]) {
        elements[name, default: 0] += 1
        if name == "svg" { viewBox = (attributes["viewBox"] ?? "").split(separator: " ").compactMap { Double($0) } }
        if name == "circle" { circles.append((Double(attributes["cx"]!)!, Double(attributes["cy"]!)!)) }
        if name == "text" { inText = true; texts.append("") }
    }
    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if inText { texts[texts.count - 1] += string }
    }
    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" { inText = false }
    }
}

private func parse(_ svg: String) -> SVGCollector? {
    let collector = SVGCollector()
    let parser = XMLParser(data: Data(svg.utf8))
    parser.delegate = collector
    return parser.parse() ? collector : nil
}

@Suite struct PlotTests {
    @Test func pcaFindsThePlantedAxes() throws {
        // Points spread 10x more along u = (1, 1, 0, 0)/sqrt2 than along v = (0, 0, 1, 0), nothing elsewhere.
        var values: [Float] = []
        var state: UInt64 = 3
        for _ in 0..<200 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let a = Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let b = Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
            let along: Float = 10 * a / Float(2).squareRoot()
            values += [along + 5, along - 3, b + 1, 0]
        }
        let pca = try PrincipalComponents(Matrix(rows: 200, columns: 4, values: values))
        let half = 1 / Float(2).squareRoot()
        let u: [Float] = [half, half, 0, 0]
        let dotU = (0..<4).map { pca.axes[0, $0] * u[$0] }.reduce(0, +)
        #expect(abs(abs(dotU) - 1) < 1e-4)
        #expect(abs(abs(pca.axes[1, 2]) - 1) < 1e-3)
        #expect(pca.explained.0 > 0.95 && pca.explained.0 + pca.explained.1 > 0.9999)
    }

    @Test func scatterIsValidSVGWithEveryLabelInside() throws {
        let points: [(x: Float, y: Float)] = [(0, 0), (1, 2), (-3, 0.5), (2, -1)]
        let labels = ["a", "b<&>", "c", "d"]
        let svg = SVGChart.scatter(points: points, labels: labels, title: "t", xTitle: "PC1 (50.0% of variance)", yTitle: "PC2")
        let doc = try #require(parse(svg))
        #expect(doc.elements["circle"] == 4)
        #expect(labels.allSatisfy(doc.texts.contains))
        #expect(doc.texts.contains("PC1 (50.0% of variance)"))
        #expect(doc.viewBox.count == 4)
        for (x, y) in doc.circles { #expect(x >= 0 && x <= doc.viewBox[2] && y >= 0 && y <= doc.viewBox[3]) }
    }

    @Test func lineChartsStackPanels() throws {
        let panel = SVGChart.Panel(series: [SVGChart.Series(name: "loss", points: [(1, 0.5), (2, 0.3), (3, 0.2)])],
                                   title: "Training loss", xTitle: "epoch", yTitle: "loss")
        let doc = try #require(parse(SVGChart.lines([panel, panel])))
        #expect(doc.elements["polyline"] == 2)
        #expect(doc.viewBox[3] == 1400)
    }
}
