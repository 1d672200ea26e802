import SwivelLinearAlgebra
import SwivelText

/// A model in fastText's terms, ready to write as a `.bin`: a dictionary of words with their corpus counts, the
/// input matrix (`words.count + scheme.buckets` rows of dimension `d`: the words' own rows, then one row per
/// n-gram bucket) and the output matrix (`words.count x d`).
///
/// Only the bucket rows in `bucketIDs` are held; every other bucket row is zero. A word's vector is fastText's
/// (`FastText::getWordVector`): the mean of its input rows, see ``vector(of:)``.
public struct FastTextModel: Sendable, Equatable {
    /// The words, in dictionary order (row `i` of `wordRows` and `outputRows` is `words[i]`'s).
    public var words: [String] { didSet { index = Self.index(of: words) } }
    /// One corpus count per word (fastText's dictionary stores them; gensim's loader needs each to be at least 1).
    public var counts: [Int64]
    /// How words are cut into n-grams and hashed: `minN`, `maxN`, `buckets`.
    public var scheme: SubwordScheme
    /// `words.count x d`: the input rows of the words themselves.
    public var wordRows: Matrix
    /// The buckets that have rows, ascending and unique, each in `0..<scheme.buckets`.
    public var bucketIDs: [Int32]
    /// `bucketIDs.count x d`: row `k` is bucket `bucketIDs[k]`'s input row.
    public var bucketRows: Matrix
    /// `words.count x d`: fastText's output matrix (the context vectors negative sampling trained).
    public var outputRows: Matrix
    /// Training settings written into the file's header (fastText's `-ws`, `-epoch`, `-minCount`, `-neg`).
    public var window: Int, epochs: Int, minCount: Int, negatives: Int
    /// Row of each word, keyed by its UTF-8 bytes: fastText tells words apart byte by byte, where Swift's
    /// `String` equality would merge canonically equivalent spellings (precomposed and decomposed "é").
    private var index: [[UInt8]: Int]

    /// fastText's end-of-line token, which fastText gives no n-grams (`Dictionary::initNgrams`).
    static let endOfSentence = Array("</s>".utf8)

    /// A model from its parts; shapes are checked when it is written (``validate()``).
    public init(words: [String], counts: [Int64], scheme: SubwordScheme, wordRows: Matrix,
                bucketIDs: [Int32], bucketRows: Matrix, outputRows: Matrix,
                window: Int, epochs: Int, minCount: Int, negatives: Int) {
        self.words = words
        self.counts = counts
        self.scheme = scheme
        self.wordRows = wordRows
        self.bucketIDs = bucketIDs
        self.bucketRows = bucketRows
        self.outputRows = outputRows
        self.window = window
        self.epochs = epochs
        self.minCount = minCount
        self.negatives = negatives
        index = Self.index(of: words)
    }

    private static func index(of words: [String]) -> [[UInt8]: Int] {
        // A repeated word maps to its last row, as in fastText's own dictionary (``validate()`` refuses repeats).
        Dictionary(words.enumerated().map { (Array($1.utf8), $0) }, uniquingKeysWith: { _, later in later })
    }

    /// Vector dimension `d`.
    public var dimension: Int { wordRows.columns }

    /// fastText's vector of any word, `d` floats: the mean of the word's own row (when it is in `words`) and the
    /// rows of its n-gram buckets, in fastText's order and float arithmetic. A bucket without a row counts as a
    /// zero row, still counted in the mean, as fastText's dense matrix would. A word with no rows at all (unknown
    /// and without n-grams) gets zeros. `</s>` gets no n-grams, as in fastText (gensim does give it n-grams).
    /// The model's shapes must be consistent (as ``validate()`` checks).
    public func vector(of word: String) -> [Float] {
        let d = dimension
        var sum = [Float](repeating: 0, count: d)
        var rows = 0
        let bytes = Array(word.utf8)
        wordRows.values.withUnsafeBufferPointer { values in
            if let i = index[bytes] {
                for j in 0..<d { sum[j] += values[i * d + j] }
                rows += 1
            }
        }
        if scheme.buckets > 0 && bytes != Self.endOfSentence {
            bucketRows.values.withUnsafeBufferPointer { values in
                for bucket in scheme.buckets(of: word) {
                    rows += 1
                    guard let k = bucketRow(bucket) else { continue }
                    for j in 0..<d { sum[j] += values[k * d + j] }
                }
            }
        }
        guard rows > 0 else { return sum }
        let scale = Float(1.0 / Double(rows))   // fastText's `vec.mul(1.0 / ngrams.size())`
        return sum.map { $0 * scale }
    }

    /// Row of `bucket` in `bucketRows`, or nil when it has none (binary search in the ascending `bucketIDs`).
    func bucketRow(_ bucket: Int32) -> Int? { SubwordVectors.position(of: bucket, in: bucketIDs) }

    /// Throws why the model cannot be written as a fastText `.bin`: words that are empty or hold NUL or white
    /// space, repeated words, counts below 1, shapes that disagree, bucket ids out of order or range, settings
    /// that do not fit fastText's 32-bit header fields.
    public func validate() throws {
        let n = words.count, d = dimension
        func invalid(_ reason: String) -> FastTextModelError { .invalidModel(reason: reason) }
        guard n > 0 else { throw invalid("a fastText model needs at least one word") }
        guard d > 0 else { throw invalid("vectors need at least one dimension") }
        guard counts.count == n, wordRows.rows == n, outputRows.rows == n, outputRows.columns == d else {
            throw invalid("\(n) words but \(counts.count) counts, \(wordRows.rows) word rows and "
                          + "\(outputRows.rows) x \(outputRows.columns) output rows (need \(n) x \(d))")
        }
        guard bucketRows.rows == bucketIDs.count, bucketRows.columns == d else {
            throw invalid("\(bucketIDs.count) bucket ids but \(bucketRows.rows) x \(bucketRows.columns) bucket rows (need dimension \(d))")
        }
        if let problem = scheme.problem, !(scheme.maxN == 0 && scheme.buckets == 0) {
            throw invalid("subword scheme: \(problem)")
        }
        guard n + scheme.buckets <= Int(Int32.max) else {
            throw invalid("\(n) words and \(scheme.buckets) buckets exceed fastText's 32-bit row ids")
        }
        for (k, id) in bucketIDs.enumerated() where id < 0 || Int(id) >= scheme.buckets || (k > 0 && id <= bucketIDs[k - 1]) {
            throw invalid("bucket id \(id) at position \(k) is out of order or outside 0..<\(scheme.buckets)")
        }
        for (name, value) in [("window", window), ("epochs", epochs), ("minCount", minCount), ("negatives", negatives)]
        where !(0...Int(Int32.max)).contains(value) {
            throw invalid("\(name) \(value) does not fit fastText's header (0 to \(Int32.max))")
        }
        var seen = Set<[UInt8]>(minimumCapacity: n)
        var total: Int64 = 0
        for (word, count) in zip(words, counts) {
            let bytes = Array(word.utf8)
            if bytes.isEmpty { throw FastTextModelError.unstorableWord(word: word, reason: "is empty") }
            if let byte = bytes.first(where: FastTextModelFile.isSeparator) {
                throw FastTextModelError.unstorableWord(word: word, reason: byte == 0
                    ? "contains a NUL byte" : "contains white space (byte 0x\(byte < 16 ? "0" : "")\(String(byte, radix: 16, uppercase: true)))")
            }
            guard seen.insert(bytes).inserted else { throw FastTextModelError.duplicateWord(word: word) }
            guard count >= 1 else { throw invalid("the word \"\(word)\" has count \(count); counts must be at least 1") }
            let (sum, overflow) = total.addingReportingOverflow(count)
            guard !overflow else { throw invalid("the word counts overflow a 64-bit token total") }
            total = sum
        }
    }
}
