import Foundation
import SwivelLinearAlgebra
import SwivelText

/// Errors turning swivel vectors into a fastText model.
public enum FastTextConversionError: Error, CustomStringConvertible, Equatable {
    /// The vectors have no n-grams (not a subword model, or concatenated vectors).
    case noSubwords(path: String)
    /// The vocabulary's counts do not match its words.
    case counts(path: String, reason: String)

    public var description: String {
        switch self {
        case let .noSubwords(path):
            return "\(path): the fastText format needs a subword model's row or sum vectors (train with --subwords; "
                + "for word vectors alone use --format word2vec-binary)"
        case let .counts(path, reason): return "\(path): \(reason)"
        }
    }
}

extension Embeddings {
    /// The vectors of a fastText model: each dictionary word's fastText vector, and its n-gram buckets for unseen
    /// words (fastText's rule, the same as swivel's: the mean of the n-grams' bucket vectors).
    public init(fastText model: FastTextModel) {
        let d = model.dimension
        var values = [Float]()
        values.reserveCapacity(model.words.count * d)
        for word in model.words { values += model.vector(of: word) }
        self.init(tokens: model.words, vectors: Matrix(rows: model.words.count, columns: d, values: values))
        if model.scheme.maxN > 0 && model.scheme.buckets > 0 {
            subwords = SubwordVectors(scheme: model.scheme, bucketIDs: model.bucketIDs, vectors: model.bucketRows)
        }
    }
}

extension FastTextModel {
    /// A fastText model that gives every word of `embeddings` exactly its vector (to float rounding) and every
    /// other word the vector swivel composes for it from `embeddings.subwords`.
    ///
    /// fastText's vector of a dictionary word is the mean of its own input row and its n-grams' rows, so a word
    /// with vector `v` and `n` n-grams gets the row `(1 + n) v - sum_g b_g` (computed in Double); the bucket rows are
    /// the n-gram vectors. `outputRows` (`tokens.count x d`) become fastText's output matrix: swivel's column
    /// vectors, the context vectors. The header's training settings are fastText's defaults (window 5, 5 epochs,
    /// min count 1, 5 negatives); swivel's own are in the model's `model.json`.
    ///
    /// - Parameter counts: each word's corpus count (fastText's dictionary keeps them), at least 1.
    public init(embeddings: Embeddings, counts: [Int64], outputRows: Matrix, path: String) throws {
        guard let subwords = embeddings.subwords else { throw FastTextConversionError.noSubwords(path: path) }
        guard counts.count == embeddings.tokens.count else {
            throw FastTextConversionError.counts(path: path, reason: "\(counts.count) counts for \(embeddings.tokens.count) words")
        }
        let d = embeddings.dimension
        precondition(outputRows.rows == embeddings.tokens.count && outputRows.columns == d, "output rows of another shape")
        var rows = [Float](repeating: 0, count: embeddings.tokens.count * d)
        var sum = [Double](repeating: 0, count: d)
        subwords.vectors.values.withUnsafeBufferPointer { b in
            embeddings.vectors.values.withUnsafeBufferPointer { v in
                for (i, word) in embeddings.tokens.enumerated() {
                    // fastText gives its end-of-line token no n-grams.
                    let buckets = Array(word.utf8) == FastTextModel.endOfSentence ? [] : subwords.scheme.buckets(of: word)
                    for t in 0..<d { sum[t] = 0 }
                    for bucket in buckets {
                        guard let s = subwords.slot(of: bucket) else { continue }
                        for t in 0..<d { sum[t] += Double(b[s * d + t]) }
                    }
                    let factor = Double(1 + buckets.count)
                    for t in 0..<d { rows[i * d + t] = Float(factor * Double(v[i * d + t]) - sum[t]) }
                }
            }
        }
        self.init(words: embeddings.tokens, counts: counts, scheme: subwords.scheme,
                  wordRows: Matrix(rows: embeddings.tokens.count, columns: d, values: rows),
                  bucketIDs: subwords.bucketIDs, bucketRows: subwords.vectors, outputRows: outputRows,
                  window: 5, epochs: 5, minCount: 1, negatives: 5)
    }
}

extension FastTextModelFile {
    /// Whether the file at `path` starts with fastText's magic number (a `.bin` model to read as vectors).
    public static func looksLikeModel(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 4), head.count == 4 else { return false }
        let value = head.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
        return Int32(littleEndian: value) == magic
    }
}
