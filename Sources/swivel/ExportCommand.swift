import ArgumentParser
import SwivelEmbeddings

extension VectorChoice: ExpressibleByArgument {}
extension ExportFormat: ExpressibleByArgument {}

extension Swivel {
    struct ExportCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write trained vectors for other tools (gensim, GloVe/word2vec tools, TensorBoard, NumPy).",
            discussion: """
                Examples:
                  swivel export model/ --output vectors.txt                     # word2vec text, row + col
                  swivel export model/ --output vectors.bin --format word2vec-binary
                  swivel export model/ --output projector/ --format projector --normalize
                  swivel export model/ --output vectors.npy --format npy        # also writes vectors.npy.vocab
                bin and npy write the words to OUTPUT.vocab; projector writes vectors.tsv and metadata.tsv into \
                the OUTPUT directory.
                """)

        @Argument(help: "Model directory written by 'swivel train'.")
        var model: String

        @Option(name: .shortAndLong, help: "File to write (`-`: standard output; a FIFO or device is written through; a symbolic link is followed).")
        var output: String

        @Option(help: "Format: \(ExportFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
        var format: ExportFormat = .word2vec

        @Option(help: "Which vectors: row, col, sum (row + col), or concat (row then col).")
        var vectors: VectorChoice = .sum

        @Flag(help: "Scale every vector to unit length.")
        var normalize = false

        @Flag(help: "Write white space inside a word as %20 (space) or %09 (tab), and % as %25.")
        var escapeWhitespace = false

        func run() throws {
            try reportingErrors {
                var embeddings = try Embeddings.loadModel(directory: model, choice: vectors)
                if normalize { embeddings = embeddings.normalized() }
                try format.write(embeddings, to: output, escapeWhiteSpace: escapeWhitespace)
                let line = "export: \(embeddings.tokens.count) vectors of dimension \(embeddings.dimension) (\(vectors.rawValue)) to \(output == "-" ? "standard output" : output) (\(format.rawValue))"
                // With `-` the vectors are on standard output: the summary goes to standard error.
                if output == "-" { printError(line) } else { print(line) }
            }
        }
    }
}
