import Foundation
import SwivelTestSupport
@testable import SwivelText
import Testing

private func tokens(_ text: String, _ options: TokenizerOptions) throws -> [[String]] {
    var corpus = TokenizedCorpus()
    try Tokenizer(options: options).tokenize(text, into: &corpus)
    return lines(corpus)
}

@Suite struct TokenizerOptionTests {
    @Test func splitPunctuationKeepsApostrophesAndHyphensInsideWords() throws {
        let options = TokenizerOptions(splitPunctuation: true)
        #expect(try tokens("Hello, world! don't well-known 'tis end. (x)", options)
                == [["Hello", ",", "world", "!", "don't", "well-known", "'", "tis", "end", ".", "(", "x", ")"]])
        // Unicode punctuation: curly quotes and apostrophes, em dash, ellipsis, guillemets.
        #expect(try tokens("\u{201C}Don\u{2019}t\u{201D}\u{2014}said \u{00AB}él\u{00BB}\u{2026}", options)
                == [["\u{201C}", "Don\u{2019}t", "\u{201D}", "\u{2014}", "said", "\u{00AB}", "él", "\u{00BB}", "\u{2026}"]])
        // A hyphen at a word's edge or doubled is punctuation; digits join like letters.
        #expect(try tokens("-so-- 3-4 co-op's $5", options) == [["-", "so", "-", "-", "3-4", "co-op's", "$", "5"]])
        // A line of punctuation alone still makes tokens; white space only makes none.
        #expect(try tokens("...\n   \nok", options) == [[".", ".", "."], ["ok"]])
    }

    @Test func normalizationComposesAndFoldsCompatibilityForms() throws {
        let decomposed = "caf\u{0065}\u{0301}"     // e + combining acute
        #expect(try tokens(decomposed, TokenizerOptions()) == [[decomposed]])
        #expect(Array(try tokens(decomposed, TokenizerOptions(normalization: .nfc))[0][0].utf8) == Array("café".utf8))
        // NFC keeps compatibility characters; NFKC folds the ligature and the full-width letters.
        #expect(try tokens("\u{FB01}ne \u{FF21}\u{FF22}", TokenizerOptions(normalization: .nfc)) == [["\u{FB01}ne", "\u{FF21}\u{FF22}"]])
        #expect(try tokens("\u{FB01}ne \u{FF21}\u{FF22}", TokenizerOptions(normalization: .nfkc)) == [["fine", "AB"]])
        #expect(try tokens("\u{FB01}ne \u{FF21}\u{FF22}", TokenizerOptions(lowercase: true, normalization: .nfkc)) == [["fine", "ab"]])
        // Decomposed and composed spellings become one vocabulary entry.
        var corpus = TokenizedCorpus()
        try Tokenizer(options: TokenizerOptions(normalization: .nfc)).tokenize("caf\u{0065}\u{0301} café", into: &corpus)
        #expect(corpus.table.count == 1 && corpus.table.occurrences(of: 0) == 2)
    }

    @Test func maxTokenLengthDropsLongTokensLikeUnknownWords() throws {
        let options = TokenizerOptions(maxTokenLength: 5)
        #expect(try tokens("short toolongtoken fine\nxxxxxxxxxxxxxxxx", options) == [["short", "fine"]])
        // Bytes, not characters: "ééé" is 6 bytes.
        #expect(try tokens("éé ééé", options) == [["éé"]])
    }

    @Test func optionsDecodeFromOlderManifests() throws {
        let old = try JSONDecoder().decode(TokenizerOptions.self, from: Data(#"{"lowercase":true}"#.utf8))
        #expect(old == TokenizerOptions(lowercase: true))
    }

    @Test func directoriesExpandRecursivelyInNameOrderSkippingHiddenFiles() throws {
        let root = TemporaryFile.path("-tree")
        try FileManager.default.createDirectory(atPath: root + "/b/inner", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/.git", withIntermediateDirectories: true)
        for name in ["b/inner/z.txt", "b/a.txt", "a.txt", "c.txt.gz", ".hidden", ".git/config", "B.txt"] {
            #expect(FileManager.default.createFile(atPath: root + "/" + name, contents: Data("x\n".utf8)))
        }
        let files = try CorpusInputs.expand([root, "-"]).files
        #expect(files == ["B.txt", "a.txt", "b/a.txt", "b/inner/z.txt", "c.txt.gz"].map { root + "/" + $0 } + ["-"])
    }
}
