/// An interning table from token bytes to dense ids `0..<count`, with an occurrence count per id.
///
/// Open addressing with linear probing over a power-of-two slot array; token bytes live in one arena, so
/// interning a token that is already present allocates nothing. Ids are assigned in order of first
/// appearance. A token's count, length, place in the arena and first 8 bytes are one 32-byte entry: a token of
/// up to 8 bytes (most words) is hashed and compared as one 64-bit word, without a loop over its bytes or a read
/// of the arena, so a lookup touches its slot and its entry (two cache lines) and mispredicts no loop exit.
public struct TokenTable: Sendable {
    /// One distinct token: its count, its first 8 bytes as a word (see ``prefix(_:)``), and its bytes' place.
    private struct Entry {
        var occurrences: Int64
        var prefix: UInt64
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

    /// The first `min(8, bytes.count)` bytes as a little-endian word, zero above: read with at most three loads
    /// that stay inside `bytes` (two overlapping 4-byte loads for 4 to 7 bytes, first, middle and last byte for
    /// 1 to 3), so a token at the end of a buffer is read safely.
    @inline(__always)
    static func prefix(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let n = bytes.count
        guard n > 0, let p = bytes.baseAddress else { return 0 }
        if n >= 8 { return UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)) }
        if n >= 4 {
            let low = UInt64(UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
            let high = UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)))
            return low | high << UInt64(8 * (n - 4))
        }
        let first = UInt64(p.load(as: UInt8.self))
        let middle = UInt64(p.load(fromByteOffset: n / 2, as: UInt8.self))
        let last = UInt64(p.load(fromByteOffset: n - 1, as: UInt8.self))
        return first | middle << UInt64(8 * (n / 2)) | last << UInt64(8 * (n - 1))
    }

    /// A 64-bit hash of a token from its length, its prefix word and (past 8 bytes) its other 8-byte words, the
    /// last one overlapping the one before; mixed so that the low bits (the slot) depend on every byte.
    @inline(__always)
    static func hash(_ bytes: UnsafeRawBufferPointer, prefix: UInt64) -> UInt64 {
        var h = prefix &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(bytes.count) &* 0xC2B2_AE3D_27D4_EB4F
        if bytes.count > 8, let p = bytes.baseAddress {
            var offset = 8
            while offset < bytes.count {
                let at = min(offset, bytes.count - 8)
                h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9 ^ UInt64(littleEndian: p.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                offset += 8
            }
        }
        h = (h ^ (h >> 31)) &* 0x94D0_49BB_1331_11EB
        return h ^ (h >> 29)
    }

    /// Returns the id of `token`, adding it if new, and adds `occurrences` to its count.
    @discardableResult
    public mutating func intern(_ token: UnsafeRawBufferPointer, occurrences: Int64 = 1) -> Int32 {
        let prefix = Self.prefix(token)
        var slot = Int(truncatingIfNeeded: Self.hash(token, prefix: prefix)) & mask
        while true {
            let id = slots[slot]
            if id < 0 { break }
            if matches(Int(id), token, prefix: prefix) {
                entries[Int(id)].occurrences += occurrences
                return id
            }
            slot = (slot + 1) & mask
        }
        let id = Int32(entries.count)
        entries.append(Entry(occurrences: occurrences, prefix: prefix, start: arena.count, length: token.count))
        arena.append(contentsOf: token)
        slots[slot] = id
        if entries.count * 2 > slots.count { grow() }
        return id
    }

    /// The id of `token`, or nil when it is not in the table.
    public func id(of token: UnsafeRawBufferPointer) -> Int32? {
        let prefix = Self.prefix(token)
        var slot = Int(truncatingIfNeeded: Self.hash(token, prefix: prefix)) & mask
        while true {
            let id = slots[slot]
            if id < 0 { return nil }
            if matches(Int(id), token, prefix: prefix) { return id }
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

    /// Whether entry `id` holds `token` (whose ``prefix(_:)`` is `prefix`): same length and first 8 bytes, and
    /// past those, the same bytes in the arena.
    @inline(__always)
    private func matches(_ id: Int, _ token: UnsafeRawBufferPointer, prefix: UInt64) -> Bool {
        let entry = entries[id]
        guard entry.prefix == prefix && entry.length == token.count else { return false }
        if token.count <= 8 { return true }
        // Long tokens are rare: a loop over raw bytes beats a call to memcmp for the few bytes past the prefix.
        return arena.withUnsafeBytes { all in
            var k = 8
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
        arena.withUnsafeBytes { arena in
            for id in 0..<entries.count {
                let entry = entries[id]
                let bytes = UnsafeRawBufferPointer(rebasing: arena[entry.start..<(entry.start + entry.length)])
                var slot = Int(truncatingIfNeeded: Self.hash(bytes, prefix: entry.prefix)) & mask
                while slots[slot] >= 0 { slot = (slot + 1) & mask }
                slots[slot] = Int32(id)
            }
        }
    }
}
