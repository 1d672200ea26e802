import SwivelLinearAlgebra

/// A word and its cosine similarity to a query.
public struct Neighbour: Equatable, Sendable {
    /// The word.
    public var token: String
    /// Cosine similarity in [-1, 1].
    public var similarity: Float
}

/// Errors in a neighbour or analogy query.
public enum QueryError: Error, CustomStringConvertible, Equatable {
    /// A query word is not in the vocabulary.
    case unknownWord(String)

    public var description: String {
        switch self {
        case let .unknownWord(word): return "'\(word)' is not in the vocabulary (and the vectors have no n-grams to compose it from)"
        }
    }
}

/// Cosine-similarity search over unit-normalised vectors, one BLAS matrix-vector product per query.
///
/// With a subword model's n-gram vectors (``Embeddings/subwords``), query words outside the vocabulary are answered
/// from their n-grams; the neighbours are always vocabulary words.
public struct NearestNeighbours: Sendable {
    /// The vectors, rows scaled to unit length.
    public let normalized: Embeddings

    /// Normalises a copy of `embeddings` for search.
    public init(_ embeddings: Embeddings) {
        var vectors = embeddings.vectors
        vectors.normalizeRows()
        var normalized = Embeddings(tokens: embeddings.tokens, vectors: vectors)
        normalized.subwords = embeddings.subwords
        self.normalized = normalized
    }

    /// The unit vector of `word` and its row (nil for a word outside the vocabulary, composed of its n-grams).
    func unitVector(of word: String) throws -> (vector: [Float], id: Int?) {
        if let id = normalized.id(of: word) { return (Array(normalized.vectors.row(id)), id) }
        guard var vector = normalized.subwords?.vector(ofUnseen: word) else { throw QueryError.unknownWord(word) }
        var norm: Float = 0
        for v in vector { norm += v * v }
        norm = norm.squareRoot()
        if norm > 0 { for j in vector.indices { vector[j] /= norm } }
        return (vector, nil)
    }

    /// The `k` words most similar to `word`, best first, excluding the word itself.
    public func nearest(to word: String, k: Int) throws -> [Neighbour] {
        let (query, id) = try unitVector(of: word)
        return search(query, k: k, excluding: id.map { [$0] } ?? [])
    }

    /// Answers "a is to b as c is to ?" by 3CosAdd: the `k` words nearest to `b - a + c`, excluding a, b, c.
    public func analogy(_ a: String, _ b: String, _ c: String, k: Int) throws -> [Neighbour] {
        let (va, ia) = try unitVector(of: a), (vb, ib) = try unitVector(of: b), (vc, ic) = try unitVector(of: c)
        var query = [Float](repeating: 0, count: normalized.dimension)
        for j in query.indices { query[j] = vb[j] - va[j] + vc[j] }
        return search(query, k: k, excluding: Set([ia, ib, ic].compactMap { $0 }))
    }

    /// The `k` words nearest to the sum of the unit vectors of `positive` minus those of `negative`
    /// (`king - man + woman`), excluding the query words.
    public func combination(positive: [String], negative: [String], k: Int) throws -> [Neighbour] {
        let d = normalized.dimension
        var query = [Float](repeating: 0, count: d)
        var used = Set<Int>()
        for (words, sign) in [(positive, Float(1)), (negative, Float(-1))] {
            for w in words {
                let (vector, id) = try unitVector(of: w)
                if let id { used.insert(id) }
                for j in 0..<d { query[j] += sign * vector[j] }
            }
        }
        return search(query, k: k, excluding: used)
    }

    /// Parses and answers one query line: `word`, `a : b :: c : ?` (or `a b c` analogies written that way),
    /// or `w1 - w2 + w3 ...`.
    public func answer(_ line: String, k: Int) throws -> [Neighbour] {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if words.count == 7, words[1] == ":", words[3] == "::", words[5] == ":", words[6] == "?" {
            return try analogy(words[0], words[2], words[4], k: k)
        }
        if words.count == 1 { return try nearest(to: words[0], k: k) }
        var positive: [String] = [], negative: [String] = []
        var sign = 1
        for w in words {
            switch w {
            case "+": sign = 1
            case "-": sign = -1
            default:
                if sign > 0 { positive.append(w) } else { negative.append(w) }
                sign = 1
            }
        }
        return try combination(positive: positive, negative: negative, k: k)
    }

    /// The `k` rows with the largest cosine similarity to `query` (any length), skipping `excluding`.
    public func search(_ query: [Float], k: Int, excluding: Set<Int> = []) -> [Neighbour] {
        let n = normalized.vectors.rows, d = normalized.dimension
        var norm: Float = 0
        for v in query { norm += v * v }
        norm = norm.squareRoot()
        var q = query
        if norm > 0 { for j in 0..<d { q[j] /= norm } }
        var scores = [Float](repeating: 0, count: n)
        normalized.vectors.values.withUnsafeBufferPointer { a in
            q.withUnsafeBufferPointer { x in
                scores.withUnsafeMutableBufferPointer { y in
                    BLAS.sgemv(rows: n, columns: d, a: a.baseAddress!, lda: d, x: x.baseAddress!, y: y.baseAddress!)
                }
            }
        }
        // Keep the best k in a small sorted list: O(n log k), no full sort.
        var best: [(score: Float, id: Int)] = []
        let k = min(k, n)
        best.reserveCapacity(k + 1)
        for i in 0..<n where !excluding.contains(i) {
            let s = scores[i]
            if best.count == k, let last = best.last, s <= last.score { continue }
            var position = best.count
            while position > 0 && best[position - 1].score < s { position -= 1 }
            best.insert((s, i), at: position)
            if best.count > k { best.removeLast() }
        }
        return best.map { Neighbour(token: normalized.tokens[$0.id], similarity: $0.score) }
    }
}
