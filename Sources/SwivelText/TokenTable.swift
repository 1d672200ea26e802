/// An interning table from token bytes to dense ids `0..<count`, with an occurrence count per id.
///
/// Open addressing with linear probing over a power-of-two slot array; token bytes live in one arena, so
/// interning a token that is already present allocates nothing. Ids are assigned in order of first
/// appearance.
public struct TokenTable: Sendable {
    private var arena: [UInt8] = []
    private var starts: [Int] = []      // id -> offset in arena
    private var lengths: [Int32] = []   // id -> byte length
    private var hashes: [UInt64] = []   // id -> hash
    /// Occurrences of each id, in id order.
    public private(set) var counts: [Int64] = []
    private var slots: [Int32]          // -1 = empty, else id
    private var mask: Int

    /// Creates an empty table.
    public init() {
        slots = [Int32](repeating: -1, count: 1024)
        mask = 1023
    }

    /// Number of distinct tokens.
    public var count: Int { starts.count }

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
            let i = Int(id)
            if hashes[i] == h && Int(lengths[i]) == token.count && equalBytes(i, token) {
                counts[i] += occurrences
                return id
            }
            slot = (slot + 1) & mask
        }
        let id = Int32(starts.count)
        starts.append(arena.count)
        lengths.append(Int32(token.count))
        hashes.append(h)
        counts.append(occurrences)
        arena.append(contentsOf: token)
        slots[slot] = id
        if starts.count * 2 > slots.count { grow() }
        return id
    }

    /// The id of `token`, or nil when it is not in the table.
    public func id(of token: UnsafeRawBufferPointer) -> Int32? {
        let h = Self.hash(token)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let id = slots[slot]
            if id < 0 { return nil }
            let i = Int(id)
            if hashes[i] == h && Int(lengths[i]) == token.count && equalBytes(i, token) { return id }
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
        arena[starts[id]..<(starts[id] + Int(lengths[id]))]
    }

    /// Token `id` as a string (the bytes were validated as UTF-8 when they were read).
    public func token(_ id: Int) -> String {
        String(decoding: bytes(of: id), as: UTF8.self)
    }

    @inline(__always)
    private func equalBytes(_ id: Int, _ token: UnsafeRawBufferPointer) -> Bool {
        arena.withUnsafeBytes { all in
            let start = starts[id]
            for k in 0..<token.count where all[start + k] != token[k] { return false }
            return true
        }
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: -1, count: size)
        mask = size - 1
        for id in 0..<starts.count {
            var slot = Int(truncatingIfNeeded: hashes[id]) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(id)
        }
    }
}
