import SwivelIO

/// Errors in building or reading a vocabulary.
public enum VocabularyError: Error, CustomStringConvertible, Equatable {
    /// No token reached the minimum count (or the given vocabulary matched nothing).
    case empty(reason: String)
    /// A vocabulary file has a malformed line.
    case malformed(path: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case let .empty(reason): return "the vocabulary is empty: \(reason)"
        case let .malformed(path, line, reason): return "\(path):\(line): \(reason)"
        }
    }
}

/// An ordered list of features (words) with their corpus counts; a feature's index is its id.
///
/// Invariant: tokens are distinct and contain no white space. Built vocabularies are sorted by count,
/// descending, then by token bytes (UTF-8 byte order, which is Unicode code point order), ascending.
public struct Vocabulary: Equatable, Sendable {
    /// Tokens in id order.
    public let tokens: [String]
    /// Corpus occurrences of each token, in id order.
    public let counts: [Int64]
    private let index: [String: Int]

    /// Creates a vocabulary from tokens and their counts (same length, tokens distinct).
    public init(tokens: [String], counts: [Int64]) {
        precondition(tokens.count == counts.count, "one count per token")
        self.tokens = tokens
        self.counts = counts
        var index = [String: Int](minimumCapacity: tokens.count)
        for (i, t) in tokens.enumerated() { index[t] = i }
        self.index = index
    }

    /// Number of features.
    public var count: Int { tokens.count }

    /// The id of `token`, or nil if it is not in the vocabulary.
    public func id(of token: String) -> Int? { index[token] }

    public static func == (a: Vocabulary, b: Vocabulary) -> Bool {
        a.tokens == b.tokens && a.counts == b.counts
    }

    /// Writes `token<TAB>count` lines, atomically.
    public func write(to path: String) throws {
        var text = ""
        text.reserveCapacity(tokens.count * 12)
        for (token, count) in zip(tokens, counts) {
            text += token
            text += "\t"
            text += String(count)
            text += "\n"
        }
        try AtomicFileWriter.write(text, to: path)
    }

    /// Reads a vocabulary file: one token per line, optionally followed by a tab and its count.
    ///
    /// Blank lines are errors, as are duplicate tokens and tokens holding white space.
    public static func read(from path: String) throws -> Vocabulary {
        let text = try FileReader.readText(path)
        var tokens: [String] = []
        var counts: [Int64] = []
        var seen = Set<String>()
        var lineNumber = 0
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        for line in lines {
            lineNumber += 1
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard let first = fields.first, !first.isEmpty else {
                throw VocabularyError.malformed(path: path, line: lineNumber, reason: "empty token")
            }
            let token = String(first)
            if token.utf8.contains(where: { $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }) {
                throw VocabularyError.malformed(path: path, line: lineNumber, reason: "token contains white space")
            }
            guard fields.count <= 2 else {
                throw VocabularyError.malformed(path: path, line: lineNumber,
                                                reason: "expected 'token' or 'token<TAB>count'")
            }
            var count: Int64 = 0
            if fields.count == 2 {
                guard let c = Int64(fields[1]), c >= 0 else {
                    throw VocabularyError.malformed(path: path, line: lineNumber,
                                                    reason: "count '\(fields[1])' is not a non-negative integer")
                }
                count = c
            }
            guard seen.insert(token).inserted else {
                throw VocabularyError.malformed(path: path, line: lineNumber, reason: "duplicate token '\(token)'")
            }
            tokens.append(token)
            counts.append(count)
        }
        if tokens.isEmpty { throw VocabularyError.empty(reason: "\(path) lists no token") }
        return Vocabulary(tokens: tokens, counts: counts)
    }
}

/// Rules for choosing the vocabulary from a corpus's token counts.
public struct VocabularyRules: Sendable, Codable, Equatable {
    /// Tokens seen fewer times are dropped.
    public var minCount: Int64
    /// Keep at most this many of the most frequent tokens (nil: no limit).
    public var maxSize: Int?

    /// Creates rules.
    public init(minCount: Int64 = 5, maxSize: Int? = nil) {
        self.minCount = minCount
        self.maxSize = maxSize
    }
}

/// Chooses a vocabulary from counted tokens and maps token-table ids to vocabulary ids.
public enum VocabularyBuilder {
    /// The most frequent tokens of `table` under `rules`, sorted by count (descending) then token bytes.
    public static func build(from table: TokenTable, rules: VocabularyRules) throws -> Vocabulary {
        var kept: [Int] = []
        for id in 0..<table.count where table.occurrences(of: id) >= rules.minCount { kept.append(id) }
        kept.sort { a, b in
            let ca = table.occurrences(of: a), cb = table.occurrences(of: b)
            if ca != cb { return ca > cb }
            return table.bytes(of: a).lexicographicallyPrecedes(table.bytes(of: b))
        }
        if let maxSize = rules.maxSize, kept.count > maxSize { kept.removeLast(kept.count - maxSize) }
        guard !kept.isEmpty else {
            throw VocabularyError.empty(reason: "no token occurs at least \(rules.minCount) times (lower --min-count)")
        }
        return Vocabulary(tokens: kept.map { table.token($0) }, counts: kept.map { table.occurrences(of: $0) })
    }

    /// A given vocabulary (for example from `--vocab FILE`) with its counts taken from `table`.
    public static func recount(_ vocabulary: Vocabulary, from table: TokenTable) -> Vocabulary {
        let counts = vocabulary.tokens.map { token -> Int64 in
            table.id(of: token).map { table.occurrences(of: Int($0)) } ?? 0
        }
        return Vocabulary(tokens: vocabulary.tokens, counts: counts)
    }

    /// For each token-table id, its vocabulary id, or -1 when the token is out of vocabulary.
    public static func mapping(from table: TokenTable, to vocabulary: Vocabulary) -> [Int32] {
        var map = [Int32](repeating: -1, count: table.count)
        for (vocabularyID, token) in vocabulary.tokens.enumerated() {
            if let id = table.id(of: token) { map[Int(id)] = Int32(vocabularyID) }
        }
        return map
    }
}

/// word2vec's subsampling of frequent words, made deterministic: occurrence `i` of chunk `c` is kept when a
/// hash of (seed, c, i) falls below its word's keep probability `min(1, sqrt(t / f) + t / f)`, where `f` is
/// the word's share of the corpus. Dropped occurrences are removed before windowing, like out-of-vocabulary
/// tokens, so windows reach past them. Chunks are cut by data alone, so the choice is the same for every
/// thread count and both reading paths.
public struct Subsampling: Sendable {
    /// Per vocabulary id: keep when the 32-bit hash is below this (2^32 = always keep).
    public let thresholds: [UInt64]
    /// Seed of the hash.
    public let seed: UInt64

    /// Keep probabilities for `vocabulary` (counts) out of `total` tokens, with threshold `t`.
    public init(vocabulary: Vocabulary, total: Int64, threshold t: Double, seed: UInt64) {
        self.seed = seed
        thresholds = vocabulary.counts.map { count in
            let f = Double(max(count, 1)) / Double(max(total, 1))
            let keep = min(1, (t / f).squareRoot() + t / f)
            return UInt64((keep * 4_294_967_296).rounded(.down))
        }
    }

    /// Whether occurrence `index` (counting every token of the chunk, known or not) of chunk `chunk`,
    /// vocabulary id `id`, is kept.
    @inline(__always)
    public func keeps(_ id: Int32, chunk: Int, index: Int) -> Bool {
        var z = seed &+ UInt64(truncatingIfNeeded: chunk) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(truncatingIfNeeded: index) &* 0xD1B5_4A32_D192_ED03
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return (z >> 32) < thresholds[Int(id)]
    }
}
