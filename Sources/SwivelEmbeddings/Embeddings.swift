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
}

/// Word vectors with their words: what every consumer of a trained model needs, nothing about training.
///
/// `vectors` is `tokens.count x dimension`, row-major; row `i` is the vector of `tokens[i]`.
public struct Embeddings: Sendable {
    /// Words, in vocabulary order (most frequent first for swivel models).
    public var tokens: [String]
    /// One row per word.
    public var vectors: Matrix
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

    /// Loads vectors from a model directory (choosing `row`, `col` or `sum`), or from a word2vec text
    /// file or TSV file (detected by content).
    public static func load(_ path: String, choice: VectorChoice = .sum) throws -> Embeddings {
        if FileReader.isDirectory(path) {
            return try loadModel(directory: path, choice: choice)
        }
        return try EmbeddingTextFormat.read(from: path)
    }

    /// Loads a model directory written by `swivel train`.
    public static func loadModel(directory: String, choice: VectorChoice) throws -> Embeddings {
        let rowVocabPath = directory + "/" + ModelDirectory.rowVocabulary
        guard FileReader.exists(rowVocabPath) else {
            throw EmbeddingError.badFormat(path: directory, reason: "not a swivel model directory (no \(ModelDirectory.rowVocabulary); run 'swivel train' first)")
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
        case .sum:
            tokens = try readTokens(rowVocabPath)
            let columnTokens = try readTokens(directory + "/" + ModelDirectory.columnVocabulary)
            guard columnTokens == tokens else {
                throw EmbeddingError.mismatch(path: directory, reason: "row and column vocabularies differ: use --vectors row or col")
            }
            var rows = try EmbeddingMatrixFile.read(from: directory + "/" + ModelDirectory.rowEmbeddings)
            let columns = try EmbeddingMatrixFile.read(from: directory + "/" + ModelDirectory.columnEmbeddings)
            guard rows.rows == columns.rows, rows.columns == columns.columns else {
                throw EmbeddingError.mismatch(path: directory, reason: "row and column matrices have different shapes")
            }
            for i in 0..<rows.values.count { rows.values[i] += columns.values[i] }
            matrix = rows
        }
        guard tokens.count == matrix.rows else {
            throw EmbeddingError.mismatch(path: directory, reason: "\(tokens.count) words but \(matrix.rows) vectors")
        }
        return Embeddings(tokens: tokens, vectors: matrix)
    }

    /// The tokens of a `token[<TAB>count]` vocabulary file.
    static func readTokens(_ path: String) throws -> [String] {
        let text = try FileReader.readText(path)
        return text.split(separator: "\n").map { line in
            String(line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)[0])
        }
    }
}

/// Text formats that other tools read: word2vec text (`V dim` header) and TSV (`word<TAB>v1<TAB>...`).
public enum EmbeddingTextFormat: String, CaseIterable, Sendable {
    /// word2vec text: a `count dimension` line, then `word v1 ... vd` lines (gensim's `load_word2vec_format`).
    case word2vec
    /// Tab-separated, as the reference Swivel writes: `word<TAB>v1<TAB>...<TAB>vd`, no header.
    case tsv

    /// Writes `embeddings` in this format to `path`, atomically. Floats are printed in their shortest
    /// round-trip form, so reading the file back gives the identical Float values.
    public func write(_ embeddings: Embeddings, to path: String) throws {
        let writer = try AtomicFileWriter(path: path)
        let d = embeddings.dimension
        let separator: UInt8 = self == .word2vec ? 0x20 : 0x09
        if self == .word2vec { try writer.write("\(embeddings.tokens.count) \(d)\n") }
        var line: [UInt8] = []
        line.reserveCapacity(16 * d)
        try embeddings.vectors.values.withUnsafeBufferPointer { v in
            for (i, token) in embeddings.tokens.enumerated() {
                line.removeAll(keepingCapacity: true)
                line.append(contentsOf: token.utf8)
                for j in 0..<d {
                    line.append(separator)
                    line.append(contentsOf: v[i * d + j].description.utf8)
                }
                line.append(0x0A)
                try writer.write(line)
            }
        }
        try writer.commit()
    }

    /// Reads a word2vec text or TSV file, telling them apart by the first line.
    public static func read(from path: String) throws -> Embeddings {
        let bytes = try FileReader.readAll(path)
        guard !bytes.isEmpty else { throw EmbeddingError.badFormat(path: path, reason: "file is empty") }
        if bytes.starts(with: EmbeddingMatrixFile.magic) {
            throw EmbeddingError.badFormat(path: path, reason: "this is one matrix of a model: give the model directory instead")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw EmbeddingError.badFormat(path: path, reason: "not UTF-8 text (binary word2vec files are not supported; export as text)")
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let first = lines.first else { throw EmbeddingError.badFormat(path: path, reason: "file is empty") }
        let header = first.split(separator: " ")
        var expectedCount: Int? = nil
        var expectedDimension: Int? = nil
        var body = lines[...]
        if header.count == 2, let c = Int(header[0]), let d = Int(header[1]), c >= 0, d >= 1 {
            expectedCount = c
            expectedDimension = d
            body = lines.dropFirst()
        }
        var tokens: [String] = []
        var values: [Float] = []
        tokens.reserveCapacity(expectedCount ?? body.count)
        var dimension = expectedDimension
        for (offset, line) in body.enumerated() {
            let lineNumber = offset + (expectedCount == nil ? 1 : 2)
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard fields.count >= 2 else {
                throw EmbeddingError.badFormat(path: path, reason: "line \(lineNumber): expected a word and its vector")
            }
            let d = fields.count - 1
            if let dimension, dimension != d {
                throw EmbeddingError.badFormat(path: path, reason: "line \(lineNumber): \(d) numbers where \(dimension) were expected")
            }
            dimension = d
            tokens.append(String(fields[0]))
            for f in fields.dropFirst() {
                guard let v = Float(f), v.isFinite else {
                    throw EmbeddingError.badFormat(path: path, reason: "line \(lineNumber): '\(f)' is not a finite number")
                }
                values.append(v)
            }
        }
        if let expectedCount, expectedCount != tokens.count {
            throw EmbeddingError.badFormat(path: path, reason: "header promises \(expectedCount) vectors, file has \(tokens.count)")
        }
        guard let dimension, !tokens.isEmpty else { throw EmbeddingError.badFormat(path: path, reason: "no vectors in file") }
        return Embeddings(tokens: tokens, vectors: Matrix(rows: tokens.count, columns: dimension, values: values))
    }
}
