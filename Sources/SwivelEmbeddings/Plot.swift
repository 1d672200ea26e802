import Foundation
import SwivelLinearAlgebra

/// A 2-D principal-component projection of some vectors.
public struct PrincipalComponents: Sendable {
    /// Projected coordinates, one (x, y) per input row.
    public let points: [(x: Float, y: Float)]
    /// Share of the total variance along each of the two axes, in [0, 1].
    public let explained: (Float, Float)
    /// The two unit principal directions (`2 x d`).
    public let axes: Matrix

    /// Projects the rows of `vectors` (`n x d`, n >= 2) onto their two leading principal components: the
    /// top eigenvectors of the covariance `X^T X / (n - 1)` of the centred rows (covariance by SGEMM,
    /// eigenvectors by LAPACK `ssyevr`).
    public init(_ vectors: Matrix) throws {
        let n = vectors.rows, d = vectors.columns
        precondition(n >= 2 && d >= 2, "PCA needs at least two vectors of dimension two")
        var centred = vectors
        for j in 0..<d {
            var mean: Float = 0
            for i in 0..<n { mean += centred[i, j] }
            mean /= Float(n)
            for i in 0..<n { centred[i, j] -= mean }
        }
        var covariance = Matrix(rows: d, columns: d)
        centred.values.withUnsafeBufferPointer { x in
            covariance.values.withUnsafeMutableBufferPointer { c in
                BLAS.sgemm(transposeA: .transposed, m: d, n: d, k: n, alpha: 1 / Float(n - 1),
                           a: x.baseAddress!, lda: d, b: x.baseAddress!, ldb: d, c: c.baseAddress!, ldc: d)
            }
        }
        var trace: Float = 0
        for j in 0..<d { trace += covariance[j, j] }
        let (values, axes) = try SymmetricEigen.largest(2, of: covariance)
        self.axes = axes
        explained = trace > 0 ? (max(0, values[0]) / trace, max(0, values[1]) / trace) : (0, 0)
        points = (0..<n).map { i in
            var x: Float = 0, y: Float = 0
            for j in 0..<d {
                x += centred[i, j] * axes[0, j]
                y += centred[i, j] * axes[1, j]
            }
            return (x, y)
        }
    }
}

/// Writes small, self-contained SVG charts (no plotting dependency).
public enum SVGChart {
    /// One line of a line chart.
    public struct Series: Sendable {
        /// Legend text.
        public var name: String
        /// Points, x ascending.
        public var points: [(x: Double, y: Double)]

        /// Creates a series.
        public init(name: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.points = points
        }
    }

    static let width = 900.0, height = 700.0, margin = 70.0
    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]

    /// A labelled scatter plot of `points` (one label each), axes titled `xTitle` and `yTitle`.
    public static func scatter(points: [(x: Float, y: Float)], labels: [String], title: String,
                               xTitle: String, yTitle: String) -> String {
        precondition(points.count == labels.count)
        let xs = points.map { Double($0.x) }, ys = points.map { Double($0.y) }
        let (sx, sy) = scales(xs, ys, square: true)
        var body = frame(title: title, xTitle: xTitle, yTitle: yTitle)
        for (i, label) in labels.enumerated() {
            let px = sx(xs[i]), py = sy(ys[i])
            body += "<circle cx=\"\(fmt(px))\" cy=\"\(fmt(py))\" r=\"3\" fill=\"#1f77b4\"/>\n"
            body += "<text x=\"\(fmt(px + 5))\" y=\"\(fmt(py - 4))\" font-size=\"12\" font-family=\"sans-serif\">\(escape(label))</text>\n"
        }
        return document(body)
    }

    /// One panel of a line chart: its series and titles.
    public struct Panel: Sendable {
        /// The lines.
        public var series: [Series]
        /// Panel title.
        public var title: String
        /// X axis title.
        public var xTitle: String
        /// Y axis title.
        public var yTitle: String

        /// Creates a panel.
        public init(series: [Series], title: String, xTitle: String, yTitle: String) {
            self.series = series
            self.title = title
            self.xTitle = xTitle
            self.yTitle = yTitle
        }
    }

    /// Line-chart panels stacked vertically in one SVG document.
    public static func lines(_ panels: [Panel]) -> String {
        var body = ""
        for (k, panel) in panels.enumerated() {
            body += "<g transform=\"translate(0 \(fmt(Double(k) * height)))\">\n"
            body += lineBody(panel.series, title: panel.title, xTitle: panel.xTitle, yTitle: panel.yTitle)
            body += "</g>\n"
        }
        return document(body, panels: panels.count)
    }

    private static func lineBody(_ series: [Series], title: String, xTitle: String, yTitle: String) -> String {
        let xs = series.flatMap { $0.points.map(\.x) }, ys = series.flatMap { $0.points.map(\.y) }
        let (sx, sy) = scales(xs, ys, square: false)
        var body = frame(title: title, xTitle: xTitle, yTitle: yTitle)
        body += ticks(xs: xs, ys: ys, sx: sx, sy: sy)
        for (k, s) in series.enumerated() {
            let colour = palette[k % palette.count]   // legend entries sit in a row above the frame
            let path = s.points.map { "\(fmt(sx($0.x))),\(fmt(sy($0.y)))" }.joined(separator: " ")
            body += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
            body += "<text x=\"\(fmt(margin + 280 * Double(k)))\" y=\"\(fmt(margin - 8))\" font-size=\"13\" font-family=\"sans-serif\" fill=\"\(colour)\">\(escape(s.name))</text>\n"
        }
        return body
    }

    private static func scales(_ xs: [Double], _ ys: [Double], square: Bool)
        -> ((Double) -> Double, (Double) -> Double) {
        var (x0, x1) = (xs.min() ?? 0, xs.max() ?? 1), (y0, y1) = (ys.min() ?? 0, ys.max() ?? 1)
        if x1 == x0 { x0 -= 1; x1 += 1 }
        if y1 == y0 { y0 -= 1; y1 += 1 }
        let padX = (x1 - x0) * 0.05, padY = (y1 - y0) * 0.05
        x0 -= padX; x1 += padX; y0 -= padY; y1 += padY
        let plotW = width - 2 * margin, plotH = height - 2 * margin
        var kx = plotW / (x1 - x0), ky = plotH / (y1 - y0)
        if square { kx = min(kx, ky); ky = kx }   // equal units on both PCA axes
        let sx: (Double) -> Double = { margin + ($0 - x0) * kx }
        let sy: (Double) -> Double = { height - margin - ($0 - y0) * ky }
        return (sx, sy)
    }

    private static func ticks(xs: [Double], ys: [Double], sx: (Double) -> Double, sy: (Double) -> Double) -> String {
        var out = ""
        for (values, isX) in [(xs, true), (ys, false)] {
            guard let lo = values.min(), let hi = values.max() else { continue }
            for k in 0...4 {
                let v = lo + (hi - lo) * Double(k) / 4
                if isX {
                    out += "<text x=\"\(fmt(sx(v)))\" y=\"\(fmt(height - margin + 18))\" font-size=\"11\" text-anchor=\"middle\" font-family=\"sans-serif\">\(String(format: "%.3g", v))</text>\n"
                } else {
                    out += "<text x=\"\(fmt(margin - 6))\" y=\"\(fmt(sy(v) + 4))\" font-size=\"11\" text-anchor=\"end\" font-family=\"sans-serif\">\(String(format: "%.3g", v))</text>\n"
                }
            }
        }
        return out
    }

    private static func frame(title: String, xTitle: String, yTitle: String) -> String {
        """
        <rect x="0" y="0" width="\(fmt(width))" height="\(fmt(height))" fill="white"/>
        <rect x="\(fmt(margin))" y="\(fmt(margin))" width="\(fmt(width - 2 * margin))" height="\(fmt(height - 2 * margin))" fill="none" stroke="#888"/>
        <text x="\(fmt(width / 2))" y="\(fmt(margin / 2))" font-size="18" text-anchor="middle" font-family="sans-serif">\(escape(title))</text>
        <text x="\(fmt(width / 2))" y="\(fmt(height - margin / 3))" font-size="14" text-anchor="middle" font-family="sans-serif">\(escape(xTitle))</text>
        <text x="\(fmt(margin / 3))" y="\(fmt(height / 2))" font-size="14" text-anchor="middle" font-family="sans-serif" transform="rotate(-90 \(fmt(margin / 3)) \(fmt(height / 2)))">\(escape(yTitle))</text>

        """
    }

    private static func document(_ body: String, panels: Int = 1) -> String {
        let h = height * Double(panels)
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(fmt(width))\" height=\"\(fmt(h))\" viewBox=\"0 0 \(fmt(width)) \(fmt(h))\">\n" + body + "</svg>\n"
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    /// XML-escapes text.
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
