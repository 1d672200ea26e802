import CPrefetch
import Dispatch
import SwivelIO
#if canImport(Glibc)
import Glibc
#endif

/// What one worker wrote: its shard files, the marginals of its rows (row, units), its share of every column's
/// marginal, and the runs it spilled.
struct PartitionOutput {
    var shards: [ShardEntry]
    var rowSums: [(Int, WideSum)]
    var columnSums: [WideSum]
    var runs: Int
    var runBytes: Int64
}

/// One feature as the counting loop needs it: the worker that owns its row, and (for the dense triangle)
/// where its dense row starts and ends.
struct FeaturePlacement {
    /// Start of the dense row.
    var start: Int
    /// Dense columns are `j < end` (0 past the triangle's rows).
    var end: Int32
    var owner: Int32
    /// `end` as `quotient * shards + remainder` (see ``DenseTriangle``).
    var quotient: Int32
    var remainder: Int32
    /// This feature as a column: its shard and local index.
    var shard: Int32
    var local: Int32

    /// Where the dense cell (this feature's row, the feature `columnInfo` describes as its column) lives.
    @inline(__always)
    func denseIndex(_ columnInfo: FeaturePlacement) -> Int {
        let s = Int(columnInfo.shard)
        return start + s * Int(quotient) + min(s, Int(remainder)) + Int(columnInfo.local)
    }
}

/// A table cell counted by one worker for a row another worker owns, waiting to be handed over.
struct OutboxCell {
    var row: Int32
    var column: Int32
    var units: UInt64
}

/// One worker's share. While counting: the pairs of its slice of positions, frequent x frequent ones in its
/// own dense triangle, the others in its spilling hash table when it owns the row (rows of its row shards),
/// else in an outbox for the row's owner. While writing: the rows of its row shards, from the summed
/// triangles, its table and its runs.
final class RowPartition: @unchecked Sendable {
    let worker: Int
    let workers: Int
    let keys: CellKeyLayout
    let scale: CountScale
    let fanIn: Int
    let temporaryDirectory: String
    /// Per feature: owner and dense row.
    private let rows: [FeaturePlacement]
    /// This worker's dense triangle (all workers' are summed into the first before writing).
    private(set) var dense: DenseTriangle
    /// Table cells for other workers' rows, by owner, until ``takeMail(from:)``.
    private var outboxes: [[OutboxCell]]
    /// Carries of this worker's dense cells while counting, by cell.
    private let carries: DenseCarries
    let table: CellTable
    /// Spilled runs on disk: file, cells, merge level (0 for a spilled table).
    var runs: [(path: String, cells: Int, level: Int)] = []
    var memoryRuns: [MemoryRun] = []
    private var memoryRunBytes: Int64 = 0
    private let memoryRunLimit: Int64
    private var runSerial = 0
    private(set) var spilledRuns = 0
    private(set) var spilledBytes: Int64 = 0

    /// Each feature's owner and dense row, for `workers` workers and triangles shaped like `dense`.
    static func placements(keys: CellKeyLayout, workers: Int, dense: DenseTriangle) -> [FeaturePlacement] {
        (0..<keys.rows.featureCount).map { r in
            let row = r < dense.rows.count ? dense.rows[r] : (start: 0, end: 0, quotient: 0, remainder: 0)
            return FeaturePlacement(start: row.start, end: Int32(row.end), owner: Int32(keys.rows.shard(of: r) % workers),
                           quotient: Int32(row.quotient), remainder: Int32(row.remainder),
                           shard: Int32(keys.columns.shard(of: r)), local: Int32(keys.columns.localIndex(of: r)))
        }
    }

    /// A worker's share; `rows` from ``placements(keys:workers:dense:)`` (shared by all workers).
    init(worker: Int, workers: Int, keys: CellKeyLayout, scale: CountScale, plan: CountingPlan, fanIn: Int,
         dense: DenseTriangle, rows: [FeaturePlacement]) {
        self.worker = worker
        self.workers = workers
        self.keys = keys
        self.scale = scale
        self.fanIn = fanIn
        self.dense = dense
        temporaryDirectory = plan.temporaryDirectory
        memoryRunLimit = plan.memoryRunBytes
        self.rows = rows
        outboxes = Array(repeating: [], count: workers)
        table = CellTable(maxCapacity: plan.tableSlots, initialCapacity: plan.initialTableSlots)
        carries = DenseCarries(slotBits: plan.carrySlotBits)
    }

    /// Adds the outbox cells the other workers counted for this worker's rows to its table.
    func takeMail(from partitions: [RowPartition]) throws {
        // Each cell's slot is asked for `ahead` cells before it is added, so that the table's cache misses overlap.
        let ahead = 16
        for other in partitions where other !== self {
            try other.outboxes[worker].withUnsafeBufferPointer { cells in
                // A key is two table lookups and an add: computing it again beats keeping a ring of them.
                for i in cells.indices {
                    if i + ahead < cells.count {
                        table.prefetch(keys.key(row: Int(cells[i + ahead].row), column: Int(cells[i + ahead].column)))
                    }
                    try addToTable(row: Int(cells[i].row), column: Int(cells[i].column), units: cells[i].units)
                }
            }
        }
    }

    /// Empties the outboxes once every owner took its cells (keeping up to 1M cells of capacity each).
    func clearOutboxes() {
        for w in outboxes.indices { outboxes[w].removeAll(keepingCapacity: outboxes[w].capacity <= 1 << 20) }
    }

    /// Frees this worker's triangle once it was added to the first worker's.
    func releaseDense() {
        dense = DenseTriangle(features: 0, product: 0, shards: 1, cellBytes: 4)
    }

    @inline(__always)
    private func addToTable(row: Int, column: Int, units: UInt64) throws {
        try addToTable(key: keys.key(row: row, column: column), units: units)
    }

    /// Adds units to this worker's table cell `key`, spilling the table first when it is full.
    @inline(__always)
    private func addToTable(key: UInt64, units: UInt64) throws {
        if table.isFull { try spill() }
        table.add(key, units)
    }

    /// Adds a table cell of a row with owner `owner`: to this worker's table, or to the owner's outbox.
    @inline(__always)
    private func addCell(row: Int, column: Int, units: UInt64, owner: Int32) throws {
        if Int(owner) == worker {
            try addToTable(row: row, column: column, units: units)
        } else {
            post(row: row, column: column, units: units, to: owner)
        }
    }

    /// Leaves a table cell of another worker's row in that worker's outbox, for ``takeMail(from:)``.
    @inline(__always)
    private func post(row: Int, column: Int, units: UInt64, to owner: Int32) {
        outboxes[Int(owner)].append(OutboxCell(row: Int32(row), column: Int32(column), units: units))
    }

    /// Adds the carries counted in ``carries`` to the tables or outboxes (each worth 2^16 or 2^32 units, the
    /// triangle's cell width, of both cells the triangle's cell stands for) and empties it: while counting when
    /// the map is half full (the outboxes are emptied after the round), and once counting is done, followed by
    /// a ``takeMail(from:)`` of every worker.
    func flushCarries() throws {
        let unitsEach = UInt64(1) << UInt64(8 * dense.cellBytes)
        try carries.drain { index, carried in
            let (lo, hi) = dense.cell(at: index)
            try addCell(row: lo, column: hi, units: carried * unitsEach, owner: rows[lo].owner)
            if lo != hi { try addCell(row: hi, column: lo, units: carried * unitsEach, owner: rows[hi].owner) }
        }
    }

    /// Adds explicit units to an owned row's cell, in the hash table (counts read from files are not
    /// symmetric); zero adds nothing (shards store positive counts only).
    func add(row: Int, column: Int, units: UInt64) throws {
        if units == 0 { return }
        try addToTable(row: row, column: column, units: units)
    }

    /// Counts the pairs whose later token is at one of `positions` in `ids`: a pair (a, b) in the dense
    /// triangle adds once to (min, max) (twice for a == b, which is one cell) in this worker's triangle; any
    /// other pair adds to (a, b) and (b, a), in this worker's table or the owner's outbox.
    func count(ids: UnsafeBufferPointer<Int32>, positions: Range<Int>, window: Int, weights: [UInt64], selfUnits: UInt64) throws {
        if dense.cellBytes == 2 {
            try count(ids: ids, positions: positions, window: window, weights: weights, selfUnits: selfUnits,
                      cells: dense.cells(UInt16.self))
        } else {
            try count(ids: ids, positions: positions, window: window, weights: weights, selfUnits: selfUnits,
                      cells: dense.cells(UInt32.self))
        }
    }

    /// ``count(ids:positions:window:weights:selfUnits:)`` for the triangle's cell type.
    private func count<Cell: FixedWidthInteger & UnsignedInteger>(
        ids: UnsafeBufferPointer<Int32>, positions: Range<Int>, window: Int, weights: [UInt64], selfUnits: UInt64,
        cells: UnsafeMutablePointer<Cell>
    ) throws {
        // Dense additions and this worker's table additions are queued for a batch of positions while their
        // cells (and table slots) are prefetched, then applied: the cache misses of a batch overlap instead of
        // stalling one after the other (the table's, measured with perf, were a third of this loop's time).
        let batchPositions = 16
        let capacity = batchPositions * (window + 1)
        let pendingIndex = UnsafeMutablePointer<Int>.allocate(capacity: capacity)
        let pendingUnits = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity)
        let pendingKeys = UnsafeMutablePointer<UInt64>.allocate(capacity: 2 * capacity)
        let pendingKeyUnits = UnsafeMutablePointer<UInt64>.allocate(capacity: 2 * capacity)
        defer {
            pendingIndex.deallocate()
            pendingUnits.deallocate()
            pendingKeys.deallocate()
            pendingKeyUnits.deallocate()
        }
        var pending = 0, pendingTable = 0
        func flush() throws {
            for i in 0..<pending {
                let cell = cells + pendingIndex[i]
                let (sum, carry) = cell.pointee.addingReportingOverflow(Cell(truncatingIfNeeded: pendingUnits[i]))
                cell.pointee = sum
                if carry && carries.add(pendingIndex[i]) { try flushCarries() }
            }
            pending = 0
            for i in 0..<pendingTable { try addToTable(key: pendingKeys[i], units: pendingKeyUnits[i]) }
            pendingTable = 0
        }
        /// A table cell of a row with owner `owner`: queued (its slot prefetched) when this worker owns the row,
        /// else into the owner's outbox.
        func queueCell(row: Int, column: Int, units: UInt64, owner: Int32) {
            if Int(owner) == worker {
                assert(pendingTable < 2 * capacity, "a batch queues at most 2 table cells per pair")
                let key = keys.key(row: row, column: column)
                table.prefetch(key)
                pendingKeys[pendingTable] = key
                pendingKeyUnits[pendingTable] = units
                pendingTable += 1
            } else {
                post(row: row, column: column, units: units, to: owner)
            }
        }
        try rows.withUnsafeBufferPointer { rows in
            try weights.withUnsafeBufferPointer { weights in
                // The line of the first position may have started before the slice: find its start within the window.
                var lineStart = 0
                var back = positions.lowerBound - 1
                while back >= max(0, positions.lowerBound - window) {
                    if ids[back] < 0 { lineStart = back + 1; break }
                    back -= 1
                }
                let rowsBase = rows.baseAddress!
                for position in positions {
                    if (position - positions.lowerBound) % batchPositions == 0 { try flush() }
                    // A rare word's row info misses the cache: ask for it a batch ahead.
                    if position + batchPositions < positions.upperBound {
                        let ahead = ids[position + batchPositions]
                        if ahead >= 0 { swivel_prefetch_for_read(rowsBase + Int(ahead)) }
                    }
                    let a = ids[position]
                    if a < 0 {
                        lineStart = position + 1
                        continue
                    }
                    let ia = Int(a)
                    let infoA = rows[ia]
                    if selfUnits != 0 {
                        if ia < Int(infoA.end) && selfUnits <= UInt64(Cell.max) {
                            pendingIndex[pending] = infoA.denseIndex(infoA)
                            pendingUnits[pending] = UInt32(truncatingIfNeeded: selfUnits)
                            pending += 1
                        } else {
                            try addCell(row: ia, column: ia, units: selfUnits, owner: infoA.owner)
                        }
                    }
                    let first = max(lineStart, position - window)
                    var q = position - 1
                    while q >= first {
                        let ib = Int(ids[q])
                        let w = weights[position - q]
                        let infoB = rows[ib]
                        let (lo, hi) = ia <= ib ? (ia, ib) : (ib, ia)
                        let (infoLo, infoHi) = ia <= ib ? (infoA, infoB) : (infoB, infoA)
                        if hi < Int(infoLo.end) {
                            let index = infoLo.denseIndex(infoHi)
                            swivel_prefetch_for_write(cells + index)
                            pendingIndex[pending] = index
                            pendingUnits[pending] = UInt32(truncatingIfNeeded: lo == hi ? 2 * w : w)
                            pending += 1
                        } else {
                            queueCell(row: lo, column: hi, units: w, owner: infoLo.owner)
                            queueCell(row: hi, column: lo, units: w, owner: infoHi.owner)
                        }
                        q -= 1
                    }
                }
                try flush()
            }
        }
    }

    private func nextRunPath() -> String {
        runSerial += 1
        return temporaryDirectory + "/run-\(worker)-\(runSerial)"
    }

    /// Keeps the table's cells as a sorted run in memory while the budget lasts, else writes them to disk
    /// (merging disk runs into one when there are `fanIn` of them).
    private func spill() throws {
        let cells = table.count
        if memoryRunBytes + Int64(cells) * Int64(MemoryRun.maximumBytesPerCell) <= memoryRunLimit {
            let run = table.drainSorted { MemoryRun($0) }
            memoryRuns.append(run)
            memoryRunBytes += Int64(run.byteCount)
            return
        }
        let path = nextRunPath()
        let bytes = try table.drainSorted { sorted in
            try SpillRun.write(sorted, to: path, directory: temporaryDirectory)
        }
        runs.append((path, cells, 0))
        spilledRuns += 1
        spilledBytes += bytes
        // Whenever `fanIn` runs share a level, merge them into one run of the next level: every cell is
        // rewritten once per level, log_fanIn(runs) times in all.
        while let level = Set(runs.map(\.level)).sorted().first(where: { l in runs.filter { $0.level == l }.count >= fanIn }) {
            let group = runs.filter { $0.level == level }.prefix(fanIn)
            try mergeRuns(Array(group), level: level + 1)
        }
    }

    /// Merges `group` (at most `fanIn` runs) into one run of `level`.
    func mergeRuns(_ group: [(path: String, cells: Int, level: Int)], level: Int) throws {
        let path = nextRunPath()
        let readers = try group.map { try SpillRunReader(path: $0.path) }
        let cells = group.reduce(0) { $0 + $1.cells }
        spilledBytes += try SpillRun.merge(readers, to: path, directory: temporaryDirectory, expectedCells: cells)
        for old in group { unlink(old.path) }
        let merged = Set(group.map(\.path))
        runs.removeAll { merged.contains($0.path) }
        runs.append((path, cells, level))
    }
}
