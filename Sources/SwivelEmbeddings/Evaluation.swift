import SwivelIO
import SwivelLinearAlgebra

/// Errors reading an evaluation file.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    /// A line does not have the expected fields.
    case malformed(path: String, line: Int, reason: String)
    /// A similarity score parses as a number but is NaN or infinite (it would skew the ranks without a word).
    case nonFiniteScore(path: String, line: Int, score: String)
    /// The file holds no pair or question to score (`expected` describes the lines it should hold).
    case empty(path: String, expected: String)

    public var description: String {
        switch self {
        case let .malformed(path, line, reason): return "\(path):\(line): \(reason)"
        case let .nonFiniteScore(path, line, score): return "\(path):\(line): score '\(score)' is not a finite number"
        case let .empty(path, expected): return "\(path): \(expected)"
        }
    }
}

/// Why the correlation of a similarity set (or half) is undefined; Spearman's and Pearson's are undefined
/// together, since a series is constant exactly when its ranks are.
public enum UndefinedCorrelation: Error, CustomStringConvertible, Equatable, Sendable {
    /// Fewer than two pairs have both words in the vectors.
    case tooFewPairs(covered: Int)
    /// Every covered pair has the same human score.
    case constantHumanScores
    /// Every covered pair has the same model similarity (e.g. vectors that are all equal or all zero).
    case constantModelSimilarities
    /// A human score or model similarity is NaN or infinite (e.g. vectors holding infinities).
    case nonFiniteValue

    public var description: String {
        switch self {
        case let .tooFewPairs(covered): return "\(covered) pair\(covered == 1 ? "" : "s") covered; needs 2"
        case .constantHumanScores: return "every covered pair has the same human score"
        case .constantModelSimilarities: return "every covered pair has the same model similarity"
        case .nonFiniteValue: return "a human score or model similarity is not a finite number"
        }
    }

    /// The reason whose ``description`` is `text` (as read back from JSON), or nil. Only these can occur:
    /// ``Statistics/pearson(_:_:)`` reports too few pairs for 0 or 1 pair.
    init?(description text: String) {
        let all: [UndefinedCorrelation] = [.tooFewPairs(covered: 0), .tooFewPairs(covered: 1), .constantHumanScores,
                                           .constantModelSimilarities, .nonFiniteValue]
        guard let reason = all.first(where: { $0.description == text }) else { return nil }
        self = reason
    }
}

/// Result of a word-similarity benchmark.
///
/// In JSON, an undefined `spearman` and `pearson` are `null` and `undefinedReason` says why; a defined result
/// has no `undefinedReason`.
public struct SimilarityResult: Codable, Equatable, Sendable {
    /// The benchmark file.
    public var file: String
    /// Pairs in the file.
    public var pairs: Int
    /// Pairs with both words in the vocabulary (the ones scored).
    public var covered: Int
    /// Spearman's rank correlation (ties get their average rank) between human scores and cosine similarity;
    /// nil when undefined (see ``undefinedReason``).
    public var spearman: Double?
    /// Pearson's correlation; nil when undefined.
    public var pearson: Double?
    /// Why ``spearman`` and ``pearson`` are undefined (nil when they are defined).
    public var undefinedReason: UndefinedCorrelation?
    /// The half of the pairs with the rarer words (when word frequencies were given).
    public var rare: SimilarityHalf?
    /// The half with the more frequent words.
    public var frequent: SimilarityHalf?
    /// With vectors that compose unseen words from n-grams (a subword model): every pair whose two words have a
    /// vector, seen or composed.
    public var everyPair: SimilarityPart?
    /// With such vectors: only the pairs with at least one word outside the vocabulary.
    public var unseenPairs: SimilarityPart?

    enum CodingKeys: String, CodingKey {
        case file, pairs, covered, spearman, pearson, undefinedReason, rare, frequent, everyPair, unseenPairs
    }

    /// Encodes the result, an undefined correlation as `null` with its reason.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(file, forKey: .file)
        try c.encode(pairs, forKey: .pairs)
        try c.encode(covered, forKey: .covered)
        try c.encode(spearman, forKey: .spearman)
        try c.encode(pearson, forKey: .pearson)
        try c.encodeIfPresent(undefinedReason?.description, forKey: .undefinedReason)
        try c.encodeIfPresent(rare, forKey: .rare)
        try c.encodeIfPresent(frequent, forKey: .frequent)
        try c.encodeIfPresent(everyPair, forKey: .everyPair)
        try c.encodeIfPresent(unseenPairs, forKey: .unseenPairs)
    }

    /// Decodes a result written by ``encode(to:)``.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        file = try c.decode(String.self, forKey: .file)
        pairs = try c.decode(Int.self, forKey: .pairs)
        covered = try c.decode(Int.self, forKey: .covered)
        spearman = try c.decodeIfPresent(Double.self, forKey: .spearman)
        pearson = try c.decodeIfPresent(Double.self, forKey: .pearson)
        undefinedReason = try UndefinedCorrelation.decode(from: c, forKey: .undefinedReason)
        rare = try c.decodeIfPresent(SimilarityHalf.self, forKey: .rare)
        frequent = try c.decodeIfPresent(SimilarityHalf.self, forKey: .frequent)
        everyPair = try c.decodeIfPresent(SimilarityPart.self, forKey: .everyPair)
        unseenPairs = try c.decodeIfPresent(SimilarityPart.self, forKey: .unseenPairs)
    }

    /// A result of `covered` of `pairs` pairs, with correlations or the reason they are undefined.
    public init(file: String, pairs: Int, covered: Int, spearman: Double?, pearson: Double?,
                undefinedReason: UndefinedCorrelation? = nil, rare: SimilarityHalf? = nil, frequent: SimilarityHalf? = nil) {
        self.file = file
        self.pairs = pairs
        self.covered = covered
        self.spearman = spearman
        self.pearson = pearson
        self.undefinedReason = undefinedReason
        self.rare = rare
        self.frequent = frequent
    }
}

extension UndefinedCorrelation {
    /// The reason stored under `key` as its description, or nil when absent; an unknown text is a decoding error.
    static func decode<Key: CodingKey>(from container: KeyedDecodingContainer<Key>, forKey key: Key) throws -> UndefinedCorrelation? {
        guard let text = try container.decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let reason = UndefinedCorrelation(description: text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "unknown reason '\(text)'")
        }
        return reason
    }
}

/// Spearman's correlation on one half of a similarity benchmark split by word frequency.
public struct SimilarityHalf: Codable, Equatable, Sendable {
    /// Pairs in this half (with both words in the frequency list).
    public var pairs: Int
    /// Of those, pairs with both words in the vectors.
    public var covered: Int
    /// Spearman's correlation on the covered pairs; nil when undefined (see ``undefinedReason``).
    public var spearman: Double?
    /// Why ``spearman`` is undefined (nil when it is defined).
    public var undefinedReason: UndefinedCorrelation?
    /// Smallest and largest corpus count of the rarer word of a pair in this half.
    public var minCount: Int64
    /// Largest such count.
    public var maxCount: Int64

    enum CodingKeys: String, CodingKey { case pairs, covered, spearman, undefinedReason, minCount, maxCount }

    /// A half of `covered` of `pairs` pairs, with its correlation or the reason it is undefined.
    public init(pairs: Int, covered: Int, spearman: Double?, undefinedReason: UndefinedCorrelation? = nil,
                minCount: Int64, maxCount: Int64) {
        self.pairs = pairs
        self.covered = covered
        self.spearman = spearman
        self.undefinedReason = undefinedReason
        self.minCount = minCount
        self.maxCount = maxCount
    }

    /// Encodes the half, an undefined correlation as `null` with its reason.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(pairs, forKey: .pairs)
        try c.encode(covered, forKey: .covered)
        try c.encode(spearman, forKey: .spearman)
        try c.encodeIfPresent(undefinedReason?.description, forKey: .undefinedReason)
        try c.encode(minCount, forKey: .minCount)
        try c.encode(maxCount, forKey: .maxCount)
    }

    /// Decodes a half written by ``encode(to:)``.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        pairs = try c.decode(Int.self, forKey: .pairs)
        covered = try c.decode(Int.self, forKey: .covered)
        spearman = try c.decodeIfPresent(Double.self, forKey: .spearman)
        undefinedReason = try UndefinedCorrelation.decode(from: c, forKey: .undefinedReason)
        minCount = try c.decode(Int64.self, forKey: .minCount)
        maxCount = try c.decode(Int64.self, forKey: .maxCount)
    }
}

/// Spearman's correlation on a part of a similarity benchmark's pairs scored with vectors composed for unseen words.
public struct SimilarityPart: Codable, Equatable, Sendable {
    /// Pairs in this part whose two words have vectors (the ones scored).
    public var covered: Int
    /// Spearman's correlation; nil when undefined (see ``undefinedReason``).
    public var spearman: Double?
    /// Why ``spearman`` is undefined (nil when it is defined).
    public var undefinedReason: UndefinedCorrelation?

    enum CodingKeys: String, CodingKey { case covered, spearman, undefinedReason }

    /// A part of `covered` pairs with its correlation or the reason it is undefined.
    public init(covered: Int, spearman: Double?, undefinedReason: UndefinedCorrelation? = nil) {
        self.covered = covered
        self.spearman = spearman
        self.undefinedReason = undefinedReason
    }

    /// Encodes the part, an undefined correlation as `null` with its reason.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(covered, forKey: .covered)
        try c.encode(spearman, forKey: .spearman)
        try c.encodeIfPresent(undefinedReason?.description, forKey: .undefinedReason)
    }

    /// Decodes a part written by ``encode(to:)``.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        covered = try c.decode(Int.self, forKey: .covered)
        spearman = try c.decodeIfPresent(Double.self, forKey: .spearman)
        undefinedReason = try UndefinedCorrelation.decode(from: c, forKey: .undefinedReason)
    }
}

/// The lines of a benchmark file to read, numbered from 1: split at LF or CRLF, each split into fields at tabs
/// and spaces; blank lines (blanks only) and lines starting with `#` are left out.
private func benchmarkLines(_ path: String) throws -> [(number: Int, text: Substring, fields: [Substring])] {
    var lines: [(Int, Substring, [Substring])] = []
    // "\r\n" is one Character in Swift: splitting at "\n" alone would read a CRLF file as one line.
    let text = try FileReader.readText(path)
    for (n, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
        if line.hasPrefix("#") { continue }
        let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "\r" })
        if fields.isEmpty { continue }
        lines.append((n + 1, line, fields))
    }
    return lines
}

/// A word-similarity benchmark: `word1<TAB>word2<TAB>score` lines (WordSim-353 style).
public struct SimilarityBenchmark: Sendable {
    /// The file it was read from.
    public let path: String
    /// The pairs and their human scores.
    public let pairs: [(String, String, Double)]

    /// Reads a benchmark; blank lines and lines starting with `#` are skipped. A score must be a finite number;
    /// a file without pairs is an error.
    public init(path: String) throws {
        self.path = path
        var pairs: [(String, String, Double)] = []
        for (n, _, fields) in try benchmarkLines(path) {
            guard fields.count == 3 else {
                throw EvaluationError.malformed(path: path, line: n, reason: "expected word1<TAB>word2<TAB>score, found \(fields.count) field\(fields.count == 1 ? "" : "s")")
            }
            guard let score = Double(fields[2]) else {
                throw EvaluationError.malformed(path: path, line: n, reason: "score '\(fields[2])' is not a number")
            }
            guard score.isFinite else { throw EvaluationError.nonFiniteScore(path: path, line: n, score: String(fields[2])) }
            pairs.append((String(fields[0]), String(fields[1]), score))
        }
        guard !pairs.isEmpty else { throw EvaluationError.empty(path: path, expected: "no pairs (expected word1<TAB>word2<TAB>score lines)") }
        self.pairs = pairs
    }

    /// Scores `embeddings` on the pairs whose words are both known; when the embeddings compose vectors for unseen
    /// words (``Embeddings/subwords``), also on every pair and on the pairs with an unseen word, apart.
    ///
    /// With `frequencies` (corpus counts, e.g. a prep's `row_vocab.txt`), the pairs whose words both have a
    /// count are also split in two halves by the count of their rarer word (the rarer half first; ties by
    /// file order), and each half is scored on its own. The split depends on the corpus only, not on the
    /// vectors, so that several tools are compared on the same pairs.
    public func evaluate(_ embeddings: Embeddings, frequencies: [String: Int64]? = nil) -> SimilarityResult {
        let (human, model) = scores(embeddings, pairs: pairs)
        let whole = Self.correlations(human, model)
        var result = SimilarityResult(file: path, pairs: pairs.count, covered: human.count, spearman: whole.spearman,
                                      pearson: whole.pearson, undefinedReason: whole.undefined)
        if embeddings.subwords != nil {
            func part(_ selected: [(String, String, Double)]) -> SimilarityPart {
                let (h, m) = scores(embeddings, pairs: selected, composing: true)
                let correlations = Self.correlations(h, m)
                return SimilarityPart(covered: h.count, spearman: correlations.spearman, undefinedReason: correlations.undefined)
            }
            result.everyPair = part(pairs)
            result.unseenPairs = part(pairs.filter { embeddings.id(of: $0.0) == nil || embeddings.id(of: $0.1) == nil })
        }
        if let frequencies {
            let counted = pairs.compactMap { pair -> ((String, String, Double), Int64)? in
                guard let a = frequencies[pair.0], let b = frequencies[pair.1] else { return nil }
                return (pair, min(a, b))
            }
            let ordered = counted.enumerated().sorted { ($0.element.1, $0.offset) < ($1.element.1, $1.offset) }.map(\.element)
            let half = ordered.count / 2
            func score(_ part: ArraySlice<((String, String, Double), Int64)>) -> SimilarityHalf {
                let (h, m) = scores(embeddings, pairs: part.map(\.0))
                let correlations = Self.correlations(h, m)
                return SimilarityHalf(pairs: part.count, covered: h.count, spearman: correlations.spearman,
                                      undefinedReason: correlations.undefined,
                                      minCount: part.first?.1 ?? 0, maxCount: part.last?.1 ?? 0)
            }
            result.rare = score(ordered[..<half])
            result.frequent = score(ordered[half...])
        }
        return result
    }

    /// Spearman's and Pearson's correlations of `human` scores and `model` similarities, or (both nil) why
    /// they are undefined.
    private static func correlations(_ human: [Double], _ model: [Double])
        -> (spearman: Double?, pearson: Double?, undefined: UndefinedCorrelation?) {
        do throws(UndefinedCorrelation) {
            return (try Statistics.spearman(human, model), try Statistics.pearson(human, model), nil)
        } catch {
            return (nil, nil, error)
        }
    }

    /// Human scores and cosine similarities of the pairs whose words both have vectors: both in `embeddings`, or,
    /// when `composing`, either way (``Embeddings/vector(of:)``).
    private func scores(_ embeddings: Embeddings, pairs: [(String, String, Double)],
                        composing: Bool = false) -> ([Double], [Double]) {
        var human: [Double] = [], model: [Double] = []
        let v = embeddings.vectors
        func vector(_ word: String) -> [Float]? {
            if let i = embeddings.id(of: word) { return Array(v.row(i)) }
            return composing ? embeddings.vector(of: word)?.values : nil
        }
        for (a, b, score) in pairs {
            guard let x = vector(a), let y = vector(b) else { continue }
            var dot = 0.0, na = 0.0, nb = 0.0
            for k in 0..<v.columns {
                dot += Double(x[k]) * Double(y[k]); na += Double(x[k]) * Double(x[k]); nb += Double(y[k]) * Double(y[k])
            }
            human.append(score)
            model.append(na > 0 && nb > 0 ? dot / (na * nb).squareRoot() : 0)
        }
        return (human, model)
    }
}

/// Correlation helpers.
public enum Statistics {
    /// Ranks from 1, ties sharing their average rank.
    public static func ranks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count && values[order[end + 1]] == values[order[start]] { end += 1 }
            let average = Double(start + end) / 2 + 1
            for k in start...end { ranks[order[k]] = average }
            start = end + 1
        }
        return ranks
    }

    /// Pearson's correlation coefficient of human scores `x` and model similarities `y` (as many of each).
    ///
    /// - Throws: why it is undefined: fewer than two pairs, a non-finite value, or a constant series (checked
    ///   as equal values, not as a zero variance that rounding of the mean can miss).
    public static func pearson(_ x: [Double], _ y: [Double]) throws(UndefinedCorrelation) -> Double {
        precondition(x.count == y.count, "one model similarity per human score")
        guard x.count >= 2 else { throw .tooFewPairs(covered: x.count) }
        guard x.allSatisfy(\.isFinite), y.allSatisfy(\.isFinite) else { throw .nonFiniteValue }
        guard x.contains(where: { $0 != x[0] }) else { throw .constantHumanScores }
        guard y.contains(where: { $0 != y[0] }) else { throw .constantModelSimilarities }
        let n = Double(x.count)
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) {
            sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my)
        }
        // Values that differ by less than about 1e-154 can still square to 0.
        guard sxx > 0 else { throw .constantHumanScores }
        guard syy > 0 else { throw .constantModelSimilarities }
        // The product of the sums can underflow or overflow where the product of their square roots would not.
        let product = sxx * syy
        return sxy / (product.isNormal ? product.squareRoot() : sxx.squareRoot() * syy.squareRoot())
    }

    /// Spearman's rank correlation of human scores `x` and model similarities `y`: Pearson's on their
    /// ``ranks(_:)``, undefined when Pearson's is (a series is constant exactly when its ranks are).
    public static func spearman(_ x: [Double], _ y: [Double]) throws(UndefinedCorrelation) -> Double {
        guard x.count >= 2 else { throw .tooFewPairs(covered: x.count) }
        // Ranks of NaN are arbitrary numbers: check the values, not their ranks.
        guard x.allSatisfy(\.isFinite), y.allSatisfy(\.isFinite) else { throw .nonFiniteValue }
        return try pearson(ranks(x), ranks(y))
    }
}

/// Accuracy of one analogy method over a set of questions.
public struct AnalogyScore: Codable, Equatable, Sendable {
    /// Questions answered correctly.
    public var correct: Int
    /// Accuracy over every question (questions with unknown words count as wrong).
    public var accuracyAll: Double
    /// Accuracy over the questions whose four words are known.
    public var accuracyCovered: Double
}

/// Results for one section (or the whole file) of an analogy benchmark.
public struct AnalogySection: Codable, Equatable, Sendable {
    /// Section name (`all` for the whole file).
    public var name: String
    /// Questions.
    public var questions: Int
    /// Questions whose four words are among the searched words.
    public var covered: Int
    /// 3CosAdd: argmax cos(d, b - a + c).
    public var add: AnalogyScore
    /// 3CosMul (Levy and Goldberg 2014): argmax cos'(d,b) cos'(d,c) / (cos'(d,a) + 0.001), cos' = (cos + 1) / 2.
    public var mul: AnalogyScore
}

/// An analogy benchmark: `a<TAB>b<TAB>c<TAB>d` lines ("a is to b as c is to d"); lines `: name` start sections.
public struct AnalogyBenchmark: Sendable {
    /// The file it was read from.
    public let path: String
    /// Questions in file order.
    public let questions: [[String]]
    /// Section index of each question.
    public let sectionOf: [Int]
    /// Section names ("" when the file has none).
    public let sections: [String]

    /// Reads a benchmark (tab- or space-separated; blank and `#` lines skipped). A section line needs a name;
    /// a file without questions is an error.
    public init(path: String) throws {
        self.path = path
        var questions: [[String]] = [], sectionOf: [Int] = [], sections: [String] = []
        for (n, line, fields) in try benchmarkLines(path) {
            if line.hasPrefix(":") {
                let name = line.dropFirst().trimmingBlanks()
                guard !name.isEmpty else {
                    throw EvaluationError.malformed(path: path, line: n, reason: "a section line needs a name (': name')")
                }
                sections.append(name)
                continue
            }
            guard fields.count == 4 else {
                throw EvaluationError.malformed(path: path, line: n, reason: "expected a<TAB>b<TAB>c<TAB>d, found \(fields.count) field\(fields.count == 1 ? "" : "s")")
            }
            if sections.isEmpty { sections.append("") }
            questions.append(fields.map(String.init))
            sectionOf.append(sections.count - 1)
        }
        guard !questions.isEmpty else {
            throw EvaluationError.empty(path: path, expected: "no questions (expected a<TAB>b<TAB>c<TAB>d lines)")
        }
        self.questions = questions
        self.sectionOf = sectionOf
        self.sections = sections
    }

    /// Answers every question among the `restrict` most frequent words (0: all), 3CosAdd and 3CosMul,
    /// excluding a, b and c from the answers. Queries go through SGEMM in batches.
    ///
    /// - Returns: the whole file first (`all`), then each named section.
    public func evaluate(_ embeddings: Embeddings, restrict: Int) -> [AnalogySection] {
        let n = restrict > 0 ? min(restrict, embeddings.tokens.count) : embeddings.tokens.count
        let d = embeddings.dimension
        var unit = Matrix(rows: n, columns: d, values: Array(embeddings.vectors.values[0..<(n * d)]))
        unit.normalizeRows()
        var index = [String: Int](minimumCapacity: n)
        for i in 0..<n where index[embeddings.tokens[i]] == nil { index[embeddings.tokens[i]] = i }
        var covered: [(question: Int, ids: [Int])] = []
        for (q, words) in questions.enumerated() {
            let ids = words.compactMap { index[$0] }
            if ids.count == 4 { covered.append((q, ids)) }
        }
        var addCorrect = [Bool](repeating: false, count: questions.count)
        var mulCorrect = [Bool](repeating: false, count: questions.count)
        let batch = 256
        var queries = [Float](repeating: 0, count: 3 * batch * d)
        var scores = [Float](repeating: 0, count: 3 * batch * n)
        var start = 0
        while start < covered.count {
            let count = min(batch, covered.count - start)
            // Rows 3q, 3q+1, 3q+2 of `queries` are the unit vectors of a, b, c of question q.
            for q in 0..<count {
                for role in 0..<3 {
                    let id = covered[start + q].ids[role]
                    for k in 0..<d { queries[(3 * q + role) * d + k] = unit.values[id * d + k] }
                }
            }
            unit.values.withUnsafeBufferPointer { w in
                queries.withUnsafeBufferPointer { x in
                    scores.withUnsafeMutableBufferPointer { s in
                        BLAS.sgemm(transposeB: .transposed, m: 3 * count, n: n, k: d, a: x.baseAddress!, lda: d,
                                   b: w.baseAddress!, ldb: d, c: s.baseAddress!, ldc: n)
                    }
                }
            }
            scores.withUnsafeBufferPointer { s in
                for q in 0..<count {
                    let ids = covered[start + q].ids
                    let sa = s.baseAddress! + 3 * q * n, sb = sa + n, sc = sb + n
                    var bestAdd = -Float.infinity, bestAddID = -1
                    var bestMul = -Float.infinity, bestMulID = -1
                    for w in 0..<n where w != ids[0] && w != ids[1] && w != ids[2] {
                        let add = sb[w] - sa[w] + sc[w]
                        if add > bestAdd { bestAdd = add; bestAddID = w }
                        let mul = ((sb[w] + 1) / 2) * ((sc[w] + 1) / 2) / ((sa[w] + 1) / 2 + 0.001)
                        if mul > bestMul { bestMul = mul; bestMulID = w }
                    }
                    addCorrect[covered[start + q].question] = bestAddID == ids[3]
                    mulCorrect[covered[start + q].question] = bestMulID == ids[3]
                }
            }
            start += count
        }
        var isCovered = [Bool](repeating: false, count: questions.count)
        for c in covered { isCovered[c.question] = true }
        func section(_ name: String, _ members: [Int]) -> AnalogySection {
            let coveredCount = members.filter { isCovered[$0] }.count
            func score(_ correct: [Bool]) -> AnalogyScore {
                let c = members.filter { correct[$0] }.count
                return AnalogyScore(correct: c, accuracyAll: members.isEmpty ? 0 : Double(c) / Double(members.count),
                                    accuracyCovered: coveredCount == 0 ? 0 : Double(c) / Double(coveredCount))
            }
            return AnalogySection(name: name, questions: members.count, covered: coveredCount,
                                  add: score(addCorrect), mul: score(mulCorrect))
        }
        var result = [section("all", Array(questions.indices))]
        if sections.count > 1 || sections.first.map({ !$0.isEmpty }) == true {
            for (s, name) in sections.enumerated() {
                result.append(section(name, questions.indices.filter { sectionOf[$0] == s }))
            }
        }
        return result
    }
}
