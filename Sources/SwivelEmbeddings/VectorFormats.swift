import Foundation
import SwivelIO
import SwivelLinearAlgebra

/// File formats `swivel export` writes, for the tools people load vectors into.
public enum ExportFormat: String, CaseIterable, Sendable {
    /// word2vec text: a `count dimension` line, then `word v1 ... vd` (gensim `load_word2vec_format`).
    case word2vec
    /// word2vec binary: the same header, then per word `word`, a space, `d` float32 little-endian, a newline
    /// (gensim `load_word2vec_format(binary=True)`).
    case word2vecBinary = "word2vec-binary"
    /// GloVe text: `word v1 ... vd`, no header.
    case glove
    /// The reference Swivel's TSV: `word<TAB>v1<TAB>...<TAB>vd`, no header.
    case tsv
    /// TensorBoard Embedding Projector: OUTPUT is a directory receiving `vectors.tsv` (numbers only) and
    /// `metadata.tsv` (one word per line).
    case projector
    /// Flat little-endian float32 rows (memory-mappable, as the reference's text2bin), words in `OUTPUT.vocab`.
    case bin
    /// NumPy `.npy` version 1.0, float32 `(V, d)`, words in `OUTPUT.vocab`.
    case npy
    /// fastText's binary model (`.bin`) of a subword model, with its n-grams: written from a model directory by
    /// ``FastTextModelFile`` (see ``FastTextModel/init(embeddings:counts:outputRows:path:)``), not from vectors alone.
    case fasttext

    /// Writes `embeddings` to `path` (a directory for `.projector`, swapped in whole), every file atomically;
    /// `-` is standard output for the single-file formats; `bin` and `npy` write their `.vocab` as a pair
    /// (``AtomicFileWriter/commitPair(data:companion:)``). Floats in text formats are printed in their shortest
    /// round-trip form, so reading back gives the identical values.
    ///
    /// - Parameter escapeWhiteSpace: write white space inside a word as `%20` (space), `%09` (tab), and `%` as
    ///   `%25`; without it such a word is an error, since it would break the file.
    public func write(_ embeddings: Embeddings, to path: String, escapeWhiteSpace: Bool = false) throws {
        let tokens = try Self.checkedTokens(embeddings.tokens, escape: escapeWhiteSpace)
        let d = embeddings.dimension
        switch self {
        case .word2vec, .glove, .tsv:
            let separator: UInt8 = self == .tsv ? 0x09 : 0x20
            try Self.writeText(embeddings, tokens: tokens, to: path, header: self == .word2vec,
                               separator: separator, includeWords: true)
        case .word2vecBinary:
            let writer = try AtomicFileWriter(path: path)
            try writer.write("\(tokens.count) \(d)\n")
            try embeddings.vectors.values.withUnsafeBytes { raw in
                for (i, token) in tokens.enumerated() {
                    try writer.write(token + " ")
                    try writer.write(UnsafeRawBufferPointer(rebasing: raw[(i * d * 4)..<((i + 1) * d * 4)]))
                    try writer.write([0x0A])
                }
            }
            try writer.commit()
        case .projector:
            guard path != "-" else { throw EmbeddingError.badFormat(path: path, reason: "projector writes a directory (vectors.tsv and metadata.tsv); give its path") }
            let lock = try OutputLock(output: path)
            defer { lock.release() }
            let staged = try StagedDirectory(destination: path)
            try Self.writeText(embeddings, tokens: tokens, to: staged.staging + "/vectors.tsv", header: false,
                               separator: 0x09, includeWords: false)
            try AtomicFileWriter.write(tokens.map { $0 + "\n" }.joined(), to: staged.staging + "/metadata.tsv")
            try staged.commit()
        case .fasttext:
            throw EmbeddingError.badFormat(path: path, reason: "the fasttext format is written from a subword model directory (swivel export MODEL --format fasttext)")
        case .bin, .npy:
            guard path != "-" else { throw EmbeddingError.badFormat(path: path, reason: "\(rawValue) writes two files (OUTPUT and OUTPUT.vocab); give a file name") }
            let data = try AtomicFileWriter(path: path)
            if self == .npy { try data.write(NumpyHeader.encode(rows: tokens.count, columns: d)) }
            try data.writeRaw(embeddings.vectors.values)
            let vocabulary = try AtomicFileWriter(path: path + ".vocab")
            try vocabulary.write(tokens.map { $0 + "\n" }.joined())
            try AtomicFileWriter.commitPair(data: data, companion: vocabulary)
        }
    }

    /// The tokens as they will be written, or an error naming the first that text formats cannot hold.
    static func checkedTokens(_ tokens: [String], escape: Bool) throws -> [String] {
        try tokens.map { token in
            let hasSpace = token.utf8.contains { $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }
            if token.isEmpty { throw EmbeddingError.badFormat(path: "vocabulary", reason: "an empty word cannot be written") }
            guard hasSpace || (escape && token.contains("%")) else { return token }
            guard escape else {
                throw EmbeddingError.badFormat(path: "vocabulary",
                    reason: "word '\(token)' contains white space, which would break the file (pass --escape-whitespace to write it as %20/%09)")
            }
            var out = ""
            for scalar in token.unicodeScalars {
                switch scalar {
                case "%": out += "%25"
                case " ": out += "%20"
                case "\t": out += "%09"
                case "\n": out += "%0A"
                case "\r": out += "%0D"
                case "\u{0B}": out += "%0B"
                case "\u{0C}": out += "%0C"
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out
        }
    }

    private static func writeText(_ embeddings: Embeddings, tokens: [String], to path: String, header: Bool,
                                  separator: UInt8, includeWords: Bool) throws {
        let writer = try AtomicFileWriter(path: path)
        let d = embeddings.dimension
        if header { try writer.write("\(tokens.count) \(d)\n") }
        var line: [UInt8] = []
        line.reserveCapacity(16 * d)
        try embeddings.vectors.values.withUnsafeBufferPointer { v in
            for (i, token) in tokens.enumerated() {
                line.removeAll(keepingCapacity: true)
                if includeWords { line.append(contentsOf: token.utf8) }
                for j in 0..<d {
                    if includeWords || j > 0 { line.append(separator) }
                    line.append(contentsOf: v[i * d + j].description.utf8)
                }
                line.append(0x0A)
                try writer.write(line)
            }
        }
        try writer.commit()
    }
}

/// The `.npy` version 1.0 header for a little-endian float32 C-order matrix.
enum NumpyHeader {
    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]

    /// Magic, version, header length, and the dictionary padded with spaces and a newline to a multiple of 64.
    static func encode(rows: Int, columns: Int) -> [UInt8] {
        var dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(columns)), }"
        let unpadded = magic.count + 2 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let length = UInt16(dict.utf8.count)
        return magic + [UInt8(length & 0xFF), UInt8(length >> 8)] + Array(dict.utf8)
    }

    /// The shape of a float32 C-order `.npy` file, and the offset of its data.
    static func decode(_ bytes: [UInt8], path: String) throws -> (rows: Int, columns: Int, offset: Int) {
        guard bytes.count >= 10, Array(bytes[0..<6]) == Array(magic[0..<6]) else {
            throw EmbeddingError.badFormat(path: path, reason: "not a .npy file")
        }
        let length = Int(bytes[8]) | Int(bytes[9]) << 8
        guard bytes[6] == 1, bytes.count >= 10 + length else {
            throw EmbeddingError.badFormat(path: path, reason: "unsupported .npy version or truncated header")
        }
        let header = String(decoding: bytes[10..<(10 + length)], as: UTF8.self)
        guard header.contains("'descr': '<f4'"), header.contains("'fortran_order': False"),
              let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw EmbeddingError.badFormat(path: path, reason: ".npy file is not a little-endian float32 C-order matrix")
        }
        let dims = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingBlanks()) }
        guard dims.count == 2, dims[0] >= 0, dims[0] < (1 << 32), dims[1] >= 1, dims[1] < (1 << 20) else {
            throw EmbeddingError.badFormat(path: path, reason: ".npy array is not a 2-dimensional matrix of a sane shape")
        }
        return (dims[0], dims[1], 10 + length)
    }
}

extension Substring {
    /// The text without leading and trailing spaces, tabs and carriage returns.
    func trimmingBlanks() -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        return String(drop(while: blank).reversed().drop(while: blank).reversed())
    }
}

/// Reads vectors written by swivel or other tools, telling the format from the content:
/// word2vec text or binary, GloVe text, TSV, swivel's `bin` and `npy` (with their `.vocab` file).
public enum VectorFileReader {
    /// Reads the vectors at `path`.
    public static func read(from path: String) throws -> Embeddings {
        let vocabPath = path + ".vocab"
        if FileReader.exists(vocabPath) {
            let tokens = try Embeddings.readTokens(vocabPath)
            let bytes = try FileReader.readAll(path)
            if bytes.starts(with: NumpyHeader.magic.prefix(6)) {
                let (rows, columns, offset) = try NumpyHeader.decode(bytes, path: path)
                guard rows == tokens.count, bytes.count == offset + rows * columns * 4 else {
                    throw EmbeddingError.mismatch(path: path, reason: "shape (\(rows), \(columns)) does not match \(tokens.count) words and the file size")
                }
                return Embeddings(tokens: tokens, vectors: floats(bytes, offset: offset, rows: rows, columns: columns))
            }
            guard !tokens.isEmpty, bytes.count % (4 * tokens.count) == 0, bytes.count > 0 else {
                throw EmbeddingError.mismatch(path: path, reason: "\(bytes.count) bytes is not a whole number of float32 rows for the \(tokens.count) words of \(vocabPath)")
            }
            let columns = bytes.count / (4 * tokens.count)
            return Embeddings(tokens: tokens, vectors: floats(bytes, offset: 0, rows: tokens.count, columns: columns))
        }
        let bytes = try FileReader.readAll(path)
        guard !bytes.isEmpty else { throw EmbeddingError.badFormat(path: path, reason: "file is empty") }
        if bytes.starts(with: EmbeddingMatrixFile.magic) {
            throw EmbeddingError.badFormat(path: path, reason: "this is one matrix of a model: give the model directory instead")
        }
        if let text = String(validating: bytes, as: UTF8.self) {
            do {
                return try readText(text, path: path)
            } catch let textError {
                // A word2vec binary file can happen to be valid UTF-8; try it before giving up.
                if let binary = try? readWord2VecBinary(bytes, path: path) { return binary }
                throw textError
            }
        }
        return try readWord2VecBinary(bytes, path: path)
    }

    private static func floats(_ bytes: [UInt8], offset: Int, rows: Int, columns: Int) -> Matrix {
        var values = [Float](repeating: 0, count: rows * columns)
        values.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { out.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + rows * columns * 4)])) }
        }
        return Matrix(rows: rows, columns: columns, values: values)
    }

    /// word2vec binary: `V d\n`, then per word: bytes up to a space, `d` float32, optional newline.
    static func readWord2VecBinary(_ bytes: [UInt8], path: String) throws -> Embeddings {
        guard let newline = bytes.firstIndex(of: 0x0A) else {
            throw EmbeddingError.badFormat(path: path, reason: "no header line")
        }
        let header = String(decoding: bytes[0..<newline], as: UTF8.self).split(separator: " ")
        guard header.count == 2, let count = Int(header[0]), let d = Int(header[1]), count >= 1, d >= 1, d < (1 << 20) else {
            throw EmbeddingError.badFormat(path: path, reason: "not a vector file this build reads (word2vec text or binary, GloVe, TSV, bin or npy)")
        }
        guard count <= bytes.count / (4 * d + 2) else {
            throw EmbeddingError.truncated(path: path, expected: count * (4 * d + 2), found: bytes.count)
        }
        var tokens: [String] = []
        tokens.reserveCapacity(count)
        var values = [Float](repeating: 0, count: count * d)
        var position = newline + 1
        for i in 0..<count {
            while position < bytes.count && bytes[position] == 0x0A { position += 1 }
            guard let space = bytes[position...].firstIndex(of: 0x20), space > position else {
                throw EmbeddingError.badFormat(path: path, reason: "word \(i + 1) of \(count) is missing (file truncated?)")
            }
            guard let token = String(validating: bytes[position..<space], as: UTF8.self) else {
                throw EmbeddingError.badFormat(path: path, reason: "word \(i + 1) is not UTF-8")
            }
            tokens.append(token)
            position = space + 1
            guard position + 4 * d <= bytes.count else {
                throw EmbeddingError.truncated(path: path, expected: position + 4 * d, found: bytes.count)
            }
            values.withUnsafeMutableBytes { out in
                bytes.withUnsafeBytes { raw in
                    UnsafeMutableRawBufferPointer(rebasing: out[(i * d * 4)..<((i + 1) * d * 4)])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[position..<(position + 4 * d)]))
                }
            }
            position += 4 * d
        }
        while position < bytes.count && bytes[position] == 0x0A { position += 1 }
        guard position == bytes.count else {
            throw EmbeddingError.badFormat(path: path, reason: "\(bytes.count - position) unexpected bytes after \(count) vectors")
        }
        guard values.allSatisfy(\.isFinite) else { throw EmbeddingError.badFormat(path: path, reason: "holds non-finite numbers") }
        return Embeddings(tokens: tokens, vectors: Matrix(rows: count, columns: d, values: values))
    }

    /// word2vec text (with its `V d` header), GloVe text or TSV (without).
    static func readText(_ text: String, path: String) throws -> Embeddings {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let first = lines.first else { throw EmbeddingError.badFormat(path: path, reason: "file is empty") }
        let header = first.split(separator: " ")
        var expectedCount: Int? = nil
        var dimension: Int? = nil
        var body = lines[...]
        if header.count == 2, let c = Int(header[0]), let d = Int(header[1]), c >= 0, d >= 1 {
            expectedCount = c
            dimension = d
            body = lines.dropFirst()
        }
        var tokens: [String] = []
        var values: [Float] = []
        tokens.reserveCapacity(body.count)
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

extension Embeddings {
    /// A copy with every vector scaled to unit length.
    public func normalized() -> Embeddings {
        var v = vectors
        v.normalizeRows()
        return Embeddings(tokens: tokens, vectors: v)
    }
}
