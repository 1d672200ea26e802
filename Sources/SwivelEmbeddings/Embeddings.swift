import Foundation
import SwivelIO
import SwivelLinearAlgebra
#if canImport(Glibc)
import Glibc
#endif

/// Which trained matrix a user wants: row vectors, column vectors, or their sum (the reference's default).
public enum VectorChoice: String, CaseIterable, Sendable, Codable {
    /// Row (word) embeddings.
    case row
    /// Column (context) embeddings.
    case col
    /// Row + column, element-wise (needs a square vocabulary).
    case sum
    /// Row and column side by side, `2 * dim` wide (needs a square vocabulary).
    case concat
}

/// The files of a trained model directory, written by `swivel train`.
public enum ModelDirectory {
    /// Row vocabulary (`token<TAB>count`), in row order.
    public static let rowVocabulary = "vocab.txt"
    /// Column vocabulary.
    public static let columnVocabulary = "col_vocab.txt"
    /// Row embeddings, ``EmbeddingMatrixFile`` format.
    public static let rowEmbeddings = "row_embeddings.bin"
    /// Column embeddings.
    public static let columnEmbeddings = "col_embeddings.bin"
    /// Training settings and results (JSON).
    public static let modelInfo = "model.json"
    /// Per-epoch loss and timing (TSV).
    public static let trainingLog = "training_log.tsv"
    /// Scores of evaluations run during training (TSV: epoch, file, metric, value; the value `undefined` when the
    /// score is, e.g. a correlation over fewer than two covered pairs).
    public static let evaluationLog = "eval_log.tsv"
    /// A subword model's n-gram buckets (text, see ``SubwordVectors/write(to:)``).
    public static let subwordBuckets = "subword_buckets.txt"
    /// A subword model's n-gram vectors, ``EmbeddingMatrixFile`` format.
    public static let subwordVectors = "subword_vectors.bin"
    /// The column side's n-gram buckets, when columns are composed too.
    public static let columnSubwordBuckets = "col_subword_buckets.txt"
    /// The column side's n-gram vectors.
    public static let columnSubwordVectors = "col_subword_vectors.bin"
}

/// Word vectors with their words: what every consumer of a trained model needs, nothing about training.
///
/// `vectors` is `tokens.count x dimension`, row-major; row `i` is the vector of `tokens[i]`.
public struct Embeddings: Sendable {
    /// Words, in vocabulary order (most frequent first for swivel models).
    public var tokens: [String]
    /// One row per word.
    public var vectors: Matrix
    /// A subword model's n-gram vectors, which give vectors to words outside ``tokens`` (nil for other vectors).
    public var subwords: SubwordVectors?
    private var index: [String: Int]

    /// Creates embeddings; `tokens.count` must equal `vectors.rows`.
    public init(tokens: [String], vectors: Matrix) {
        precondition(tokens.count == vectors.rows, "one vector per token")
        self.tokens = tokens
        self.vectors = vectors
        var index = [String: Int](minimumCapacity: tokens.count)
        for (i, t) in tokens.enumerated() where index[t] == nil { index[t] = i }
        self.index = index
    }

    /// Vector dimension.
    public var dimension: Int { vectors.columns }

    /// Row index of `token`, or nil when unknown.
    public func id(of token: String) -> Int? { index[token] }

    /// Loads vectors from a model directory (choosing `row`, `col` or `sum`), a fastText `.bin` model (its word
    /// vectors, and its n-grams for unseen words), or a word2vec text or TSV file (detected by content).
    public static func load(_ path: String, choice: VectorChoice = .sum) throws -> Embeddings {
        if FileReader.isDirectory(path) {
            return try loadModel(directory: path, choice: choice)
        }
        if FastTextModelFile.looksLikeModel(path) {
            return Embeddings(fastText: try FastTextModelFile.read(from: path))
        }
        return try VectorFileReader.read(from: path)
    }

    /// Loads a model directory written by `swivel train`.
    public static func loadModel(directory: String, choice: VectorChoice) throws -> Embeddings {
        let rowVocabPath = directory + "/" + ModelDirectory.rowVocabulary
        guard FileReader.exists(rowVocabPath) else {
            throw EmbeddingError.badFormat(path: directory, reason: "not a swivel model directory (no \(ModelDirectory.rowVocabulary); run 'swivel train' first)")
        }
        switch choice {
        case .row: try ModelDirectory.verify(directory, files: [ModelDirectory.rowVocabulary, ModelDirectory.rowEmbeddings])
        case .col: try ModelDirectory.verify(directory, files: [ModelDirectory.columnVocabulary, ModelDirectory.columnEmbeddings])
        case .sum, .concat:
            try ModelDirectory.verify(directory, files: [ModelDirectory.rowVocabulary, ModelDirectory.columnVocabulary,
                                                         ModelDirectory.rowEmbeddings, ModelDirectory.columnEmbeddings])
        }
        let tokens: [String]
        let matrix: Matrix
        switch choice {
        case .row:
            tokens = try readTokens(rowVocabPath)
            matrix = try EmbeddingMatrixFile.read(from: directory + "/" + ModelDirectory.rowEmbeddings)
        case .col:
            tokens = try readTokens(directory + "/" + ModelDirectory.columnVocabulary)
            matrix = try EmbeddingMatrixFile.read(from: directory + "/" + ModelDirectory.columnEmbeddings)
        case .sum, .concat:
            tokens = try readTokens(rowVocabPath)
            let columnTokens = try readTokens(directory + "/" + ModelDirectory.columnVocabulary)
            guard columnTokens == tokens else {
                throw EmbeddingError.mismatch(path: directory, reason: "row and column vocabularies differ: use --vectors row or col")
            }
            let rows = try EmbeddingMatrixFile.read(from: directory + "/" + ModelDirectory.rowEmbeddings)
            let columns = try EmbeddingMatrixFile.read(from: directory + "/" + ModelDirectory.columnEmbeddings)
            guard rows.rows == columns.rows, rows.columns == columns.columns else {
                throw EmbeddingError.mismatch(path: directory, reason: "row and column matrices have different shapes")
            }
            matrix = combine(rows, columns, choice)
        }
        guard tokens.count == matrix.rows else {
            throw EmbeddingError.mismatch(path: directory, reason: "\(tokens.count) words but \(matrix.rows) vectors")
        }
        var embeddings = Embeddings(tokens: tokens, vectors: matrix)
        // A subword model's composed sides give vectors to unseen words: a sum has the sum of both sides' n-gram
        // vectors (a side without n-grams adds nothing for an unseen word); concatenations have none.
        let rows = SubwordVectors.present(in: directory, side: .rows)
            ? try SubwordVectors.read(modelDirectory: directory, side: .rows) : nil
        let columns = SubwordVectors.present(in: directory, side: .columns)
            ? try SubwordVectors.read(modelDirectory: directory, side: .columns) : nil
        let subwords: SubwordVectors? = switch choice {
        case .row: rows
        case .col: columns
        case .sum: rows.map { r in columns.map { r.adding($0) } ?? r } ?? columns
        case .concat: nil
        }
        if let subwords {
            guard subwords.dimension == matrix.columns else {
                throw EmbeddingError.mismatch(path: directory, reason: "n-gram vectors of dimension \(subwords.dimension), word vectors of \(matrix.columns)")
            }
            embeddings.subwords = subwords
        }
        return embeddings
    }

    /// Row vectors and column vectors combined as `choice` says (`.sum` or `.concat`; otherwise `rows`).
    public static func combine(_ rows: Matrix, _ columns: Matrix, _ choice: VectorChoice) -> Matrix {
        switch choice {
        case .sum:
            var m = rows
            for i in 0..<m.values.count { m.values[i] += columns.values[i] }
            return m
        case .concat:
            let d = rows.columns
            var values = [Float]()
            values.reserveCapacity(2 * rows.values.count)
            for i in 0..<rows.rows {
                values.append(contentsOf: rows.values[(i * d)..<((i + 1) * d)])
                values.append(contentsOf: columns.values[(i * d)..<((i + 1) * d)])
            }
            return Matrix(rows: rows.rows, columns: 2 * d, values: values)
        case .row, .col:
            return rows
        }
    }

    /// The tokens of a `token[<TAB>count]` vocabulary file.
    static func readTokens(_ path: String) throws -> [String] {
        let text = try FileReader.readText(path)
        return text.split(separator: "\n").map { line in
            String(line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)[0])
        }
    }
}

/// The digests `model.json` records of a model's files, as read by ``ModelDirectory/verify(_:files:)``.
private struct ModelFileList: Decodable {
    var files: [String: FileDigest]?
}

extension ModelDirectory {
    /// Checks that `model.json` exists and that each of `files` matches the size and CRC-32 it records, so that
    /// a model whose files come from different writes is refused instead of read. A model written before
    /// `model.json` listed its files passes on the presence of `model.json` alone.
    public static func verify(_ directory: String, files: [String]) throws {
        let infoPath = directory + "/" + modelInfo
        guard FileReader.exists(infoPath) else {
            throw EmbeddingError.badFormat(path: directory, reason: "not a complete swivel model (no \(modelInfo)): "
                + "training did not finish; resume it with 'swivel train --resume \(directory)'")
        }
        let list: ModelFileList
        do {
            list = try JSONDecoder().decode(ModelFileList.self, from: Data(try FileReader.readAll(infoPath)))
        } catch let error as FileError {
            throw error
        } catch {
            throw EmbeddingError.badFormat(path: infoPath, reason: "not a swivel model description (\(error))")
        }
        guard let recorded = list.files else { return }
        for name in files {
            guard let expected = recorded[name] else {
                throw EmbeddingError.mismatch(path: infoPath, reason: "does not list \(name)")
            }
            let found = try FileDigest(of: directory + "/" + name)
            guard found == expected else {
                throw EmbeddingError.mismatch(path: directory + "/" + name, reason: "is not the file \(modelInfo) describes "
                    + "(\(found.bytes) bytes, CRC-32 \(String(found.crc32, radix: 16)); expected \(expected.bytes) bytes, CRC-32 "
                    + "\(String(expected.crc32, radix: 16))): the directory mixes files of different runs; train again or restore it")
            }
        }
    }
}
