import CZlib
import Foundation
import SwivelIO
#if canImport(Glibc)
import Glibc
#endif

/// Errors met while reading a corpus; each names the input and where the problem is.
public enum CorpusError: Error, CustomStringConvertible, Equatable {
    /// The input could not be opened or read.
    case unreadable(path: String, reason: String)
    /// Bytes that are not UTF-8, at a byte offset from the start of the (decompressed) input.
    case invalidUTF8(path: String, byteOffset: Int)
    /// All inputs together held no token.
    case empty(paths: [String])

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read corpus: \(reason)"
        case let .invalidUTF8(path, offset):
            return "\(path): invalid UTF-8 at byte offset \(offset) (swivel reads UTF-8 text only; convert the file, e.g. with iconv)"
        case let .empty(paths):
            let shown = paths.count > 3 ? paths.prefix(3).joined(separator: ", ") + " and \(paths.count - 3) more" : paths.joined(separator: ", ")
            return "\(shown): the corpus holds no tokens"
        }
    }
}

/// Unicode normalization applied to tokens that are not plain ASCII.
public enum UnicodeNormalization: String, Sendable, Codable, CaseIterable {
    /// Bytes as they are.
    case none
    /// Canonical composition (NFC): `e` + combining acute becomes `é`.
    case nfc
    /// Compatibility composition (NFKC): also folds ligatures, full-width forms, superscripts (`ﬁ` -> `fi`).
    case nfkc
}

/// How raw text becomes tokens.
///
/// The default is the reference Swivel's: tokens are maximal runs of bytes other than ASCII white space,
/// taken as they are.
public struct TokenizerOptions: Sendable, Codable, Equatable {
    /// Lower-case every token (ASCII fast path; other letters by Unicode's default case mapping).
    public var lowercase: Bool
    /// Unicode normalization of non-ASCII tokens (before lower-casing).
    public var normalization: UnicodeNormalization
    /// Split punctuation and symbols off words, each mark a token of its own; an apostrophe or hyphen
    /// between two letters or digits stays inside the word (`don't`, `well-known`).
    public var splitPunctuation: Bool
    /// Tokens longer than this many UTF-8 bytes are dropped, like out-of-vocabulary tokens (nil: no limit).
    public var maxTokenLength: Int?

    /// Creates options.
    public init(lowercase: Bool = false, normalization: UnicodeNormalization = .none,
                splitPunctuation: Bool = false, maxTokenLength: Int? = nil) {
        self.lowercase = lowercase
        self.normalization = normalization
        self.splitPunctuation = splitPunctuation
        self.maxTokenLength = maxTokenLength
    }

    enum CodingKeys: String, CodingKey { case lowercase, normalization, splitPunctuation, maxTokenLength }

    /// Decodes options; fields added after the first release default to the reference behaviour.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        lowercase = try c.decode(Bool.self, forKey: .lowercase)
        normalization = try c.decodeIfPresent(UnicodeNormalization.self, forKey: .normalization) ?? .none
        splitPunctuation = try c.decodeIfPresent(Bool.self, forKey: .splitPunctuation) ?? false
        maxTokenLength = try c.decodeIfPresent(Int.self, forKey: .maxTokenLength)
    }

    /// True when every token is taken exactly as its bytes (no per-token work beyond validation).
    var isVerbatim: Bool { !lowercase && normalization == .none && !splitPunctuation && maxTokenLength == nil }
}

/// Where tokens go as a line is scanned.
public protocol TokenSink {
    /// One token's UTF-8 bytes (valid for the call only).
    mutating func token(_ bytes: UnsafeRawBufferPointer)
    /// The end of a line that held at least one token.
    mutating func endLine()
}

/// A corpus turned into token ids: every line's tokens in order, lines separated by `lineBreak`.
///
/// Ids index `table`, which also counts each token's occurrences.
public struct TokenizedCorpus: TokenSink, Sendable {
    /// Marks the end of a line in `ids`; windows never cross it.
    public static let lineBreak: Int32 = -1
    /// Token ids (indices into `table`) with `lineBreak` after each non-empty line.
    public var ids: [Int32] = []
    /// Distinct tokens with their counts.
    public var table = TokenTable()
    /// Number of tokens read.
    public var tokenCount: Int64 = 0
    /// Number of input bytes read (after decompression).
    public var byteCount: Int64 = 0
    /// Whether `ids` is filled (counting only the table when false).
    public var keepsIDs = true

    /// Creates an empty corpus.
    public init(keepsIDs: Bool = true) { self.keepsIDs = keepsIDs }

    public mutating func token(_ bytes: UnsafeRawBufferPointer) {
        let id = table.intern(bytes)
        if keepsIDs { ids.append(id) }
        tokenCount += 1
    }

    public mutating func endLine() {
        if keepsIDs { ids.append(Self.lineBreak) }
    }
}

/// Looks tokens up in a fixed table (a vocabulary interned in id order) and keeps the ids of known ones.
public struct VocabularyLookup: TokenSink, Sendable {
    /// The table; its ids are the vocabulary ids.
    public let table: TokenTable
    /// Subsampling of frequent words and the chunk being read, if any.
    public var subsampling: (Subsampling, chunk: Int)?
    /// Vocabulary ids with `-1` after each line that kept a token.
    public var ids: [Int32] = []
    /// Tokens seen (known or not).
    public var tokenCount: Int64 = 0
    private var lineHasToken = false

    /// Looks tokens up in `table`.
    public init(table: TokenTable) { self.table = table }

    public mutating func token(_ bytes: UnsafeRawBufferPointer) {
        let index = Int(tokenCount)
        tokenCount += 1
        if let id = table.id(of: bytes) {
            if let (subsampling, chunk) = subsampling, !subsampling.keeps(id, chunk: chunk, index: index) { return }
            ids.append(id)
            lineHasToken = true
        }
    }

    public mutating func endLine() {
        if lineHasToken { ids.append(TokenizedCorpus.lineBreak) }
        lineHasToken = false
    }
}

/// Splits text into tokens, one context per line.
///
/// By default tokens are maximal runs of bytes other than ASCII white space (space, tab, CR, LF, VT, FF),
/// as in the reference Swivel; ``TokenizerOptions`` adds lower-casing, Unicode normalization,
/// punctuation splitting and a length limit. Input must be UTF-8: the first invalid byte is an error
/// naming the input and its offset.
public struct Tokenizer: Sendable {
    /// The options in force.
    public let options: TokenizerOptions

    /// Creates a tokenizer.
    public init(options: TokenizerOptions = TokenizerOptions()) {
        self.options = options
    }

    /// Reads every input in order (files, `-` for stdin, `.gz` decompressed) and appends its tokens to `corpus`.
    public func read(paths: [String], into corpus: inout TokenizedCorpus) throws {
        let reader = try CorpusChunkReader(inputs: paths)
        while let chunk = try reader.next() {
            try scan(chunk, into: &corpus)
        }
        corpus.byteCount += reader.bytesRead
    }

    /// Tokenizes an in-memory text (used by tests and small tools).
    public func tokenize(_ text: String, into corpus: inout TokenizedCorpus) throws {
        let bytes = Array(text.utf8)
        try bytes.withUnsafeBytes { try scan(text: $0, offset: 0, path: "<text>", into: &corpus) }
        corpus.byteCount += Int64(bytes.count)
    }

    /// Tokenizes one chunk (whole lines) into `sink`.
    public func scan<Sink: TokenSink>(_ chunk: CorpusChunk, into sink: inout Sink) throws {
        try chunk.bytes.withUnsafeBytes { try scan(text: $0, offset: chunk.offset, path: chunk.path, into: &sink) }
    }

    /// Tokenizes `text` (whole lines; the last may lack its line feed) into `sink`.
    ///
    /// - Parameters:
    ///   - offset: byte offset of `text` in its input, for error messages.
    ///   - path: the input's name, for error messages.
    public func scan<Sink: TokenSink>(text: UnsafeRawBufferPointer, offset: Int64, path: String, into sink: inout Sink) throws {
        var start = 0
        let count = text.count
        guard let base = text.baseAddress else { return }
        while start < count {
            let remaining = count - start
            let end: Int
            if let nl = memchr(base + start, 0x0A, remaining) {
                end = base.distance(to: UnsafeRawPointer(nl))
            } else {
                end = count
            }
            try scanLine(UnsafeRawBufferPointer(rebasing: text[start..<end]), lineOffset: offset + Int64(start),
                         path: path, sink: &sink)
            start = end + 1
        }
    }

    @inline(__always)
    private static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || (b >= 0x09 && b <= 0x0D)
    }

    private func scanLine<Sink: TokenSink>(_ line: UnsafeRawBufferPointer, lineOffset: Int64, path: String,
                                           sink: inout Sink) throws {
        var index = 0
        let count = line.count
        var emitted = false
        let verbatim = options.isVerbatim
        while index < count {
            while index < count && Self.isSpace(line[index]) { index += 1 }
            if index == count { break }
            let start = index
            var ascii = true
            while index < count && !Self.isSpace(line[index]) {
                if line[index] >= 0x80 { ascii = false }
                index += 1
            }
            let token = UnsafeRawBufferPointer(rebasing: line[start..<index])
            if !ascii, let bad = Self.firstInvalidUTF8(token) {
                throw CorpusError.invalidUTF8(path: path, byteOffset: Int(lineOffset) + start + bad)
            }
            if verbatim {
                sink.token(token)
                emitted = true
            } else {
                emitted = emit(token, ascii: ascii, sink: &sink) || emitted
            }
        }
        if emitted { sink.endLine() }
    }

    /// Applies the options to one white-space-delimited token; returns whether any token was emitted.
    private func emit<Sink: TokenSink>(_ token: UnsafeRawBufferPointer, ascii: Bool, sink: inout Sink) -> Bool {
        if options.splitPunctuation {
            var emitted = false
            for piece in PunctuationSplitter.pieces(of: token, ascii: ascii) {
                emitted = finish(UnsafeRawBufferPointer(rebasing: token[piece]), ascii: ascii, sink: &sink) || emitted
            }
            return emitted
        }
        return finish(token, ascii: ascii, sink: &sink)
    }

    private func finish<Sink: TokenSink>(_ token: UnsafeRawBufferPointer, ascii: Bool, sink: inout Sink) -> Bool {
        var transformed: [UInt8]?
        if !ascii && (options.normalization != .none || options.lowercase) {
            var text = String(decoding: token, as: UTF8.self)
            switch options.normalization {
            case .none: break
            case .nfc: text = text.precomposedStringWithCanonicalMapping
            case .nfkc: text = text.precomposedStringWithCompatibilityMapping
            }
            if options.lowercase { text = text.lowercased() }
            // NFKC may turn a token into white space (e.g. U+2003 is not ASCII white space, but folds to it).
            transformed = Array(text.utf8.filter { !Self.isSpace($0) })
        } else if ascii && options.lowercase && token.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) {
            transformed = token.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
        }
        if let bytes = transformed {
            return bytes.withUnsafeBytes { finishLength($0, sink: &sink) }
        }
        return finishLength(token, sink: &sink)
    }

    @inline(__always)
    private func finishLength<Sink: TokenSink>(_ token: UnsafeRawBufferPointer, sink: inout Sink) -> Bool {
        if token.isEmpty { return false }
        if let limit = options.maxTokenLength, token.count > limit { return false }
        sink.token(token)
        return true
    }

    /// Index of the first byte of `bytes` that starts an invalid or incomplete UTF-8 sequence, or nil.
    ///
    /// Rejects overlong forms, surrogates (U+D800–U+DFFF) and code points above U+10FFFF, as RFC 3629 does.
    public static func firstInvalidUTF8(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let b0 = bytes[i]
            if b0 < 0x80 { i += 1; continue }
            var length = 0
            var minimum: UInt32 = 0
            var scalar: UInt32 = 0
            switch b0 {
            case 0xC2...0xDF: length = 2; minimum = 0x80; scalar = UInt32(b0 & 0x1F)
            case 0xE0...0xEF: length = 3; minimum = 0x800; scalar = UInt32(b0 & 0x0F)
            case 0xF0...0xF4: length = 4; minimum = 0x10000; scalar = UInt32(b0 & 0x07)
            default: return i
            }
            guard i + length <= n else { return i }
            for k in 1..<length {
                let b = bytes[i + k]
                guard b & 0xC0 == 0x80 else { return i }
                scalar = (scalar << 6) | UInt32(b & 0x3F)
            }
            if scalar < minimum || scalar > 0x10FFFF || (scalar >= 0xD800 && scalar <= 0xDFFF) { return i }
            i += length
        }
        return nil
    }
}

/// Splits a white-space-delimited token into words and single punctuation or symbol marks.
///
/// A mark is any ASCII character other than a letter or digit, or a Unicode scalar of a punctuation (P*)
/// or symbol (S*) category. An apostrophe (`'`, U+2019) or hyphen (`-`, U+2010) with a letter or digit on
/// both sides stays inside its word.
enum PunctuationSplitter {
    /// Byte ranges of the pieces of `token` (valid UTF-8), in order.
    static func pieces(of token: UnsafeRawBufferPointer, ascii: Bool) -> [Range<Int>] {
        // Decode scalars with their byte ranges (ASCII: one byte each).
        var scalars: [(value: UInt32, range: Range<Int>)] = []
        scalars.reserveCapacity(token.count)
        var i = 0
        while i < token.count {
            let b0 = token[i]
            var length = 1
            var value = UInt32(b0)
            if b0 >= 0xF0 { length = 4; value = UInt32(b0 & 0x07) }
            else if b0 >= 0xE0 { length = 3; value = UInt32(b0 & 0x0F) }
            else if b0 >= 0xC0 { length = 2; value = UInt32(b0 & 0x1F) }
            if length > 1 { for k in 1..<length { value = value << 6 | UInt32(token[i + k] & 0x3F) } }
            scalars.append((value, i..<(i + length)))
            i += length
        }
        var pieces: [Range<Int>] = []
        var wordStart: Int?
        for (k, s) in scalars.enumerated() {
            var isMark = isPunctuationOrSymbol(s.value)
            if isMark && isJoiner(s.value) && k > 0 && k + 1 < scalars.count
                && isWordCharacter(scalars[k - 1].value) && isWordCharacter(scalars[k + 1].value) {
                isMark = false
            }
            if isMark {
                if let start = wordStart { pieces.append(start..<s.range.lowerBound); wordStart = nil }
                pieces.append(s.range)
            } else if wordStart == nil {
                wordStart = s.range.lowerBound
            }
        }
        if let start = wordStart { pieces.append(start..<token.count) }
        return pieces
    }

    static func isJoiner(_ v: UInt32) -> Bool { v == 0x27 || v == 0x2D || v == 0x2019 || v == 0x2010 }

    static func isWordCharacter(_ v: UInt32) -> Bool {
        if v < 0x80 { return (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A) }
        guard let scalar = Unicode.Scalar(v) else { return false }
        return scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }

    static func isPunctuationOrSymbol(_ v: UInt32) -> Bool {
        if v < 0x80 { return !isWordCharacter(v) }
        guard let scalar = Unicode.Scalar(v) else { return false }
        switch scalar.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation, .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }
}
