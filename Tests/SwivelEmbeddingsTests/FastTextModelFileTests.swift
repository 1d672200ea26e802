import Foundation
import SwivelIO
import SwivelLinearAlgebra
import SwivelTestSupport
import SwivelText
import Testing
@testable import SwivelEmbeddings

/// N-grams and buckets from gensim 4.4.0, an implementation independent of ours: `compute_ngrams_bytes(word, minn,
/// maxn)` (decoded; fastText's order) and `ft_ngram_hashes(word, minn, maxn, 2000000)`, with buckets 2000000.
private let gensimNgrams: [(word: String, minN: Int, maxN: Int, ngrams: [String], buckets: [Int32])] = [
    ("where", 3, 6,
     ["<wh", "<whe", "<wher", "<where", "whe", "wher", "where", "where>", "her", "here", "here>", "ere", "ere>", "re>"],
     [167652, 989715, 1526707, 1071586, 420941, 312621, 969176, 121234, 1473420, 1540811, 114991, 1529033, 1568469, 867498]),
    ("swivels", 3, 6,   // longer than maxn
     ["<sw", "<swi", "<swiv", "<swive", "swi", "swiv", "swive", "swivel", "wiv", "wive", "wivel", "wivels", "ive", "ivel",
      "ivels", "ivels>", "vel", "vels", "vels>", "els", "els>", "ls>"],
     [1464509, 391228, 1050494, 1113473, 1934514, 1121676, 644683, 927333, 1451681, 1723660, 989600, 216233, 1164969,
      388895, 1745284, 986830, 1323896, 1987665, 837693, 1656629, 1779025, 756194]),
    ("naïve", 3, 6,
     ["<na", "<naï", "<naïv", "<naïve", "naï", "naïv", "naïve", "naïve>", "aïv", "aïve", "aïve>", "ïve", "ïve>", "ve>"],
     [1806890, 1907692, 878190, 933201, 1590546, 1719404, 832043, 156687, 356832, 1223007, 1505331, 1711570, 1788548, 1088654]),
    ("Ünïcödé", 3, 6,
     ["<Ün", "<Ünï", "<Ünïc", "<Ünïcö", "Ünï", "Ünïc", "Ünïcö", "Ünïcöd", "nïc", "nïcö", "nïcöd", "nïcödé", "ïcö", "ïcöd",
      "ïcödé", "ïcödé>", "cöd", "cödé", "cödé>", "ödé", "ödé>", "dé>"],
     [1684534, 84736, 685657, 1764872, 997750, 417679, 1919958, 1391798, 1574376, 1520389, 1366323, 772219, 1211313,
      1855183, 774839, 1106219, 1602193, 802349, 193129, 1282968, 565842, 1395423]),
    ("日本語", 3, 6, ["<日本", "<日本語", "<日本語>", "日本語", "日本語>", "本語>"], [758587, 4581, 524609, 35559, 928923, 1674355]),
    ("🙂", 3, 6, ["<🙂>"], [1851421]),
    ("a", 3, 6, ["<a>"], [1087600]),
    // 1-grams: the boundary markers alone are not n-grams.
    ("ab", 1, 2, ["<a", "a", "ab", "b", "b>"], [1008750, 2220, 271946, 335077, 1146561]),
    ("é", 1, 2, ["<é", "é", "é>"], [36627, 1043777, 1996781]),
]

/// A seeded generator (SplitMix64) for models that are random but the same on every run.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Words of the random test model, and words outside it (sharing some n-grams with it).
private let knownWords = ["naïve", "Ünïcödé", "日本語", "🙂", "a", "swivels", "where", "the", "of", "embedding",
                          "vector", "matrix", "x", "ab", "word", "wörter", "über", "東京", "fast", "text"]
private let unknownWords = ["naïvety", "日本", "swivel", "q", "wherever", "zzzzzzzzzzzz", "éé"]

/// A model of `knownWords`, dimension 8, 5000 buckets of which about half have rows, random values.
private func randomModel(seed: UInt64 = 7) -> FastTextModel {
    var random = SeededGenerator(state: seed)
    let d = 8, buckets = 5000, n = knownWords.count
    func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &random) } }
    let bucketIDs = (0..<Int32(buckets)).filter { _ in Bool.random(using: &random) }
    return FastTextModel(
        words: knownWords, counts: (0..<n).map { _ in Int64.random(in: 1...1000, using: &random) },
        scheme: SubwordScheme(minN: 3, maxN: 6, buckets: buckets),
        wordRows: Matrix(rows: n, columns: d, values: values(n * d)),
        bucketIDs: bucketIDs, bucketRows: Matrix(rows: bucketIDs.count, columns: d, values: values(bucketIDs.count * d)),
        outputRows: Matrix(rows: n, columns: d, values: values(n * d)),
        window: 5, epochs: 3, minCount: 1, negatives: 5)
}

/// Programs the interoperability tests run when they are installed.
private enum ExternalTools {
    static let gensim: Bool = (try? TemporaryFile.run("/usr/bin/env", ["python3", "-c", "import gensim"]).status) == 0
    static let fastText: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin")
        .split(separator: ":").map { "\($0)/fasttext" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Whether `a` and `b` agree element by element within `relative` of the larger magnitude.
private func agree(_ a: [Float], _ b: [Float], relative: Float) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= relative * max(abs($0), abs($1)) + 1e-12 }
}

/// Runs `fasttext print-word-vectors` on `words` and returns each word's printed vector (5 significant digits).
private func fastTextVectors(_ model: String, _ words: [String]) throws -> [String: [Float]] {
    let r = try TemporaryFile.run(ExternalTools.fastText!, ["print-word-vectors", model], stdin: words.joined(separator: "\n") + "\n")
    try #require(r.status == 0, "\(r.stderr)")
    var vectors: [String: [Float]] = [:]
    for line in r.stdout.split(separator: "\n") {
        let fields = line.split(separator: " ")
        vectors[String(fields[0])] = fields.dropFirst().map { Float($0)! }
    }
    return vectors
}

/// gensim's vocabulary of the `.bin` at `path` and its vector of each of `words`, once as `load_facebook_model` and
/// once as `load_facebook_vectors` loads it (the loader's name, the word, the vector).
private func gensimVectors(_ path: String, _ words: [String]) throws -> (vocabulary: [String], vectors: [(String, String, [Float])]) {
    let wordsFile = try TemporaryFile.write(words.joined(separator: "\n") + "\n")
    let script = """
        import sys
        from gensim.models.fasttext import load_facebook_model, load_facebook_vectors
        words = open(sys.argv[2], encoding="utf-8").read().split("\\n")[:-1]
        model = load_facebook_model(sys.argv[1])
        print("vocabulary\\t" + "\\t".join(model.wv.index_to_key))
        for name, vectors in (("model", model.wv), ("vectors", load_facebook_vectors(sys.argv[1]))):
            for word in words:
                print(name + "\\t" + word + "\\t" + " ".join(repr(float(x)) for x in vectors[word]))
        """
    let r = try TemporaryFile.run("/usr/bin/env", ["python3", "-c", script, path, wordsFile])
    try #require(r.status == 0, "\(r.stderr)")
    var vocabulary: [String] = [], vectors: [(String, String, [Float])] = []
    for line in r.stdout.split(separator: "\n") {
        let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        if fields[0] == "vocabulary" {
            vocabulary = Array(fields.dropFirst())
        } else {
            vectors.append((fields[0], fields[1], fields[2].split(separator: " ").map { Float($0)! }))
        }
    }
    return (vocabulary, vectors)
}

@Suite struct FastTextModelFileTests {
    @Test func ngramsAndBucketsEqualGensims() {
        for (word, minN, maxN, ngrams, buckets) in gensimNgrams {
            let scheme = SubwordScheme(minN: minN, maxN: maxN, buckets: 2_000_000)
            #expect(scheme.ngrams(of: word) == ngrams, "\(word)")
            #expect(scheme.buckets(of: word) == buckets, "\(word)")
        }
        #expect(Array("naïve".utf8).count == 6 && Array("Ünïcödé".utf8).count == 11, "literals must be precomposed (NFC)")
    }

    /// FNV-1a of "<a>" by hand: h = 2166136261; '<' (0x3C): (h ^ 0x3C) = 2166136313, times 16777619 mod 2^32 =
    /// 957132539; 'a' (0x61): 957132442, times the prime = 1761008750; '>' (0x3E): 1761008720, times the prime =
    /// 2359087600; mod 2,000,000 = 1087600. A byte of 0x80 or above is XORed in sign-extended: 0xC3 (the first
    /// byte of "ï") as 0xFFFFFFC3.
    @Test func hashWorkedByHand() {
        #expect(SubwordScheme.hash(Array("<a>".utf8)) == 2_359_087_600)
        #expect(SubwordScheme.hash([0xC3]) == (UInt32(2_166_136_261) ^ 0xFFFF_FFC3) &* 16_777_619)
    }

    @Test func vectorsAreMeansOfRowsWithAbsentBucketsCountedAsZero() throws {
        let scheme = SubwordScheme(minN: 3, maxN: 3, buckets: 1000)
        let ab = scheme.buckets(of: "ab"), abc = scheme.buckets(of: "abc")   // "<ab", "ab>"; "<ab", "abc", "bc>"
        try #require(ab.count == 2 && abc.count == 3 && Set(ab + abc).count == 4)
        let model = FastTextModel(
            words: ["ab", "</s>"], counts: [3, 1], scheme: scheme,
            wordRows: Matrix(rows: 2, columns: 2, values: [3, 6, 5, 7]),
            bucketIDs: [ab[0]], bucketRows: Matrix(rows: 1, columns: 2, values: [3, 0]),
            outputRows: Matrix(rows: 2, columns: 2), window: 5, epochs: 1, minCount: 1, negatives: 5)
        #expect(model.vector(of: "ab") == [2, 2])       // ([3, 6] + [3, 0] + absent "ab>") / 3
        #expect(model.vector(of: "abc") == [1, 0])      // ([3, 0] + absent + absent) / 3
        #expect(model.vector(of: "</s>") == [5, 7])     // fastText gives the end-of-line token no n-grams
        #expect(model.vector(of: "") == [0, 0])         // "<>" has no 3-grams
    }

    /// fastText tells words apart by their bytes: a decomposed spelling of a known word is another, unknown word,
    /// though Swift's `String` calls the two equal.
    @Test func wordsAreLookedUpByTheirBytes() {
        let model = FastTextModel(
            words: ["\u{E9}"], counts: [1], scheme: SubwordScheme(minN: 3, maxN: 3, buckets: 100),
            wordRows: Matrix(rows: 1, columns: 2, values: [4, 4]), bucketIDs: [], bucketRows: Matrix(rows: 0, columns: 2),
            outputRows: Matrix(rows: 1, columns: 2), window: 5, epochs: 1, minCount: 1, negatives: 5)
        #expect(model.vector(of: "\u{E9}") == [2, 2])          // ([4, 4] + absent "<é>") / 2
        #expect(model.vector(of: "e\u{301}") == [0, 0])        // unknown; its n-gram buckets have no rows
    }

    @Test func roundTripIsExact() throws {
        let model = randomModel()
        let path = TemporaryFile.path(".bin")
        try FastTextModelFile.write(model, to: path)
        #expect(try FastTextModelFile.read(from: path) == model)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let dictionary = knownWords.reduce(0) { $0 + $1.utf8.count + 10 }
        #expect(size == 8 + 56 + 28 + dictionary + 17 + (20 + 5000) * 8 * 4 + 17 + 20 * 8 * 4)
    }

    @Test func damagedFilesGiveTypedErrors() throws {
        let path = TemporaryFile.path(".bin")
        try FastTextModelFile.write(randomModel(), to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        func damaged(_ change: (inout [UInt8]) -> Void) throws -> String {
            var copy = bytes
            change(&copy)
            return try TemporaryFile.write(copy, suffix: ".bin")
        }
        let magic = try damaged { $0[0] ^= 0x01 }
        #expect(throws: FastTextModelError.badMagic(path: magic, found: 793_712_314 ^ 1)) { try FastTextModelFile.read(from: magic) }
        let version = try damaged { $0[4] = 11 }
        #expect(throws: FastTextModelError.unsupportedVersion(path: version, version: 11)) { try FastTextModelFile.read(from: version) }
        let short = try damaged { $0.removeLast(4) }
        #expect(throws: FastTextModelError.truncated(path: short, needed: Int64(bytes.count), found: Int64(bytes.count - 4))) {
            try FastTextModelFile.read(from: short)
        }
        let inDictionary = try damaged { $0.removeLast($0.count - 100) }
        #expect(throws: FastTextModelError.self) { try FastTextModelFile.read(from: inDictionary) }
        let quantInput = 8 + 56 + 28 + knownWords.reduce(0) { $0 + $1.utf8.count + 10 }
        let quantized = try damaged { $0[quantInput] = 1 }
        #expect(throws: FastTextModelError.quantized(path: quantized)) { try FastTextModelFile.read(from: quantized) }
        let extra = try damaged { $0.append(0) }
        #expect(throws: FastTextModelError.corrupt(path: extra, reason: "1 unexpected bytes after the output matrix")) {
            try FastTextModelFile.read(from: extra)
        }
        // Any damage is read or refused with a typed error, never a crash.
        let fuzzed = TemporaryFile.path(".bin")
        for mutated in Mutations(of: bytes, seed: 12, defaultCount: 300, name: "fasttext-bin") {
            try AtomicFileWriter.write(mutated, to: fuzzed)
            do { _ = try FastTextModelFile.read(from: fuzzed) } catch is FastTextModelError {} catch is FileError {}
        }
    }

    @Test func wordsFastTextCannotStoreAreRefused() throws {
        for (word, reason) in [("a b", "contains white space (byte 0x20)"), ("a\tb", "contains white space (byte 0x09)"),
                               ("a\0b", "contains a NUL byte"), ("", "is empty")] {
            var model = randomModel()
            model.words[3] = word
            #expect(throws: FastTextModelError.unstorableWord(word: word, reason: reason)) {
                try FastTextModelFile.write(model, to: TemporaryFile.path(".bin"))
            }
        }
        var repeated = randomModel()
        repeated.words[5] = repeated.words[0]
        #expect(throws: FastTextModelError.duplicateWord(word: "naïve")) { try FastTextModelFile.write(repeated, to: TemporaryFile.path()) }
        var uncounted = randomModel()
        uncounted.counts[2] = 0
        #expect(throws: FastTextModelError.self) { try FastTextModelFile.write(uncounted, to: TemporaryFile.path()) }
        var unsorted = randomModel()
        unsorted.bucketIDs.swapAt(0, 1)
        #expect(throws: FastTextModelError.self) { try FastTextModelFile.write(unsorted, to: TemporaryFile.path()) }
    }

    @Test(.enabled(if: ExternalTools.gensim, "gensim is not installed (pip install gensim): skipping the gensim check"))
    func gensimLoadsTheModelWithTheSameVectors() throws {
        let model = randomModel()
        let path = TemporaryFile.path(".bin")
        try FastTextModelFile.write(model, to: path)
        let queries = Array(knownWords.prefix(5)) + Array(unknownWords.prefix(5))
        let (vocabulary, vectors) = try gensimVectors(path, queries)
        #expect(vocabulary == knownWords)
        for (loader, word, theirs) in vectors {
            #expect(agree(model.vector(of: word), theirs, relative: 1e-5), "\(loader) \(word)")
        }
        #expect(vectors.count == 2 * queries.count)
    }

    @Test(.enabled(if: ExternalTools.fastText != nil, "the fasttext command is not installed: skipping the fastText check"))
    func fastTextPrintsTheSameVectors() throws {
        let model = randomModel()
        let path = TemporaryFile.path(".bin")
        try FastTextModelFile.write(model, to: path)
        let queries = Array(knownWords.prefix(5)) + Array(unknownWords.prefix(5))
        let printed = try fastTextVectors(path, queries)
        for word in queries {
            let theirs = try #require(printed[word], "fasttext printed no vector for \(word)")
            #expect(agree(model.vector(of: word), theirs, relative: 1e-4), "\(word)")
        }
    }

    /// A model fastText trained itself: read, its vectors equal what fastText prints, and written back it is the
    /// same file byte for byte (same defaults, all bucket rows non-zero).
    @Test(.enabled(if: ExternalTools.fastText != nil, "the fasttext command is not installed: skipping the fastText check"))
    func fastTextsOwnModelsAreReadAndRewrittenIdentically() throws {
        let vocabulary = ["naïve", "日本語", "swivel", "fast", "text", "word", "vector", "über", "🙂", "a"]
        let corpus = GeneratedCorpus.text(lines: 300, wordsPerLine: 8, seed: 3) { _, draw in vocabulary[draw % vocabulary.count] }
        let input = try TemporaryFile.write(corpus, suffix: ".txt")
        let output = TemporaryFile.path()
        let r = try TemporaryFile.run(ExternalTools.fastText!, [
            "skipgram", "-input", input, "-output", output, "-dim", "8", "-minCount", "1", "-epoch", "1",
            "-bucket", "2000", "-minn", "2", "-maxn", "4", "-thread", "1", "-verbose", "0"])
        try #require(r.status == 0, "\(r.stderr)")
        let model = try FastTextModelFile.read(from: output + ".bin")
        #expect(Set(model.words) == Set(vocabulary + ["</s>"]))
        #expect(model.scheme == SubwordScheme(minN: 2, maxN: 4, buckets: 2000) && model.dimension == 8)
        let queries = vocabulary + ["</s>", "naïvety", "日本", "zz", "q"]
        let printed = try fastTextVectors(output + ".bin", queries)
        for word in queries {
            let theirs = try #require(printed[word], "fasttext printed no vector for \(word)")
            #expect(agree(model.vector(of: word), theirs, relative: 1e-4), "\(word)")
        }
        let rewritten = TemporaryFile.path(".bin")
        try FastTextModelFile.write(model, to: rewritten)
        #expect(FileManager.default.contentsEqual(atPath: output + ".bin", andPath: rewritten))
    }

    /// Random subword vectors (10 words, 400 buckets of which some have vectors, d 6) as swivel would load them.
    private func subwordEmbeddings() -> Embeddings {
        var random = SeededGenerator(state: 11)
        let words = ["walk", "walked", "walking", "talk", "naïve", "日本語", "a", "swim", "swam", "swimming"]
        let scheme = SubwordScheme(minN: 2, maxN: 4, buckets: 400)
        let d = 6
        let ids = Array(Set(words.flatMap(scheme.buckets(of:)))).sorted().enumerated().filter { $0.offset % 5 != 0 }.map(\.element)
        func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &random) } }
        var embeddings = Embeddings(tokens: words, vectors: Matrix(rows: words.count, columns: d, values: values(words.count * d)))
        embeddings.subwords = SubwordVectors(scheme: scheme, bucketIDs: ids, vectors: Matrix(rows: ids.count, columns: d, values: values(ids.count * d)))
        return embeddings
    }

    @Test func exportedModelsGiveSwivelsVectorsForSeenAndUnseenWords() throws {
        let embeddings = subwordEmbeddings()
        let model = try FastTextModel(embeddings: embeddings, counts: (1...10).map(Int64.init),
                                      outputRows: Matrix(rows: 10, columns: 6), path: "model")
        let path = TemporaryFile.path(".bin")
        try FastTextModelFile.write(model, to: path)
        let read = try FastTextModelFile.read(from: path)
        for word in embeddings.tokens + ["walks", "talking", "naïvety", "日本", "swims"] {
            let ours = try #require(embeddings.vector(of: word)).values
            #expect(agree(read.vector(of: word), ours, relative: 1e-5), "\(word)")
        }
        // Read back as vectors, the model is the same embeddings.
        let loaded = try Embeddings.load(path)
        #expect(loaded.tokens == embeddings.tokens && loaded.subwords?.bucketIDs == embeddings.subwords?.bucketIDs)
        #expect(agree(try #require(loaded.vector(of: "walks")).values, try #require(embeddings.vector(of: "walks")).values, relative: 1e-6))
        // Restricted to a smaller vocabulary, the words left out become unseen: their n-grams' mean, fastText's rule.
        let restricted = loaded.restricted(to: ["walk", "swim"])
        #expect(restricted.tokens == ["walk", "swim"] && restricted.vector(of: "walk")?.seen == true)
        let walked = try #require(restricted.vector(of: "walked"))
        let walkedUnseen = try #require(embeddings.subwords?.vector(ofUnseen: "walked"))
        #expect(!walked.seen && agree(walked.values, walkedUnseen, relative: 1e-6))
        // Vectors without n-grams cannot be written in this format.
        var plain = embeddings
        plain.subwords = nil
        #expect(throws: FastTextConversionError.noSubwords(path: "model")) {
            try FastTextModel(embeddings: plain, counts: (1...10).map(Int64.init), outputRows: Matrix(rows: 10, columns: 6), path: "model")
        }
    }

    @Test(.enabled(if: ExternalTools.gensim, "gensim is not installed (pip install gensim): skipping the gensim check"))
    func gensimGivesSwivelsVectorsForSeenAndUnseenWords() throws {
        let embeddings = subwordEmbeddings()
        let path = TemporaryFile.path(".bin")
        try FastTextModelFile.write(try FastTextModel(embeddings: embeddings, counts: (1...10).map(Int64.init),
                                                      outputRows: Matrix(rows: 10, columns: 6), path: "model"), to: path)
        let queries = embeddings.tokens + ["walks", "talking", "naïvety", "日本", "swims"]
        let (_, vectors) = try gensimVectors(path, queries)
        for (loader, word, theirs) in vectors {
            let ours = try #require(embeddings.vector(of: word)).values
            #expect(agree(ours, theirs, relative: 1e-5), "\(loader) \(word)")
        }
        #expect(vectors.count == 2 * queries.count)
    }
}
