import ArgumentParser
import SwivelEmbeddings

extension VectorChoice: ExpressibleByArgument {}
extension EmbeddingTextFormat: ExpressibleByArgument {}

extension Swivel {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write trained vectors as text for other tools (gensim, GloVe/word2vec tools, the reference's TSV).")

        @Argument(help: "Model directory written by 'swivel train'.")
        var model: String

        @Option(name: .shortAndLong, help: "File to write.")
        var output: String

        @Option(help: "Format: \(EmbeddingTextFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
        var format: EmbeddingTextFormat = .word2vec

        @Option(help: "Which vectors: row, col, or sum (row + col).")
        var vectors: VectorChoice = .sum

        func run() throws {
            try reportingErrors {
                let embeddings = try Embeddings.loadModel(directory: model, choice: vectors)
                try format.write(embeddings, to: output)
                print("export: \(embeddings.tokens.count) vectors of dimension \(embeddings.dimension) (\(vectors.rawValue)) to \(output) (\(format.rawValue))")
            }
        }
    }
}
