/// How a word is cut into character n-grams and hashed into buckets, as fastText does (`Dictionary::computeSubwords`):
/// the word is wrapped in the boundary markers `<` and `>`, every run of `minN...maxN` characters (UTF-8 code
/// points) of the wrapped word is an n-gram, and each n-gram is hashed into one of `buckets` vectors.
///
/// A 1-gram that is a boundary marker alone is left out; the whole wrapped word counts as an n-gram when it is at
/// most `maxN` characters long. With `maxN == 0` a word has no n-grams (fastText's `-maxn 0`).
public struct SubwordScheme: Codable, Sendable, Equatable {
    /// Shortest n-gram, in characters (fastText's `-minn`, default 3).
    public var minN: Int
    /// Longest n-gram, in characters (fastText's `-maxn`, default 6); 0 for none.
    public var maxN: Int
    /// Number of hash buckets (fastText's `-bucket`, default 2,000,000).
    public var buckets: Int

    /// fastText's defaults: 3...6 characters, 2,000,000 buckets.
    public static let fastTextDefault = SubwordScheme(minN: 3, maxN: 6, buckets: 2_000_000)

    /// A scheme of n-grams of `minN...maxN` characters hashed into `buckets` buckets.
    public init(minN: Int, maxN: Int, buckets: Int) {
        self.minN = minN
        self.maxN = maxN
        self.buckets = buckets
    }

    /// Why the scheme cannot be used, or nil when it can: `1 <= minN <= maxN` (or `maxN == 0`) and
    /// `1 <= buckets <= 2^31 - 1` (fastText stores bucket counts and ids as 32-bit signed integers).
    public var problem: String? {
        if maxN != 0 && !(1 <= minN && minN <= maxN) {
            return "--min-n \(minN) and --max-n \(maxN): need 1 <= min-n <= max-n (or --max-n 0 for no n-grams)"
        }
        if maxN > 64 { return "--max-n \(maxN): at most 64 characters" }
        if buckets < 1 || buckets > Int(Int32.max) { return "--buckets \(buckets): must be 1 to \(Int32.max)" }
        return nil
    }

    /// The n-grams of `word`, as strings, in fastText's order: by start position, then by length.
    public func ngrams(of word: String) -> [String] {
        var result: [String] = []
        forEachNgram(of: word) { bytes in result.append(String(decoding: bytes, as: UTF8.self)) }
        return result
    }

    /// The bucket of each n-gram of `word` (``ngrams(of:)``'s order; the same bucket may recur), each in
    /// `0..<buckets`.
    public func buckets(of word: String) -> [Int32] {
        var result: [Int32] = []
        forEachNgram(of: word) { bytes in result.append(Int32(Self.hash(bytes) % UInt32(buckets))) }
        return result
    }

    /// fastText's 32-bit FNV-1a hash (`Dictionary::hash`): offset basis 2166136261, prime 16777619. Each byte is
    /// XORed in after fastText's `int8_t` to `uint32_t` conversion, which sign-extends bytes of 0x80 and above
    /// (gensim calls this the "compatible" hash): bytes of non-ASCII text hash as fastText's do only this way.
    public static func hash<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> UInt32 {
        var h: UInt32 = 2_166_136_261
        for byte in bytes {
            h ^= UInt32(bitPattern: Int32(Int8(bitPattern: byte)))
            h = h &* 16_777_619
        }
        return h
    }

    /// Calls `body` with the UTF-8 bytes of each n-gram of `<word>`. An n-gram starts at the first byte of a
    /// character (not at a UTF-8 continuation byte, `10xxxxxx`) and takes `n` whole characters.
    func forEachNgram(of word: String, _ body: (ArraySlice<UInt8>) -> Void) {
        guard maxN > 0 else { return }
        let wrapped = Array(("<" + word + ">").utf8)
        let count = wrapped.count
        var i = 0
        while i < count {
            if Self.isContinuation(wrapped[i]) { i += 1; continue }
            var j = i
            var n = 1
            while j < count && n <= maxN {
                j += 1   // past this character's first byte, then its continuation bytes
                while j < count && Self.isContinuation(wrapped[j]) { j += 1 }
                if n >= minN && !(n == 1 && (i == 0 || j == count)) {
                    body(wrapped[i..<j])
                }
                n += 1
            }
            i += 1
        }
    }

    @inline(__always) static func isContinuation(_ byte: UInt8) -> Bool { byte & 0xC0 == 0x80 }
}
