import ArgumentParser
import Foundation
import SwivelEmbeddings
import SwivelIO
import SwivelLinearAlgebra
import SwivelText

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
                  swivel export model/ --output model.bin --format fasttext     # a subword model, for fastText and gensim
                  swivel export model/ --output oov.txt --words words.txt       # any words, unseen ones from n-grams
                bin and npy write the words to OUTPUT.vocab; projector writes vectors.tsv and metadata.tsv into \
                the OUTPUT directory. fasttext writes fastText's binary model (.bin) of a subword model: \
                'fasttext print-word-vectors' and gensim's load_facebook_model give every word swivel's vector.
                """)

        @Argument(help: "Model directory written by 'swivel train'.")
        var model: String

        @Option(name: .shortAndLong, help: "File to write (`-`: standard output; a FIFO or device is written through; a symbolic link is followed).")
        var output: String

        @Option(help: "Format: \(ExportFormat.allCases.map(\.rawValue).joined(separator: ", ")), or fasttext (a subword model's fastText .bin).")
        var format: ExportFormat = .word2vec

        @Option(help: ArgumentHelp("Export the vectors of these words (one per line) instead of the vocabulary's: a subword model composes words outside its vocabulary from their n-grams.", valueName: "file"))
        var words: String?

        @Option(help: "Which vectors: row, col, sum (row + col), or concat (row then col).")
        var vectors: VectorChoice = .sum

        @Flag(help: "Scale every vector to unit length.")
        var normalize = false

        @Flag(help: "Write white space inside a word as %20 (space) or %09 (tab), and % as %25.")
        var escapeWhitespace = false

        func validate() throws {
            if format == .fasttext && (normalize || words != nil || vectors == .concat || vectors == .col || output == "-") {
                throw ValidationError("--format fasttext writes the whole model (row or sum vectors) to a file: leave out --normalize, --words, --vectors \(vectors.rawValue) and --output -")
            }
        }

        func run() throws {
            try reportingErrors {
                var embeddings = try Embeddings.loadModel(directory: model, choice: vectors)
                if format == .fasttext {
                    try writeFastText(embeddings)
                    return
                }
                if let words {
                    embeddings = try embeddings.selecting(wordList: words)
                }
                if normalize { embeddings = embeddings.normalized() }
                try format.write(embeddings, to: output, escapeWhiteSpace: escapeWhitespace)
                let line = "export: \(embeddings.tokens.count) vectors of dimension \(embeddings.dimension) (\(vectors.rawValue)) to \(output == "-" ? "standard output" : output) (\(format.rawValue))"
                // With `-` the vectors are on standard output: the summary goes to standard error.
                if output == "-" { printError(line) } else { print(line) }
            }
        }

        /// Writes the model as fastText's `.bin`: its vectors, its n-grams, its column vectors as the output matrix.
        func writeFastText(_ embeddings: Embeddings) throws {
            let vocabulary = try Vocabulary.read(from: model + "/" + ModelDirectory.rowVocabulary)
            let columns = try Embeddings.loadModel(directory: model, choice: .col)
            // The output matrix holds each word's column vector (zero for a word that is not a column feature).
            var contexts = Matrix(rows: embeddings.tokens.count, columns: embeddings.dimension)
            for (i, word) in embeddings.tokens.enumerated() {
                guard let j = columns.id(of: word) else { continue }
                for t in 0..<embeddings.dimension { contexts[i, t] = columns.vectors[j, t] }
            }
            let fastText = try FastTextModel(embeddings: embeddings, counts: vocabulary.counts.map { max($0, 1) },
                                             outputRows: contexts, path: model)
            try FastTextModelFile.write(fastText, to: output)
            print("export: \(embeddings.tokens.count) words and \(fastText.bucketIDs.count) of \(fastText.scheme.buckets) n-gram buckets, dimension \(embeddings.dimension) (\(vectors.rawValue)) to \(self.output) (fastText .bin)")
        }

    }
}
