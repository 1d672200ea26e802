import SwivelIO
import SwivelLinearAlgebra

/// Errors reading an evaluation file.
public enum EvaluationError: Error, CustomStringConvertible, Equatable {
    /// A line does not have the expected fields.
    case malformed(path: String, line: Int, reason: String)

    public var description: String {
        switch self {
        case let .malformed(path, line, reason): return "\(path):\(line): \(reason)"
        }
    }
}

/// Result of a word-similarity benchmark.
public struct SimilarityResult: Codable, Equatable, Sendable {
    /// The benchmark file.
    public var file: String
    /// Pairs in the file.
    public var pairs: Int
    /// Pairs with both words in the vocabulary (the ones scored).
    public var covered: Int
    /// Spearman's rank correlation (ties get their average rank) between human scores and cosine similarity.
    public var spearman: Double
    /// Pearson's correlation.
    public var pearson: Double
    /// The half of the pairs with the rarer words (when word frequencies were given).
    public var rare: SimilarityHalf?
    /// The half with the more frequent words.
    public var frequent: SimilarityHalf?
}

/// Spearman's correlation on one half of a similarity benchmark split by word frequency.
public struct SimilarityHalf: Codable, Equatable, Sendable {
    /// Pairs in this half (with both words in the frequency list).
    public var pairs: Int
    /// Of those, pairs with both words in the vectors.
    public var covered: Int
    /// Spearman's correlation on the covered pairs.
    public var spearman: Double
    /// Smallest and largest corpus count of the rarer word of a pair in this half.
    public var minCount: Int64
    /// Largest such count.
    public var maxCount: Int64
}

/// A word-similarity benchmark: `word1<TAB>word2<TAB>score` lines (WordSim-353 style).
public struct SimilarityBenchmark: Sendable {
    /// The file it was read from.
    public let path: String
    /// The pairs and their human scores.
    public let pairs: [(String, String, Double)]

    /// Reads a benchmark; blank lines and lines starting with `#` are skipped.
    public init(path: String) throws {
        self.path = path
        var pairs: [(String, String, Double)] = []
        for (n, line) in try FileReader.readText(path).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "\r" })
            guard fields.count == 3, let score = Double(fields[2]) else {
                throw EvaluationError.malformed(path: path, line: n + 1, reason: "expected word1<TAB>word2<TAB>score")
            }
            pairs.append((String(fields[0]), String(fields[1]), score))
        }
        self.pairs = pairs
    }

    /// Scores `embeddings` on the pairs whose words are both known.
    ///
    /// With `frequencies` (corpus counts, e.g. a prep's `row_vocab.txt`), the pairs whose words both have a
    /// count are also split in two halves by the count of their rarer word (the rarer half first; ties by
    /// file order), and each half is scored on its own. The split depends on the corpus only, not on the
    /// vectors, so that several tools are compared on the same pairs.
    public func evaluate(_ embeddings: Embeddings, frequencies: [String: Int64]? = nil) -> SimilarityResult {
        let (human, model) = scores(embeddings, pairs: pairs)
        var result = SimilarityResult(file: path, pairs: pairs.count, covered: human.count,
                                      spearman: Statistics.pearson(Statistics.ranks(human), Statistics.ranks(model)),
                                      pearson: Statistics.pearson(human, model))
        if let frequencies {
            let counted = pairs.compactMap { pair -> ((String, String, Double), Int64)? in
                guard let a = frequencies[pair.0], let b = frequencies[pair.1] else { return nil }
                return (pair, min(a, b))
            }
            let ordered = counted.enumerated().sorted { ($0.element.1, $0.offset) < ($1.element.1, $1.offset) }.map(\.element)
            let half = ordered.count / 2
            func score(_ part: ArraySlice<((String, String, Double), Int64)>) -> SimilarityHalf {
                let (h, m) = scores(embeddings, pairs: part.map(\.0))
                return SimilarityHalf(pairs: part.count, covered: h.count,
                                      spearman: Statistics.pearson(Statistics.ranks(h), Statistics.ranks(m)),
                                      minCount: part.first?.1 ?? 0, maxCount: part.last?.1 ?? 0)
            }
            result.rare = score(ordered[..<half])
            result.frequent = score(ordered[half...])
        }
        return result
    }

    /// Human scores and cosine similarities of the pairs whose words are both in `embeddings`.
    private func scores(_ embeddings: Embeddings, pairs: [(String, String, Double)]) -> ([Double], [Double]) {
        var human: [Double] = [], model: [Double] = []
        let v = embeddings.vectors
        for (a, b, score) in pairs {
            guard let i = embeddings.id(of: a), let j = embeddings.id(of: b) else { continue }
            var dot = 0.0, na = 0.0, nb = 0.0
            for k in 0..<v.columns {
                let x = Double(v[i, k]), y = Double(v[j, k])
                dot += x * y; na += x * x; nb += y * y
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

    /// Pearson's correlation coefficient (NaN when fewer than two values or a constant series).
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let n = Double(x.count)
        guard x.count >= 2 else { return .nan }
        let mx = x.reduce(0, +) / n, my = y.reduce(0, +) / n
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for (a, b) in zip(x, y) {
            sxy += (a - mx) * (b - my); sxx += (a - mx) * (a - mx); syy += (b - my) * (b - my)
        }
        return sxy / (sxx * syy).squareRoot()
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

    /// Reads a benchmark (tab- or space-separated; blank and `#` lines skipped).
    public init(path: String) throws {
        self.path = path
        var questions: [[String]] = [], sectionOf: [Int] = [], sections: [String] = []
        for (n, line) in try FileReader.readText(path).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix(":") {
                sections.append(line.dropFirst().trimmingBlanks())
                continue
            }
            let fields = line.split(whereSeparator: { $0 == "\t" || $0 == " " || $0 == "\r" }).map(String.init)
            guard fields.count == 4 else {
                throw EvaluationError.malformed(path: path, line: n + 1, reason: "expected a<TAB>b<TAB>c<TAB>d")
            }
            if sections.isEmpty { sections.append("") }
            questions.append(fields)
            sectionOf.append(sections.count - 1)
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
