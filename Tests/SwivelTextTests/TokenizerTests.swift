import Testing
@testable import SwivelText
import SwivelTestSupport
import Foundation

/// The tokens of each line of `corpus`, as strings.
func lines(_ corpus: TokenizedCorpus) -> [[String]] {
    var result: [[String]] = [[]]
    for id in corpus.ids {
        if id == TokenizedCorpus.lineBreak { result.append([]) } else { result[result.count - 1].append(corpus.table.token(Int(id))) }
    }
    result.removeLast()
    return result
}

@Suite struct TokenizerTests {
    @Test func splitsOnASCIIWhiteSpaceAndKeepsLines() throws {
        var corpus = TokenizedCorpus()
        try Tokenizer().tokenize("the  cat\tsat\r\n\n  on the\u{0B}mat  \nend", into: &corpus)
        #expect(lines(corpus) == [["the", "cat", "sat"], ["on", "the", "mat"], ["end"]])
        #expect(corpus.tokenCount == 7)
        #expect(corpus.table.occurrences(of: Int(corpus.table.id(of: "the")!)) == 2)
    }

    @Test func lowercasesASCIIAndUnicode() throws {
        var corpus = TokenizedCorpus()
        try Tokenizer(options: TokenizerOptions(lowercase: true)).tokenize("The THE the Émile ÉMILE", into: &corpus)
        #expect(lines(corpus) == [["the", "the", "the", "émile", "émile"]])
        #expect(corpus.table.count == 2)
    }

    @Test func keepsCaseByDefault() throws {
        var corpus = TokenizedCorpus()
        try Tokenizer().tokenize("The the", into: &corpus)
        #expect(corpus.table.count == 2)
    }

    @Test func invalidUTF8NamesTheByteOffset() throws {
        let bytes: [UInt8] = Array("ok fine\nbad ".utf8) + [0xC3, 0x28] + Array(" x\n".utf8)
        let path = try TemporaryFile.write(bytes)
        var corpus = TokenizedCorpus()
        #expect(throws: CorpusError.invalidUTF8(path: path, byteOffset: 12)) {
            try Tokenizer().read(paths: [path], into: &corpus)
        }
    }

    @Test func utf8ValidatorRejectsOverlongsSurrogatesAndTruncation() {
        func check(_ bytes: [UInt8]) -> Int? { bytes.withUnsafeBytes { Tokenizer.firstInvalidUTF8($0) } }
        #expect(check(Array("héllo wörld €𝄞".utf8)) == nil)
        #expect(check([0x61, 0xC0, 0xAF]) == 1)        // overlong '/'
        #expect(check([0xED, 0xA0, 0x80]) == 0)        // surrogate U+D800
        #expect(check([0x61, 0x62, 0xE2, 0x82]) == 2)  // truncated €
        #expect(check([0xF4, 0x90, 0x80, 0x80]) == 0)  // above U+10FFFF
        #expect(check([0x80]) == 0)                    // lone continuation byte
    }

    @Test func readsFilesGzipAndLongLines() throws {
        // A line longer than the 4 MiB read chunk must still be one line.
        let long = String(repeating: "word ", count: 1_000_000)
        let path = try TemporaryFile.write(Array(("a b\n" + long + "\nc").utf8))
        var corpus = TokenizedCorpus()
        try Tokenizer().read(paths: [path], into: &corpus)
        let result = lines(corpus)
        #expect(result.count == 3)
        #expect(result[1].count == 1_000_000)
        #expect(result[2] == ["c"])
    }

    @Test func readsGzipInput() throws {
        let plain = try TemporaryFile.write("alpha beta\ngamma\n")
        let compressed = try TemporaryFile.run("/bin/gzip", ["-k", plain])
        #expect(compressed.status == 0)
        var corpus = TokenizedCorpus()
        try Tokenizer().read(paths: [plain + ".gz"], into: &corpus)
        #expect(lines(corpus) == [["alpha", "beta"], ["gamma"]])
    }
}

@Suite struct TokenTableTests {
    @Test func internsThroughGrowthAndGivesBackBytesCountsAndIDs() {
        // 50,000 distinct tokens (the slot array doubles from 1,024 to 131,072), including prefixes of one another
        // and the empty token; each interned k + 1 times in all, in interleaved passes.
        let tokens = [""] + (0..<50_000).map { "w\($0)" } + ["w1x", "w12y"]
        var table = TokenTable()
        var firstIDs: [Int32] = []
        for pass in 0..<3 {
            for (k, token) in tokens.enumerated() where pass <= k % 3 {
                var t = token
                let id = t.withUTF8 { table.intern(UnsafeRawBufferPointer($0)) }
                if pass == 0 { firstIDs.append(id) } else { #expect(id == firstIDs[k]) }
            }
        }
        #expect(firstIDs == (0..<Int32(tokens.count)).map { $0 })
        #expect(table.count == tokens.count)
        for (k, token) in tokens.enumerated() {
            #expect(table.token(k) == token)
            #expect(table.id(of: token) == Int32(k))
            #expect(table.occurrences(of: k) == Int64(k % 3 + 1))
        }
        #expect(table.id(of: "w50000") == nil && table.id(of: "w1") == 2 && table.id(of: "w1 ") == nil)
        // Tokens of every length up to 20 that share their first bytes, and ones that differ only past the
        // 8-byte prefix word or in a zero byte where the word is zero-padded: all distinct.
        var prefixes = TokenTable()
        let alphabet = Array("abcdefghijklmnopqrstu".utf8)
        var distinct: [[UInt8]] = []
        for n in 0...20 {
            distinct.append(Array(alphabet.prefix(n)))
            if n > 0 { distinct.append(Array(alphabet.prefix(n - 1)) + [0]) }
            if n > 8 { distinct.append(Array(alphabet.prefix(n - 1)) + [UInt8(ascii: "Z")]) }
        }
        for (k, token) in distinct.enumerated() {
            #expect(token.withUnsafeBytes { prefixes.intern($0) } == Int32(k), "token \(k) is new")
        }
        for (k, token) in distinct.enumerated() {
            #expect(token.withUnsafeBytes { prefixes.id(of: $0) } == Int32(k))
            #expect(Array(prefixes.bytes(of: k)) == token)
        }
        // Past 8 bytes a token is hashed word by word: 2,000 long tokens sharing their first 9 bytes take the
        // table through its doublings (rehashed from the arena) and are all found again.
        var long = TokenTable()
        let longTokens = (0..<2_000).map { "shared-p-\($0 * 7919)" }
        for (k, token) in longTokens.enumerated() {
            var t = token
            #expect(t.withUTF8 { long.intern(UnsafeRawBufferPointer($0)) } == Int32(k))
        }
        for (k, token) in longTokens.enumerated() { #expect(long.id(of: token) == Int32(k)) }
        var weighted = TokenTable()
        "abc".utf8CString.withUnsafeBytes { _ = weighted.intern(UnsafeRawBufferPointer(rebasing: $0.dropLast()), occurrences: 7) }
        #expect(weighted.occurrences(of: Int(weighted.id(of: "abc")!)) == 7)
    }
}

@Suite struct VocabularyTests {
    private func table(_ text: String) throws -> TokenTable {
        var corpus = TokenizedCorpus()
        try Tokenizer().tokenize(text, into: &corpus)
        return corpus.table
    }

    @Test func sortsByCountThenTokenAndAppliesMinCount() throws {
        let t = try table("b a c b a d b e e e e")
        let v = try VocabularyBuilder.build(from: t, rules: VocabularyRules(minCount: 2))
        // e:4, b:3, a:2 (c, d seen once)
        #expect(v.tokens == ["e", "b", "a"])
        #expect(v.counts == [4, 3, 2])
    }

    @Test func breaksTiesByTokenBytes() throws {
        let t = try table("zeta alpha Beta beta")
        let v = try VocabularyBuilder.build(from: t, rules: VocabularyRules(minCount: 1))
        #expect(v.tokens == ["Beta", "alpha", "beta", "zeta"])
    }

    @Test func maxSizeKeepsTheMostFrequent() throws {
        let t = try table("a a a b b c d d d d")
        let v = try VocabularyBuilder.build(from: t, rules: VocabularyRules(minCount: 1, maxSize: 2))
        #expect(v.tokens == ["d", "a"])
    }

    @Test func emptyVocabularyIsAnError() throws {
        let t = try table("a b c")
        #expect(throws: VocabularyError.self) { try VocabularyBuilder.build(from: t, rules: VocabularyRules(minCount: 2)) }
    }

    @Test func givenVocabularyKeepsItsOrderAndMapsIDs() throws {
        let path = try TemporaryFile.write(Array("dog\ncat\t99\nunseen\n".utf8))
        let given = try Vocabulary.read(from: path)
        let t = try table("cat dog cat bird")
        let v = VocabularyBuilder.recount(given, from: t)
        #expect(v.tokens == ["dog", "cat", "unseen"])
        #expect(v.counts == [1, 2, 0])
        let map = VocabularyBuilder.mapping(from: t, to: v)
        #expect(map[Int(t.id(of: "cat")!)] == 1)
        #expect(map[Int(t.id(of: "bird")!)] == -1)
    }

    @Test func vocabularyFileRoundTripsAndRejectsBadLines() throws {
        let v = Vocabulary(tokens: ["x", "y", "ünï"], counts: [5, 3, 1])
        let path = TemporaryFile.path()
        try v.write(to: path)
        #expect(try Vocabulary.read(from: path) == v)
        let duplicate = try TemporaryFile.write(Array("a\nb\na\n".utf8))
        #expect(throws: VocabularyError.malformed(path: duplicate, line: 3, reason: "duplicate token 'a'")) {
            try Vocabulary.read(from: duplicate)
        }
        let blank = try TemporaryFile.write(Array("a\n\nb\n".utf8))
        #expect(throws: VocabularyError.self) { try Vocabulary.read(from: blank) }
    }
}
