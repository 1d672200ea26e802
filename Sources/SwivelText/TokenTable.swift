/// An interning table from token bytes to dense ids `0..<count`, with an occurrence count per id.
///
/// Open addressing with linear probing over a power-of-two slot array; token bytes live in one arena, so
/// interning a token that is already present allocates nothing. Ids are assigned in order of first
/// appearance. A token's hash, count and place in the arena are one 32-byte entry, so a lookup touches its
/// slot, its entry and its bytes (three cache lines) rather than one array per field.
public struct TokenTable: Sendable {
    /// One distinct token: the hash and place of its bytes, and its count.
    private struct Entry {
        var hash: UInt64
        var occurrences: Int64
        var start: Int
        var length: Int
    }

    private var arena: [UInt8] = []
    private var entries: [Entry] = []   // id -> entry
    private var slots: [Int32]          // -1 = empty, else id
    private var mask: Int

    /// Creates an empty table.
    public init() {
        slots = [Int32](repeating: -1, count: 1024)
        mask = 1023
    }

    /// Number of distinct tokens.
    public var count: Int { entries.count }

    /// Occurrences of token `id`.
    public func occurrences(of id: Int) -> Int64 { entries[id].occurrences }

    /// FNV-1a, 64-bit: simple and good enough for word-like keys.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3
        }
        return h ^ (h >> 29)
    }

    /// Returns the id of `token`, adding it if new, and adds `occurrences` to its count.
    @discardableResult
    public mutating func intern(_ token: UnsafeRawBufferPointer, occurrences: Int64 = 1) -> Int32 {
        let h = Self.hash(token)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let id = slots[slot]
            if id < 0 { break }
            if matches(Int(id), token, hash: h) {
                entries[Int(id)].occurrences += occurrences
                return id
            }
            slot = (slot + 1) & mask
        }
        let id = Int32(entries.count)
        entries.append(Entry(hash: h, occurrences: occurrences, start: arena.count, length: token.count))
        arena.append(contentsOf: token)
        slots[slot] = id
        if entries.count * 2 > slots.count { grow() }
        return id
    }

    /// The id of `token`, or nil when it is not in the table.
    public func id(of token: UnsafeRawBufferPointer) -> Int32? {
        let h = Self.hash(token)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let id = slots[slot]
            if id < 0 { return nil }
            if matches(Int(id), token, hash: h) { return id }
            slot = (slot + 1) & mask
        }
    }

    /// The id of `token`, or nil when it is not in the table.
    public func id(of token: String) -> Int32? {
        var token = token
        return token.withUTF8 { id(of: UnsafeRawBufferPointer($0)) }
    }

    /// The UTF-8 bytes of token `id`.
    public func bytes(of id: Int) -> ArraySlice<UInt8> {
        arena[entries[id].start..<(entries[id].start + entries[id].length)]
    }

    /// Token `id` as a string (the bytes were validated as UTF-8 when they were read).
    public func token(_ id: Int) -> String {
        String(decoding: bytes(of: id), as: UTF8.self)
    }

    /// Whether entry `id` holds `token` (whose hash is `hash`).
    @inline(__always)
    private func matches(_ id: Int, _ token: UnsafeRawBufferPointer, hash: UInt64) -> Bool {
        let entry = entries[id]
        guard entry.hash == hash && entry.length == token.count else { return false }
        // Tokens are a few bytes: a loop over raw bytes beats a call to memcmp (measured with perf).
        return arena.withUnsafeBytes { all in
            var k = 0
            while k < token.count {
                if all[entry.start &+ k] != token[k] { return false }
                k &+= 1
            }
            return true
        }
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for id in 0..<entries.count {
            var slot = Int(truncatingIfNeeded: entries[id].hash) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(id)
        }
    }
}
