import CPrefetch
import Dispatch
import SwivelIO
#if canImport(Glibc)
import Glibc
#endif

/// The dense region of a symmetric count matrix: its upper triangle `i <= j` with `(i + 1) * (j + 1) <=
/// product`, UInt16 or UInt32 units per cell (see ``cellBytes(largestAddition:)``). Row `i` holds columns
/// `0 ..< end(i)` (those below `i` stay zero) in shard-major order: the columns of column shard 0, then of
/// shard 1, ..., so that a block's part of a row is one contiguous segment (writing reads each block's cells
/// in one pass instead of a stride per cell).
/// A cell's sum past its width (2^16 or 2^32 units), while counting or when the workers' triangles are summed,
/// carries its multiples of 2^16 or 2^32 into the hash tables (cells (i, j) and (j, i)), so a cell always holds
/// the rest.
final class DenseTriangle: @unchecked Sendable {
    /// Rows holding at least their diagonal.
    let rowCount: Int
    /// Column shards (features are dealt round-robin: feature `j` is local `j / shards` of shard `j % shards`).
    let shards: Int
    /// Per row `i < rowCount`: where it starts, the end of its dense columns (`j < end`), and `end` as
    /// `quotient * shards + remainder` (shard `s` holds `quotient + (s < remainder ? 1 : 0)` of its columns).
    let rows: [(start: Int, end: Int, quotient: Int, remainder: Int)]
    /// Number of cells.
    let count: Int
    /// Bytes a cell: 2 or 4.
    let cellBytes: Int
    /// The cells, bound to their type: one of the two is nil.
    private let narrow: ZeroedMemory<UInt16>?
    private let wide: ZeroedMemory<UInt32>?

    /// Bytes a cell takes when no pair's addition exceeds `largestAddition` units: 2 when that is at most
    /// 2^13 (a 16-bit cell then carries at most once in 8 of those additions: windows up to 10, whose 2520
    /// units a count make a pair 2520 / d and a word with itself twice that), else 4. A token's addition to
    /// its own diagonal cell goes to the dense cell whenever it fits the cell (the default self weight of 1 is
    /// 2520 units at window 10) and carries like any other. Half the bytes is half the memory the kernel must
    /// provide (fresh pages cost more than the carries: docs/benchmarks.md, "16-bit dense cells") and half
    /// the cache footprint of the random additions.
    static func cellBytes(largestAddition: UInt64) -> Int {
        largestAddition <= 1 << 13 ? 2 : 4
    }

    /// The end of each stored row's dense columns: row `i` holds `j < min(features, product / (i + 1))`, for
    /// the rows that hold at least their diagonal.
    static func rowEnds(features: Int, product: Int) -> [Int] {
        var ends: [Int] = []
        for i in 0..<features {
            let end = min(features, product / (i + 1))
            if end <= i { break }
            ends.append(end)
        }
        return ends
    }

    /// The triangle of `features` features for `product`, columns dealt into `shards` shards, `cellBytes`
    /// (2 or 4) a cell, all zero.
    init(features: Int, product: Int, shards: Int, cellBytes: Int) {
        precondition(cellBytes == 2 || cellBytes == 4)
        var rows: [(start: Int, end: Int, quotient: Int, remainder: Int)] = []
        var cells = 0
        for end in Self.rowEnds(features: features, product: product) {
            rows.append((cells, end, end / shards, end % shards))
            cells += end
        }
        self.rows = rows
        self.rowCount = rows.count
        self.shards = shards
        self.count = cells
        self.cellBytes = cellBytes
        // Carries are counted by cell index in 32 bits (``DenseCarries``); memory plans stay far below (2^23
        // as the product is about 7 x 10^7 cells).
        precondition(cells < Int(UInt32.max), "a dense triangle of \(cells) cells is too large")
        narrow = cellBytes == 2 ? ZeroedMemory(count: cells) : nil
        wide = cellBytes == 4 ? ZeroedMemory(count: cells) : nil
    }

    /// The cells as `Cell` (whose size must be ``cellBytes``).
    @inline(__always)
    func cells<Cell: FixedWidthInteger & UnsignedInteger>(_: Cell.Type) -> UnsafeMutablePointer<Cell> {
        assert(MemoryLayout<Cell>.size == cellBytes)
        if let narrow { return UnsafeMutableRawPointer(narrow.pointer).assumingMemoryBound(to: Cell.self) }
        return UnsafeMutableRawPointer(wide!.pointer).assumingMemoryBound(to: Cell.self)
    }

    /// The address of the cell at `index` (for prefetching).
    @inline(__always)
    func address(of index: Int) -> UnsafeRawPointer {
        if let narrow { return UnsafeRawPointer(narrow.pointer + index) }
        return UnsafeRawPointer(wide!.pointer + index)
    }

    /// The cells of row `row` in column shard `shard`: where they start and how many (locals `0 ..< count`).
    @inline(__always)
    func segment(row: Int, shard: Int) -> (start: Int, count: Int) {
        let r = rows[row]
        return (r.start + shard * r.quotient + min(shard, r.remainder), r.quotient + (shard < r.remainder ? 1 : 0))
    }

    /// The units of the cell at `index` (beyond those carried into the hash tables).
    @inline(__always)
    func units(at index: Int) -> UInt64 {
        cellBytes == 2 ? UInt64(cells(UInt16.self)[index]) : UInt64(cells(UInt32.self)[index])
    }

    /// The (row, column) of the cell at `index`: the inverse of the shard-major layout, for the rare carry.
    func cell(at index: Int) -> (row: Int, column: Int) {
        // The last row starting at or before `index`.
        var low = 0, high = rows.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if rows[mid].start <= index { low = mid } else { high = mid - 1 }
        }
        let r = rows[low]
        let offset = index - r.start
        let wide = r.remainder * (r.quotient + 1)   // shards 0 ..< remainder hold quotient + 1 columns
        let (shard, local) = offset < wide
            ? (offset / (r.quotient + 1), offset % (r.quotient + 1))
            : (r.remainder + (offset - wide) / r.quotient, (offset - wide) % r.quotient)
        return (low, local * shards + shard)
    }
}

/// How many times each dense cell's sum passed the cell's width while counting, by cell index: open addressing
/// over 2^20 slots (8 MiB, mapped at the first carry; ``CountingPlan`` may choose fewer), drained into the
/// tables when half full and at the end.
/// A 16-bit cell of the benchmark corpus carries about once per 100 additions, 1.9M carries in 1.3M
/// distinct (cell, batch) pairs when they were added to the tables in batches of 4096; counted here, each cell is
/// placed in the matrix and added to the tables once.
final class DenseCarries {
    private let slotBits: Int
    /// Per slot: carries in the high 32 bits, cell index + 1 in the low 32 (0: empty).
    private var slots: ZeroedMemory<UInt64>?
    private var used = 0

    /// An empty map of `1 << slotBits` slots (at least 2).
    init(slotBits: Int) {
        self.slotBits = max(1, slotBits)
    }

    /// Counts one carry of cell `index` (below 2^32 - 1); returns true when the slots are half full and
    /// should be drained.
    @inline(__always)
    func add(_ index: Int) -> Bool {
        if slots == nil { slots = ZeroedMemory(count: 1 << slotBits) }
        let pointer = slots!.pointer
        let key = UInt64(index + 1)
        let mask = (1 << slotBits) - 1
        var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - slotBits))
        while true {
            let entry = pointer[slot]
            if entry == 0 {
                pointer[slot] = 1 << 32 | key
                used += 1
                return used * 2 >= 1 << slotBits
            }
            if entry & 0xFFFF_FFFF == key {
                pointer[slot] = entry &+ (1 << 32)
                return entry >> 32 == 0xFFFF_FFFE   // the count is about to overflow its 32 bits
            }
            slot = (slot + 1) & mask
        }
    }

    /// Calls `body` with each counted cell and its carries, then empties the slots.
    func drain(_ body: (_ index: Int, _ carries: UInt64) throws -> Void) rethrows {
        guard let slots, used > 0 else { return }
        for slot in 0..<slots.count where slots.pointer[slot] != 0 {
            let entry = slots.pointer[slot]
            slots.pointer[slot] = 0
            try body(Int(entry & 0xFFFF_FFFF) - 1, entry >> 32)
        }
        used = 0
    }
}
