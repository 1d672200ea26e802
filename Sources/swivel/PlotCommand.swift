import ArgumentParser
import Foundation
import SwivelEmbeddings
import SwivelIO
import SwivelLinearAlgebra
import SwivelTraining

extension Swivel {
    struct PlotCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "plot",
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

        @Option(name: .shortAndLong, help: "SVG file to write (`-`: standard output).")
        var output: String

        @Option(help: "Comma-separated words to plot.")
        var words: String?

        @Option(parsing: .unconditional, help: "Plot the N most frequent words (the first N of the file).")
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
                if let trainingLog { return try TrainingCurves.svg(modelDirectory: trainingLog) }
                let embeddings = try Embeddings.load(vectors!, choice: use)
                let selection = words.map { WordMap.Selection.words($0.split(separator: ",").map(String.init)) } ?? .top(top)
                let map = try WordMap(embeddings: embeddings, selection: selection)
                for word in map.unknownWords { printError("swivel: '\(word)' is not in the vocabulary; left out") }
                return map.svg()
            }
            try reportingErrors { try AtomicFileWriter.write(svg, to: output) }
            if output == "-" { printError("plot: wrote the SVG to standard output") } else { print("plot: wrote \(output)") }
        }
    }
}
