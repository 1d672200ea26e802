import CZlib
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
            return "\(paths.joined(separator: ", ")): the corpus holds no tokens"
        }
    }
}

/// How raw text becomes tokens.
public struct TokenizerOptions: Sendable, Codable, Equatable {
    /// Lower-case every token (ASCII fast path; other letters by Unicode's default case mapping).
    public var lowercase: Bool

    /// Creates options.
    public init(lowercase: Bool = false) {
        self.lowercase = lowercase
    }
}

/// A corpus turned into token ids: every line's tokens in order, lines separated by `lineBreak`.
///
/// Ids index `table`, which also counts each token's occurrences. This is the whole corpus in memory at
/// 4 bytes a token.
public struct TokenizedCorpus {
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

    /// Creates an empty corpus.
    public init() {}
}

/// Splits text into whitespace-separated tokens, one context per line, as the reference Swivel does.
///
/// Tokens are maximal runs of bytes other than ASCII white space (space, tab, CR, LF, VT, FF); a line
/// feed ends a line. Input must be UTF-8: the first invalid byte is an error naming the input and offset.
/// Files ending in `.gz` (and any gzip stream) are decompressed on the fly by zlib; `-` reads stdin.
public struct Tokenizer {
    /// The options in force.
    public let options: TokenizerOptions

    /// Creates a tokenizer.
    public init(options: TokenizerOptions = TokenizerOptions()) {
        self.options = options
    }

    /// Reads every input in order and appends its tokens to `corpus`.
    ///
    /// - Parameter progress: called now and then with the bytes read so far.
    public func read(paths: [String], into corpus: inout TokenizedCorpus,
                     progress: ((Int64) -> Void)? = nil) throws {
        for path in paths {
            try read(path: path, into: &corpus, progress: progress)
        }
    }

    /// Tokenizes an in-memory text (used by tests and small tools).
    public func tokenize(_ text: String, into corpus: inout TokenizedCorpus) throws {
        var lineTokens: [Int32] = []
        var bytes = Array(text.utf8)
        bytes.append(0x0A)
        try bytes.withUnsafeBytes { raw in
            var start = 0
            while start < raw.count {
                var end = start
                while raw[end] != 0x0A { end += 1 }
                try tokenizeLine(UnsafeRawBufferPointer(rebasing: raw[start..<end]), lineOffset: Int64(start),
                                 path: "<text>", corpus: &corpus, scratch: &lineTokens)
                start = end + 1
            }
        }
    }

    private func read(path: String, into corpus: inout TokenizedCorpus, progress: ((Int64) -> Void)?) throws {
        let fd: Int32
        if path == "-" {
            fd = dup(0)
        } else {
            if FileReader.isDirectory(path) { throw CorpusError.unreadable(path: path, reason: "is a directory") }
            fd = open(path, O_RDONLY | O_CLOEXEC)
        }
        guard fd >= 0 else { throw CorpusError.unreadable(path: path, reason: systemErrorMessage()) }
        guard let gz = gzdopen(fd, "rb") else {
            close(fd)
            throw CorpusError.unreadable(path: path, reason: "cannot start reading")
        }
        defer { gzclose(gz) }
        gzbuffer(gz, 1 << 20)

        let chunkSize = 4 << 20
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        var filled = 0              // bytes of buffer holding data
        var bufferOffset: Int64 = 0 // input offset of buffer[0]
        var lineTokens: [Int32] = []
        var atEnd = false
        while !atEnd {
            if filled == buffer.count { buffer.append(contentsOf: [UInt8](repeating: 0, count: buffer.count)) }
            let n = buffer.withUnsafeMutableBytes { raw in
                gzread(gz, raw.baseAddress! + filled, UInt32(raw.count - filled))
            }
            if n < 0 {
                var code: Int32 = 0
                let message = gzerror(gz, &code).map { String(cString: $0) } ?? "read error"
                throw CorpusError.unreadable(path: path, reason: message)
            }
            if n == 0 { atEnd = true }
            filled += Int(n)
            corpus.byteCount += Int64(n)
            // Tokenize every complete line; keep the tail for the next read (all of it at the end).
            let consumed = try buffer.withUnsafeBytes { raw -> Int in
                var start = 0
                var index = 0
                while index < filled {
                    if raw[index] == 0x0A {
                        try tokenizeLine(UnsafeRawBufferPointer(rebasing: raw[start..<index]),
                                         lineOffset: bufferOffset + Int64(start), path: path,
                                         corpus: &corpus, scratch: &lineTokens)
                        start = index + 1
                    }
                    index += 1
                }
                if atEnd && start < filled {
                    try tokenizeLine(UnsafeRawBufferPointer(rebasing: raw[start..<filled]),
                                     lineOffset: bufferOffset + Int64(start), path: path,
                                     corpus: &corpus, scratch: &lineTokens)
                    start = filled
                }
                return start
            }
            if consumed > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    let tail = filled - consumed
                    if tail > 0 { memmove(raw.baseAddress!, raw.baseAddress! + consumed, tail) }
                }
                filled -= consumed
                bufferOffset += Int64(consumed)
            }
            progress?(corpus.byteCount)
        }
    }

    @inline(__always)
    private static func isSpace(_ b: UInt8) -> Bool {
        b == 0x20 || (b >= 0x09 && b <= 0x0D)
    }

    private func tokenizeLine(_ line: UnsafeRawBufferPointer, lineOffset: Int64, path: String,
                              corpus: inout TokenizedCorpus, scratch: inout [Int32]) throws {
        var index = 0
        let count = line.count
        var added = false
        var lowered: [UInt8] = []
        while index < count {
            while index < count && Self.isSpace(line[index]) { index += 1 }
            if index == count { break }
            let start = index
            var ascii = true
            var hasUpper = false
            while index < count && !Self.isSpace(line[index]) {
                let b = line[index]
                if b >= 0x80 { ascii = false }
                if b >= 0x41 && b <= 0x5A { hasUpper = true }
                index += 1
            }
            let token = UnsafeRawBufferPointer(rebasing: line[start..<index])
            if !ascii, let bad = Self.firstInvalidUTF8(token) {
                throw CorpusError.invalidUTF8(path: path, byteOffset: Int(lineOffset) + start + bad)
            }
            let id: Int32
            if options.lowercase && (hasUpper || !ascii) {
                if ascii {
                    lowered.removeAll(keepingCapacity: true)
                    for b in token { lowered.append(b >= 0x41 && b <= 0x5A ? b | 0x20 : b) }
                } else {
                    lowered = Array(String(decoding: token, as: UTF8.self).lowercased().utf8)
                }
                id = lowered.withUnsafeBytes { corpus.table.intern($0) }
            } else {
                id = corpus.table.intern(token)
            }
            corpus.ids.append(id)
            corpus.tokenCount += 1
            added = true
        }
        if added { corpus.ids.append(TokenizedCorpus.lineBreak) }
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
