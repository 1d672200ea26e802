import Foundation
import SwivelIO
import SwivelLinearAlgebra
import SwivelText

/// The character n-gram vectors of a subword model (`swivel train --subwords`), which give a vector to any word.
///
/// A word outside the vocabulary gets the mean of its n-grams' bucket vectors, fastText's rule for unseen words: every
/// n-gram counts in the mean, and a bucket no vocabulary word uses is a zero vector. A word with no n-grams (none
/// with `maxN` 0) has no vector. Words of the vocabulary keep the model's own vectors.
///
/// `vectors` is `bucketIDs.count x dimension`, row-major; row `s` belongs to bucket `bucketIDs[s]` (ascending).
public struct SubwordVectors: Sendable {
    /// How words are cut into n-grams and hashed.
    public let scheme: SubwordScheme
    /// The buckets that have vectors, ascending.
    public let bucketIDs: [Int32]
    /// One vector per bucket of ``bucketIDs``.
    public let vectors: Matrix

    /// Creates the table; `bucketIDs` must be ascending, unique and below `scheme.buckets`, one per row of `vectors`.
    public init(scheme: SubwordScheme, bucketIDs: [Int32], vectors: Matrix) {
        precondition(bucketIDs.count == vectors.rows, "one vector per bucket")
        self.scheme = scheme
        self.bucketIDs = bucketIDs
        self.vectors = vectors
    }

    /// Vector dimension.
    public var dimension: Int { vectors.columns }

    /// The row of `bucket` in ``vectors``, or nil when the bucket has none (it is zero).
    public func slot(of bucket: Int32) -> Int? { Self.position(of: bucket, in: bucketIDs) }

    /// The index of `bucket` in the ascending `ids`, or nil when it is not there (binary search).
    static func position(of bucket: Int32, in ids: [Int32]) -> Int? {
        var low = 0, high = ids.count
        while low < high {
            let middle = (low + high) / 2
            if ids[middle] < bucket { low = middle + 1 } else { high = middle }
        }
        return low < ids.count && ids[low] == bucket ? low : nil
    }

    /// The vector of `word` as a word outside the vocabulary: the mean of its n-grams' vectors (`dimension`
    /// floats), or nil when it has no n-grams.
    public func vector(ofUnseen word: String) -> [Float]? {
        let buckets = scheme.buckets(of: word)
        guard !buckets.isEmpty else { return nil }
        let d = dimension
        var sum = [Float](repeating: 0, count: d)
        vectors.values.withUnsafeBufferPointer { v in
            for bucket in buckets {
                guard let s = slot(of: bucket) else { continue }
                for t in 0..<d { sum[t] += v[s * d + t] }
            }
        }
        let scale = 1 / Float(buckets.count)
        for t in 0..<d { sum[t] *= scale }
        return sum
    }

    /// The side of a model a table belongs to, which names its files.
    public enum Side: Sendable {
        /// The row vectors' n-grams.
        case rows
        /// The column vectors' n-grams.
        case columns

        /// File of the bucket ids.
        public var bucketsFile: String { self == .rows ? ModelDirectory.subwordBuckets : ModelDirectory.columnSubwordBuckets }
        /// File of the vectors.
        public var vectorsFile: String { self == .rows ? ModelDirectory.subwordVectors : ModelDirectory.columnSubwordVectors }
    }

    /// Whether `directory` (a model directory) holds n-gram vectors for `side`.
    public static func present(in directory: String, side: Side) -> Bool {
        FileReader.exists(directory + "/" + side.bucketsFile)
    }

    /// The table whose unseen-word vectors are the sums of this table's and `other`'s (same scheme and dimension):
    /// the union of the buckets, each with the sum of its vectors (a bucket absent from one table adds zero).
    public func adding(_ other: SubwordVectors) -> SubwordVectors {
        precondition(scheme == other.scheme && dimension == other.dimension, "n-gram tables of different schemes")
        let ids = Array(Set(bucketIDs).union(other.bucketIDs)).sorted()
        let d = dimension
        var values = [Float](repeating: 0, count: ids.count * d)
        var slot = [Int32: Int](minimumCapacity: ids.count)
        for (s, id) in ids.enumerated() { slot[id] = s }
        for table in [self, other] {
            for (s, id) in table.bucketIDs.enumerated() {
                let target = slot[id]! * d
                for t in 0..<d { values[target + t] += table.vectors.values[s * d + t] }
            }
        }
        return SubwordVectors(scheme: scheme, bucketIDs: ids, vectors: Matrix(rows: ids.count, columns: d, values: values))
    }

    /// Writes the table into `directory` as `side`'s files (``Side/bucketsFile``, ``Side/vectorsFile``).
    ///
    /// The buckets file is text: a first line `swivel-subwords min-n=3 max-n=6 buckets=2000000`, then one bucket id
    /// per line, ascending; row `s` of the vectors file (``EmbeddingMatrixFile``) belongs to the `s`-th id.
    public func write(to directory: String, side: Side) throws {
        var text = "swivel-subwords min-n=\(scheme.minN) max-n=\(scheme.maxN) buckets=\(scheme.buckets)\n"
        text.reserveCapacity(bucketIDs.count * 8 + 64)
        for bucket in bucketIDs { text += String(bucket); text += "\n" }
        try AtomicFileWriter.write(text, to: directory + "/" + side.bucketsFile)
        try EmbeddingMatrixFile.write(vectors, to: directory + "/" + side.vectorsFile)
    }

    /// Reads `side`'s table of the model in `directory` (see ``write(to:side:)``), checking both files against
    /// `model.json`.
    public static func read(modelDirectory directory: String, side: Side) throws -> SubwordVectors {
        try ModelDirectory.verify(directory, files: [side.bucketsFile, side.vectorsFile])
        let path = directory + "/" + side.bucketsFile
        let lines = try FileReader.readText(path).split(separator: "\n", omittingEmptySubsequences: false)
        func bad(_ reason: String) -> EmbeddingError { .badFormat(path: path, reason: reason) }
        guard let header = lines.first, header.hasPrefix("swivel-subwords ") else {
            throw bad("not a swivel n-gram bucket list (no 'swivel-subwords' header)")
        }
        var settings: [String: Int] = [:]
        for field in header.split(separator: " ").dropFirst() {
            let parts = field.split(separator: "=")
            guard parts.count == 2, let value = Int(parts[1]) else { throw bad("header field '\(field)' is not name=number") }
            settings[String(parts[0])] = value
        }
        guard let minN = settings["min-n"], let maxN = settings["max-n"], let buckets = settings["buckets"] else {
            throw bad("header lacks min-n, max-n or buckets")
        }
        let scheme = SubwordScheme(minN: minN, maxN: maxN, buckets: buckets)
        if let problem = scheme.problem { throw bad("header: \(problem)") }
        var ids: [Int32] = []
        ids.reserveCapacity(lines.count)
        for (n, line) in lines.dropFirst().enumerated() where !line.isEmpty {
            guard let id = Int32(line), id >= 0, Int(id) < buckets, ids.last.map({ $0 < id }) ?? true else {
                throw bad("line \(n + 2): '\(line.prefix(40))' is not a bucket id above the one before and below \(buckets)")
            }
            ids.append(id)
        }
        let vectors = try EmbeddingMatrixFile.read(from: directory + "/" + side.vectorsFile)
        guard vectors.rows == ids.count else {
            throw EmbeddingError.mismatch(path: directory, reason: "\(ids.count) n-gram buckets but \(vectors.rows) n-gram vectors")
        }
        return SubwordVectors(scheme: scheme, bucketIDs: ids, vectors: vectors)
    }
}

/// Errors of a word list whose vectors are asked for.
public enum WordListError: Error, CustomStringConvertible, Equatable {
    /// `missing` of the list's `count` words have no vector; `example` is the first; `composes` tells whether the
    /// vectors compose unseen words from n-grams.
    case wordsWithoutVectors(path: String, missing: Int, count: Int, example: String, composes: Bool)

    public var description: String {
        switch self {
        case let .wordsWithoutVectors(path, missing, count, example, composes):
            let why = composes ? "are not in the vocabulary and have no n-grams"
                : "are not in the vocabulary (a model trained with --subwords composes unseen words)"
            return "\(path): \(missing) of \(count) words \(why), e.g. '\(example)'"
        }
    }
}

extension Embeddings {
    /// The vectors of the words listed in the file at `path` (one per line; blank lines skipped, repeats kept once),
    /// in its order: from the vocabulary, or composed from n-grams (``vector(of:)``). A word with neither is an
    /// error naming the file, how many such words it has and the first.
    public func selecting(wordList path: String) throws -> Embeddings {
        var seen = Set<String>()
        let words = try FileReader.readText(path).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && seen.insert($0).inserted }
        var values: [Float] = []
        values.reserveCapacity(words.count * dimension)
        var missing: [String] = []
        for word in words {
            if let vector = vector(of: word) { values += vector.values } else { missing.append(word) }
        }
        guard missing.isEmpty else {
            throw WordListError.wordsWithoutVectors(path: path, missing: missing.count, count: words.count,
                                                    example: missing[0], composes: subwords != nil)
        }
        return Embeddings(tokens: words, vectors: Matrix(rows: words.count, columns: dimension, values: values))
    }

    /// The same vectors with only the words in `known` left in the vocabulary (in their order); the others become
    /// unseen words, which the n-grams (``subwords``, kept) compose. Scores "as if trained on this vocabulary" for
    /// vectors whose n-grams saw more words, e.g. a fastText model, whose n-grams still learned from those words.
    public func restricted(to known: Set<String>) -> Embeddings {
        let d = dimension
        var kept: [String] = [], values: [Float] = []
        for (i, token) in tokens.enumerated() where known.contains(token) {
            kept.append(token)
            values += vectors.row(i)
        }
        var result = Embeddings(tokens: kept, vectors: Matrix(rows: kept.count, columns: d, values: values))
        result.subwords = subwords
        return result
    }

    /// The vector of `word`: its own when it is in the vocabulary, else (with ``subwords``) the mean of its n-grams'
    /// vectors; nil when it has neither. `seen` tells which.
    public func vector(of word: String) -> (values: [Float], seen: Bool)? {
        if let i = id(of: word) { return (Array(vectors.row(i)), true) }
        return subwords?.vector(ofUnseen: word).map { ($0, false) }
    }
}
