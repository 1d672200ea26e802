import ArgumentParser
import Foundation
import SwivelEmbeddings
import SwivelIO
import SwivelLinearAlgebra

extension Swivel {
    struct Plot: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw a 2-D PCA map of words, or a model's training curves, as SVG.",
            discussion: """
                Examples:
                  swivel plot model/ --output map.svg --top 100
                  swivel plot model/ --output map.svg --words king,queen,man,woman
                  swivel plot --training-log model/ --output curves.svg
                The map projects the chosen words' vectors on their two leading principal components (LAPACK \\
                ssyevr on the covariance); the axes say how much of the variance each explains.
                """)

        @Argument(help: "A model directory, or an exported vector file (not needed with --training-log).")
        var vectors: String?

        @Option(name: .shortAndLong, help: "SVG file to write.")
        var output: String

        @Option(help: "Comma-separated words to plot.")
        var words: String?

        @Option(help: "Plot the N most frequent words (the first N of the file).")
        var top: Int = 100

        @Option(name: [.customLong("vectors"), .customLong("use")], help: "With a model directory: row, col, sum or concat (as export --vectors).")
        var use: VectorChoice = .sum

        @Option(help: "Plot loss (and logged evaluation scores) of this model directory against epochs.")
        var trainingLog: String?

        func validate() throws {
            if trainingLog == nil && vectors == nil { throw ValidationError("give VECTORS, or --training-log MODEL_DIR") }
            if top < 2 { throw ValidationError("--top must be at least 2 (got \(top))") }
        }

        func run() throws {
            let svg: String = try reportingErrors {
                if let trainingLog { return try TrainingCurves.read(modelDirectory: trainingLog) }
                let embeddings = try Embeddings.load(vectors!, choice: use)
                var chosen: [Int]
                if let words {
                    chosen = []
                    for w in words.split(separator: ",").map(String.init) {
                        if let id = embeddings.id(of: w) { chosen.append(id) } else { printError("swivel: '\(w)' is not in the vocabulary; left out") }
                    }
                } else {
                    chosen = Array(0..<min(top, embeddings.tokens.count))
                }
                guard chosen.count >= 2 else { throw ValidationError("need at least two known words to plot") }
                let d = embeddings.dimension
                var values: [Float] = []
                for id in chosen { values += embeddings.vectors.row(id) }
                let pca = try PrincipalComponents(Matrix(rows: chosen.count, columns: d, values: values))
                return SVGChart.scatter(points: pca.points, labels: chosen.map { embeddings.tokens[$0] },
                                        title: "\(chosen.count) words, PCA of \(d)-dimensional vectors",
                                        xTitle: String(format: "PC1 (%.1f%% of variance)", 100 * pca.explained.0),
                                        yTitle: String(format: "PC2 (%.1f%% of variance)", 100 * pca.explained.1))
            }
            try reportingErrors { try AtomicFileWriter.write(svg, to: output) }
            print("plot: wrote \(output)")
        }
    }
}

/// Reads a model's training and evaluation logs into line charts.
enum TrainingCurves {
    static func read(modelDirectory: String) throws -> String {
        let logPath = modelDirectory + "/" + ModelDirectory.trainingLog
        // One curve per ensemble member (the 4th column; logs written before ensembles have 3 columns).
        var loss: [[(x: Double, y: Double)]] = []
        for line in try FileReader.readText(logPath).split(separator: "\n").dropFirst() {
            let f = line.split(separator: "\t")
            guard f.count >= 2, let epoch = Double(f[0]), let value = Double(f[1]) else {
                throw FileError.corrupt(path: logPath, reason: "malformed line '\(line)'")
            }
            let member = f.count >= 4 ? Int(f[3]) ?? 1 : 1
            guard member >= 1 && member <= 64 else { throw FileError.corrupt(path: logPath, reason: "malformed line '\(line)'") }
            while loss.count < member { loss.append([]) }
            loss[member - 1].append((epoch, value))
        }
        guard loss.contains(where: { !$0.isEmpty }) else { throw FileError.corrupt(path: logPath, reason: "no epochs logged") }
        let lossSeries = loss.enumerated().filter { !$0.element.isEmpty }.map { member, points in
            SVGChart.Series(name: loss.count > 1 ? "member \(member + 1)" : "mean loss per cell", points: points)
        }
        var panels = [SVGChart.Panel(series: lossSeries,
                                     title: "Training loss", xTitle: "epoch", yTitle: "mean loss per cell")]
        let evalPath = modelDirectory + "/" + ModelDirectory.evaluationLog
        if FileReader.exists(evalPath) {
            var series: [String: [(x: Double, y: Double)]] = [:], order: [String] = []
            for line in try FileReader.readText(evalPath).split(separator: "\n").dropFirst() {
                let f = line.split(separator: "\t")
                guard f.count == 4, let epoch = Double(f[0]), let value = Double(f[3]) else { continue }
                let name = "\((f[1] as NSString).lastPathComponent) \(f[2])"
                if series[name] == nil { order.append(name) }
                series[name, default: []].append((epoch, value))
            }
            if !order.isEmpty {
                panels.append(SVGChart.Panel(series: order.map { SVGChart.Series(name: $0, points: series[$0]!) },
                                             title: "Evaluation during training",
                                             xTitle: loss.count > 1 ? "epoch (counted across ensemble members)" : "epoch", yTitle: "score"))
            }
        }
        return SVGChart.lines(panels)
    }
}
