import CPrefetch
import SwivelIO
#if canImport(Glibc)
import Glibc
#endif

/// Exact, order-independent co-occurrence weights: every count is an integer number of `1/scale` units.
///
/// A pair at distance `d` adds `1/d`. With `scale = lcm(1...window)` (window <= 18, so that it is at most
/// 2^24) every `1/d` is an exact integer number of units. Larger windows (up to 1000) use `scale = 2^24` with
/// `1/d` rounded to the nearest unit (an error below 3e-8 per addition, about float32's resolution). Either
/// way counts are integers of units, so sums are exact and do not depend on the order of addition: any thread
/// count, any spill pattern gives bitwise-identical shards. The scale stays at most 2^24 so that the dense
/// region's 32-bit cells hold at least 256 counts before they carry (an exact
/// `lcm` up to 2^32 would lose the dense region and make prep at window 20 about 3x slower). Sums are `UInt64` units:
/// at least 1.1e12 in weight per cell (7.3e15 for window 10, 5.1e13 for window 15) before overflow.
public struct CountScale: Sendable, Equatable {
    /// Units per 1.0 of weight.
    public let scale: UInt64
    /// `weights[d]` is the weight of a pair at distance `d`, in units (`weights[0]` is 0).
    public let weights: [UInt64]

    /// The scale for harmonic windows up to `window`.
    public init(window: Int) {
        var l: UInt64 = 1
        var exact = true
        for d in 1...max(window, 1) {
            let next = l / Self.gcd(l, UInt64(d)) * UInt64(d)
            if next > 1 << 24 { exact = false; break }
            l = next
        }
        scale = exact ? l : 1 << 24
        let s = scale
        weights = (0...max(window, 1)).map { d in
            d == 0 ? 0 : (exact ? s / UInt64(d) : UInt64((Double(s) / Double(d)).rounded()))
        }
    }

    /// A scale for counts read from files (`--counts`, GloVe): 2^20 units per 1.0.
    public init(externalCounts: Void) {
        scale = 1 << 20
        weights = [0]
    }

    /// `value` (a non-negative finite weight, at most ``maximumCount``) in units, rounded to the nearest unit.
    @inline(__always)
    public func units(_ value: Double) -> UInt64 {
        UInt64((value * Double(scale)).rounded())
    }

    /// The largest single count ``units(_:)`` accepts from a file (1e12: far above any real co-occurrence
    /// count, far below the 64-bit limit of the sums).
    public static let maximumCount = 1e12

    /// A sum of units as the float stored in shards.
    @inline(__always)
    public func float(_ units: UInt64) -> Float {
        Float(Double(units) / Double(scale))
    }

    private static func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var a = a, b = b
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}

/// Packs a matrix cell into one `UInt64` whose order is the order of shard files and of cells inside them.
///
/// `key = (rowShard * columnShards + columnShard) << 2L | localRow << L | localColumn`, with
/// `L = bits(shardSize - 1)`. Sorting keys sorts cells by block (row-shard major), then by local row,
/// then by local column: exactly the order in which shards are written, so merged runs stream straight
/// into shard files. `key = rowPart[row] + columnPart[column]` (two table lookups, no division).
public struct CellKeyLayout: Sendable {
    /// Row layout.
    public let rows: ShardLayout
    /// Column layout.
    public let columns: ShardLayout
    /// `L`: bits of a local index.
    public let localBits: Int
    /// Per row feature: its block-row part of the key.
    public let rowPart: [UInt64]
    /// Per column feature: its block-column part of the key.
    public let columnPart: [UInt64]

    /// Creates the packing, or returns nil when the blocks do not fit in the key (over about 2^(64-2L) blocks).
    public init?(rows: ShardLayout, columns: ShardLayout) {
        precondition(rows.shardSize == columns.shardSize, "rows and columns share a shard size")
        let size = rows.shardSize
        let bits = size <= 1 ? 0 : (Int.bitWidth - (size - 1).leadingZeroBitCount)
        let blocks = rows.shardCount.multipliedReportingOverflow(by: columns.shardCount)
        guard !blocks.overflow, 2 * bits < 62, blocks.partialValue < (1 << (62 - 2 * bits)) else { return nil }
        self.rows = rows
        self.columns = columns
        localBits = bits
        rowPart = (0..<rows.featureCount).map { r in
            UInt64(rows.shard(of: r) * columns.shardCount) << UInt64(2 * bits) | UInt64(rows.localIndex(of: r)) << UInt64(bits)
        }
        columnPart = (0..<columns.featureCount).map { c in
            UInt64(columns.shard(of: c)) << UInt64(2 * bits) | UInt64(columns.localIndex(of: c))
        }
    }

    /// The key of cell (`row`, `column`) in feature ids.
    @inline(__always)
    public func key(row: Int, column: Int) -> UInt64 { rowPart[row] &+ columnPart[column] }

    /// The block index (`rowShard * columnShards + columnShard`) of `key`.
    @inline(__always)
    public func block(of key: UInt64) -> Int { Int(key >> UInt64(2 * localBits)) }

    /// The local row of `key` within its block.
    @inline(__always)
    public func localRow(of key: UInt64) -> Int { Int((key >> UInt64(localBits)) & ((1 << UInt64(localBits)) - 1)) }

    /// The local column of `key` within its block.
    @inline(__always)
    public func localColumn(of key: UInt64) -> Int { Int(key & ((1 << UInt64(localBits)) - 1)) }
}

/// One counted cell: a packed key (``CellKeyLayout``) and its weight in ``CountScale`` units.
public struct CountedCell: Equatable, Sendable, BitwiseCopyable {
    /// Packed cell key.
    public var key: UInt64
    /// Accumulated weight in units.
    public var units: UInt64

    /// Creates a cell.
    @inline(__always)
    public init(key: UInt64, units: UInt64) {
        self.key = key
        self.units = units
    }
}

/// A hash map from packed cell keys to accumulated units, for one counting worker, bounded in size.
///
/// Open addressing with linear probing over interleaved key/value slots (a power of two), so a probe
/// touches one cache line; slots hold `key + 1`, so the zero pages of a fresh ``ZeroedMemory`` mapping are
/// an empty table. It doubles when half full until it reaches `maxCapacity` slots; at that size ``isFull``
/// turns true and the owner spills it: ``drainSorted(_:)`` sorts the cells in place, using the empty half
/// as the radix sort's scratch space, so spilling needs no memory beyond the table.
public final class CellTable {
    private var memory: ZeroedMemory<CountedCell>
    private var slots: UnsafeMutablePointer<CountedCell>
    /// Number of slots now (a power of two).
    public private(set) var capacity: Int
    /// The most slots the table may grow to.
    public let maxCapacity: Int
    private var shift: UInt64
    /// Cells held.
    public private(set) var count = 0

    /// Creates an empty table that may grow to `maxCapacity` slots (rounded down to a power of two, at
    /// least 64): at most `16 * maxCapacity` bytes, `24 * maxCapacity` while growing.
    public init(maxCapacity: Int, initialCapacity: Int = 1 << 16) {
        var limit = 64
        while limit * 2 <= maxCapacity { limit <<= 1 }
        self.maxCapacity = limit
        var start = 64
        while start * 2 <= min(limit, initialCapacity) { start <<= 1 }
        capacity = start   // a power of two, as the mask and shift need
        shift = UInt64(64 - capacity.trailingZeroBitCount)
        memory = ZeroedMemory(count: capacity)
        slots = memory.pointer
    }

    /// Bytes of memory the table holds now.
    public var bytes: Int { capacity * MemoryLayout<CountedCell>.stride }

    /// True when the table is at its largest and holds as many cells as it may (half its slots).
    @inline(__always)
    public var isFull: Bool { count * 2 >= capacity && capacity == maxCapacity }

    /// The slot where the probe for a stored key (`key + 1`) starts: Fibonacci hashing, the top bits of the key
    /// times 2^64 / golden ratio (`shift` is 64 - log2(capacity)).
    @inline(__always)
    private func home(ofStored stored: UInt64) -> Int {
        Int(truncatingIfNeeded: (stored &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    /// Asks the cache for the slot where the probe for cell `key` starts, ahead of its ``add(_:_:)``: adds
    /// whose slots were asked for a little earlier overlap their cache misses instead of stalling in turn.
    @inline(__always)
    public func prefetch(_ key: UInt64) {
        swivel_prefetch_for_write(slots + home(ofStored: key &+ 1))
    }

    /// Adds `units` to cell `key` (inserting it if new). The caller spills first when ``isFull``.
    @inline(__always)
    public func add(_ key: UInt64, _ units: UInt64) {
        let stored = key &+ 1
        var s = home(ofStored: stored)
        let mask = capacity - 1
        while true {
            let k = slots[s].key
            if k == stored { slots[s].units &+= units; return }
            if k == 0 {
                slots[s] = CountedCell(key: stored, units: units)
                count += 1
                if count * 2 >= capacity && capacity < maxCapacity { grow() }
                return
            }
            s = (s + 1) & mask
        }
    }

    private func grow() {
        let old = slots, oldCapacity = capacity, oldMemory = memory
        capacity *= 2
        shift -= 1
        memory = ZeroedMemory(count: capacity)
        slots = memory.pointer
        let mask = capacity - 1
        for i in 0..<oldCapacity where old[i].key != 0 {
            var s = home(ofStored: old[i].key)
            while slots[s].key != 0 { s = (s + 1) & mask }
            slots[s] = old[i]
        }
        withExtendedLifetime(oldMemory) {}
    }

    /// Hands the cells, sorted by key, to `body` and empties the table.
    ///
    /// The cells are packed to the front of the slot array and radix-sorted using the back half as
    /// scratch; `body` sees a buffer valid only during the call.
    public func drainSorted<R>(_ body: (UnsafeBufferPointer<CountedCell>) throws -> R) rethrows -> R {
        var n = 0
        for s in 0..<capacity where slots[s].key != 0 {
            slots[n] = CountedCell(key: slots[s].key &- 1, units: slots[s].units)
            n += 1
        }
        precondition(n * 2 <= capacity, "a cell table is never more than half full")
        let sorted = RadixSort.sort(UnsafeMutableBufferPointer(start: slots, count: n),
                                    scratch: UnsafeMutableBufferPointer(start: slots + n, count: n))
        defer {
            memset(slots, 0, capacity * MemoryLayout<CountedCell>.stride)
            count = 0
        }
        return try body(UnsafeBufferPointer(sorted))
    }
}

/// Least-significant-digit radix sort of cells by key, 16 bits a pass, skipping passes whose digit is
/// the same in every key.
public enum RadixSort {
    /// Sorts `cells` by key using `scratch` (same length); returns whichever of the two holds the result.
    public static func sort(_ cells: UnsafeMutableBufferPointer<CountedCell>,
                            scratch: UnsafeMutableBufferPointer<CountedCell>) -> UnsafeMutableBufferPointer<CountedCell> {
        precondition(scratch.count >= cells.count)
        let n = cells.count
        if n < 2 { return cells }
        var orAll: UInt64 = 0, andAll: UInt64 = .max
        for i in 0..<n { orAll |= cells[i].key; andAll &= cells[i].key }
        let varying = orAll ^ andAll
        var source = cells, target = UnsafeMutableBufferPointer(rebasing: scratch[0..<n])
        var histogram = [Int](repeating: 0, count: 1 << 16)
        for pass in 0..<4 {
            let shift = UInt64(pass * 16)
            if (varying >> shift) & 0xFFFF == 0 { continue }
            for b in 0..<histogram.count { histogram[b] = 0 }
            for i in 0..<n { histogram[Int((source[i].key >> shift) & 0xFFFF)] += 1 }
            var sum = 0
            for b in 0..<histogram.count {
                let c = histogram[b]
                histogram[b] = sum
                sum += c
            }
            for i in 0..<n {
                let cell = source[i]
                let b = Int((cell.key >> shift) & 0xFFFF)
                target[histogram[b]] = cell
                histogram[b] += 1
            }
            swap(&source, &target)
        }
        return source
    }
}
