import SwivelIO
import Dispatch

/// How co-occurrences are counted in a line of feature ids.
public struct CountingOptions: Sendable, Codable, Equatable {
    /// Pairs up to this distance apart count (a symmetric window).
    public var window: Int
    /// Each in-vocabulary token adds this much to its own diagonal cell (the reference adds 1).
    public var selfWeight: Double

    /// Creates options.
    public init(window: Int = 10, selfWeight: Double = 1) {
        self.window = window
        self.selfWeight = selfWeight
    }
}

/// A hash map from a matrix cell (row, column) to its accumulated count, in Double.
///
/// Open addressing, linear probing, power-of-two capacity kept at most half full. Keys are
/// `row << 32 | column`; `UInt64.max` marks an empty slot.
struct CellTable {
    static let empty = UInt64.max
    var keys: [UInt64]
    var values: [Double]
    var count = 0
    var mask: Int

    init(capacity: Int = 1 << 16) {
        var size = 1024
        while size < capacity * 2 { size <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [Double](repeating: 0, count: size)
        mask = size - 1
    }

    @inline(__always)
    static func slot(_ key: UInt64) -> Int {
        // Fibonacci hashing spreads the structured keys over the table.
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20)
    }

    @inline(__always)
    mutating func add(_ key: UInt64, _ value: Double) {
        var s = Self.slot(key) & mask
        while true {
            let k = keys[s]
            if k == key { values[s] += value; return }
            if k == Self.empty {
                keys[s] = key
                values[s] = value
                count += 1
                if count * 2 > keys.count { grow() }
                return
            }
            s = (s + 1) & mask
        }
    }

    mutating func grow() {
        let oldKeys = keys, oldValues = values
        let size = keys.count * 2
        keys = [UInt64](repeating: Self.empty, count: size)
        values = [Double](repeating: 0, count: size)
        mask = size - 1
        for i in 0..<oldKeys.count where oldKeys[i] != Self.empty {
            var s = Self.slot(oldKeys[i]) & mask
            while keys[s] != Self.empty { s = (s + 1) & mask }
            keys[s] = oldKeys[i]
            values[s] = oldValues[i]
        }
    }
}

/// Counts weighted co-occurrences of feature ids and lays them out as shard blocks.
///
/// In each line (a run of ids between `lineBreak`s, out-of-vocabulary tokens already removed), a pair at
/// distance `d <= window` adds `1/d` to cell (a, b) and to cell (b, a) (harmonic weighting), and every
/// token adds `selfWeight` to its diagonal cell. Work is split by row shard: worker `t` owns the rows whose
/// shard is `t mod threads`, so each cell is summed by one worker in corpus order and the counts are
/// bitwise identical whatever the thread count.
public struct CooccurrenceCounter {
    /// The counting rule.
    public let options: CountingOptions
    /// The shard layout of rows and columns (the matrix is square: rows and columns share the vocabulary).
    public let layout: ShardLayout

    /// Creates a counter.
    public init(options: CountingOptions, layout: ShardLayout) {
        self.options = options
        self.layout = layout
    }

    /// Counts `ids` (vocabulary ids, `-1` ends a line) and returns every block, row-shard major.
    ///
    /// - Returns: `layout.shardCount * layout.shardCount` blocks; block (r, c) is at `r * n + c`.
    public func count(ids: [Int32], threads: Int, progress: (@Sendable (Double) -> Void)? = nil) -> [ShardBlock] {
        let n = layout.shardCount
        let workers = max(1, min(threads, n))
        let blocks = ConcurrentSlots<[ShardBlock]>(repeating: [], count: workers)
        let window = options.window
        let selfWeight = options.selfWeight
        let layout = self.layout
        ids.withUnsafeBufferPointer { idsPointer in
            let idsBox = UnsafeSendableBuffer(idsPointer)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let ids = idsBox.buffer
                var table = CellTable(capacity: 1 << 20)
                var owns = [Bool](repeating: false, count: n)
                for shard in 0..<n where shard % workers == worker { owns[shard] = true }
                var ownsFeature = [Bool](repeating: false, count: layout.featureCount)
                for f in 0..<layout.featureCount { ownsFeature[f] = owns[layout.shard(of: f)] }
                let weights = (0...window).map { $0 == 0 ? 0 : 1.0 / Double($0) }
                var lineStart = 0
                let total = ids.count
                var nextReport = 1 << 22
                for position in 0..<total {
                    let a = ids[position]
                    if a < 0 {
                        lineStart = position + 1
                        continue
                    }
                    let ia = Int(a)
                    let ownA = ownsFeature[ia]
                    if ownA && selfWeight != 0 {
                        table.add(UInt64(ia) << 32 | UInt64(ia), selfWeight)
                    }
                    // Pair `a` with the tokens before it in the line, at distances 1...window.
                    var d = 1
                    while d <= window && position - d >= lineStart {
                        let ib = Int(ids[position - d])
                        let w = weights[d]
                        if ownA { table.add(UInt64(ia) << 32 | UInt64(ib), w) }
                        if ownsFeature[ib] { table.add(UInt64(ib) << 32 | UInt64(ia), w) }
                        d += 1
                    }
                    if worker == 0 && position >= nextReport {
                        nextReport += 1 << 22
                        progress?(Double(position) / Double(total))
                    }
                }
                blocks[worker] = Self.extractBlocks(table: &table, layout: layout, ownedShards: owns)
            }
        }
        var result = [ShardBlock?](repeating: nil, count: n * n)
        for list in blocks.values {
            for block in list { result[block.rowShard * n + block.columnShard] = block }
        }
        return result.map { $0! }
    }

    /// Turns a worker's cell table into the CSR blocks of the row shards it owns.
    private static func extractBlocks(table: inout CellTable, layout: ShardLayout, ownedShards: [Bool]) -> [ShardBlock] {
        let n = layout.shardCount
        // Count cells per block, then place them, then sort each block by (local row, local column).
        var perBlock = [Int](repeating: 0, count: n * n)
        for s in 0..<table.keys.count where table.keys[s] != CellTable.empty {
            let key = table.keys[s]
            let row = Int(key >> 32), column = Int(key & 0xFFFF_FFFF)
            perBlock[layout.shard(of: row) * n + layout.shard(of: column)] += 1
        }
        var offsets = [Int](repeating: 0, count: n * n + 1)
        for b in 0..<(n * n) { offsets[b + 1] = offsets[b] + perBlock[b] }
        var cells = [LocalCell](repeating: LocalCell(key: 0, value: 0), count: table.count)
        var fill = offsets
        for s in 0..<table.keys.count where table.keys[s] != CellTable.empty {
            let key = table.keys[s]
            let row = Int(key >> 32), column = Int(key & 0xFFFF_FFFF)
            let b = layout.shard(of: row) * n + layout.shard(of: column)
            // Local key: row local index in the high half, column local index in the low half.
            cells[fill[b]] = LocalCell(key: UInt64(layout.localIndex(of: row)) << 32 | UInt64(layout.localIndex(of: column)),
                                       value: Float(table.values[s]))
            fill[b] += 1
        }
        table = CellTable(capacity: 1)
        var blocks: [ShardBlock] = []
        for rowShard in 0..<n where ownedShards[rowShard] {
            for columnShard in 0..<n {
                let b = rowShard * n + columnShard
                var local = Array(cells[offsets[b]..<offsets[b + 1]])
                local.sort { $0.key < $1.key }
                let rows = layout.size(of: rowShard)
                var rowStart = [Int32](repeating: 0, count: rows + 1)
                var columns = [Int32](repeating: 0, count: local.count)
                var values = [Float](repeating: 0, count: local.count)
                for (k, cell) in local.enumerated() {
                    rowStart[Int(cell.key >> 32) + 1] += 1
                    columns[k] = Int32(cell.key & 0xFFFF_FFFF)
                    values[k] = cell.value
                }
                for r in 0..<rows { rowStart[r + 1] += rowStart[r] }
                blocks.append(ShardBlock(rowShard: rowShard, columnShard: columnShard, rows: rows,
                                         columnCount: layout.size(of: columnShard),
                                         rowStart: rowStart, columns: columns, values: values))
            }
        }
        return blocks
    }
}

/// A cell of one block: local row in the high 32 bits of `key`, local column in the low 32 bits.
struct LocalCell {
    var key: UInt64
    var value: Float
}

