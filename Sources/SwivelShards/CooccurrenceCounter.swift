import CPrefetch
import Dispatch
import SwivelIO
#if canImport(Glibc)
import Glibc
#endif

/// How co-occurrences are counted in a line of feature ids.
public struct CountingOptions: Sendable, Codable, Equatable {
    /// Pairs up to this distance apart count (a symmetric window). The default, 15, was chosen by measurement
    /// on the benchmark corpus: against 10 (the reference's), WS353 0.590 -> 0.602 and Google analogy 38.0% ->
    /// 39.8%; 5 and 20 were worse and no better (README, "Defaults").
    public var window: Int
    /// Each in-vocabulary token adds this much to its own diagonal cell (the reference adds 1).
    public var selfWeight: Double
    /// word2vec's subsampling threshold `t` (nil: every occurrence counts), see ``Subsampling``.
    public var subsample: Double?
    /// Seed of the subsampling.
    public var seed: UInt64

    /// Creates options.
    public init(window: Int = 15, selfWeight: Double = 1, subsample: Double? = nil, seed: UInt64 = 1) {
        self.window = window
        self.selfWeight = selfWeight
        self.subsample = subsample
        self.seed = seed
    }
}

/// How the counter spends memory and files: worker count, table sizes, spill directory.
public struct CountingPlan: Sendable {
    /// Counting workers; worker `w` owns the row shards `s` with `s mod workers == w`.
    public var workers: Int
    /// Most hash-table slots per worker (16 bytes each; tables start at `initialTableSlots`, double while
    /// half full, and spill when half full at this size).
    public var tableSlots: Int
    /// Slots a table starts with (rounded down to a power of two, at most `tableSlots`; default 2^16; full size
    /// for a corpus that will fill its tables, see ``sizeTables(forTokens:window:)``).
    public var initialTableSlots = 1 << 16
    /// Slots (as a power of two) of each worker's map of dense cells' carries (see ``DenseCarries``): 2^20;
    /// tests make it tiny so that the map fills and is drained while counting.
    var carrySlotBits = 20
    /// Cells (i, j) with `(i + 1) * (j + 1) <= denseProduct` (frequent with frequent, as GloVe does) are
    /// counted in a dense array, 4 bytes a cell (2 for windows up to 10, see ``DenseTriangle``); 0 turns it
    /// off. Ids are ranks by frequency, so this hyperbolic region takes about 90% of a text corpus's pair
    /// updates. Counts of a corpus are symmetric, so only its upper triangle (i <= j) is stored: half the
    /// memory and half the additions. Each worker counts into a triangle of its own; they are summed before
    /// the shards are written. Used by ``CooccurrenceCounter/count(ids:options:)`` only (counts read from
    /// files go to the hash tables).
    public var denseProduct: Int
    /// Bytes per worker for sorted runs kept in memory; runs beyond it are written to disk.
    public var memoryRunBytes: Int64 = 0
    /// Where spilled runs go (a private directory the caller creates and removes).
    public var temporaryDirectory: String
    /// Most run files open at once for merging, over all workers.
    public var maxOpenFiles: Int = 64

    /// Creates a plan.
    public init(workers: Int, tableSlots: Int, denseProduct: Int, temporaryDirectory: String) {
        self.workers = workers
        self.tableSlots = tableSlots
        self.denseProduct = denseProduct
        self.temporaryDirectory = temporaryDirectory
    }

    /// Starts the tables at full size when `tokens` tokens counted with `window` will fill them: each token makes
    /// up to `2 x window` pairs, and when they are many times what the tables hold (summed over workers), growing
    /// a table through its doublings would only map fresh memory for the kernel to zero, and rehash.
    public mutating func sizeTables(forTokens tokens: Int64, window: Int) {
        if tokens * Int64(window) >= 8 * Int64(tableSlots) * Int64(workers) {
            initialTableSlots = tableSlots
        }
    }

    /// Cells stored for the dense region of `denseProduct` in a symmetric `rows x columns` matrix: the rows
    /// `i` of the upper triangle, each stored as columns `0 ..< min(columns, product / (i + 1))`.
    public static func denseCells(product: Int, rows: Int, columns: Int) -> Int {
        DenseTriangle.rowEnds(features: min(rows, columns), product: product).reduce(0, +)
    }

    /// A plan that keeps the counter within `memoryBytes`: up to a quarter (and at most 2^23 as the
    /// product) for the dense regions (one triangle per worker; 2^24 was no faster on the benchmark corpus);
    /// per worker a hash table of at most 2^21 slots (32 MiB: larger tables lose more to cache and TLB misses
    /// and page faults than they save; on the benchmark corpus with 16-bit dense cells, 2^21 slots were faster
    /// than 2^22 in 12 of 17 alternating pairs and 2^20 no faster), whose sorted runs stay in memory while the
    /// rest of the budget lasts.
    /// `symmetric` is false for counts read from files, which never use the dense region.
    public static func forMemory(_ memoryBytes: Int64, workers: Int, rows: Int, columns: Int, symmetric: Bool = true,
                                 temporaryDirectory: String) -> CountingPlan {
        var product = 0
        var candidate = 1 << 16
        // Every worker counts into a triangle of its own, budgeted at 4 bytes a cell (16-bit cells, see
        // ``DenseTriangle``, take half of that; each worker's map of carries, 8 MiB, is not budgeted).
        while symmetric && candidate <= 1 << 23
                && Int64(denseCells(product: candidate, rows: rows, columns: columns)) * 4 * Int64(workers) <= memoryBytes / 4 {
            product = candidate
            candidate <<= 1
        }
        let denseBytes = Int64(denseCells(product: product, rows: rows, columns: columns)) * 4 * Int64(workers)
        let perWorker = max(Int64(1 << 16), (memoryBytes - denseBytes) / Int64(workers))
        var slots = 1 << 12
        while slots < 1 << 21 && Int64(slots) * 2 * 24 <= perWorker / 4 { slots <<= 1 }
        var plan = CountingPlan(workers: workers, tableSlots: slots, denseProduct: product,
                                temporaryDirectory: temporaryDirectory)
        plan.memoryRunBytes = max(0, perWorker - Int64(slots) * 24)
        return plan
    }
}

/// A 128-bit unsigned sum, for exact marginals of ``CountScale`` units.
struct WideSum {
    var high: UInt64 = 0
    var low: UInt64 = 0

    @inline(__always)
    mutating func add(_ value: UInt64) {
        let (sum, carry) = low.addingReportingOverflow(value)
        low = sum
        if carry { high &+= 1 }
    }

    mutating func add(_ other: WideSum) {
        add(other.low)
        high &+= other.high
    }

    func double(scale: UInt64) -> Double {
        (Double(high) * 18_446_744_073_709_551_616.0 + Double(low)) / Double(scale)
    }
}

/// What counting wrote.
public struct CountResult: Sendable {
    /// Every shard, row-major.
    public var shards: [ShardEntry]
    /// Row marginals: exact sums of each row's counts.
    public var rowSums: [Double]
    /// Column marginals.
    public var columnSums: [Double]
    /// Sum of all counts.
    public var total: Double
    /// Nonzero cells.
    public var nonzeros: Int
    /// Sorted runs spilled to disk while counting (0 when everything fit in memory).
    public var spilledRuns: Int
    /// Bytes of the spilled runs.
    public var spilledBytes: Int64
}

/// The exact totals of a count assembled from parts (each worker's row shards, or each rank's): the shard
/// list, row and column marginals in units, nonzeros and spilled runs. Sums are integers of units, so the
/// parts may arrive in any order; ``result(unitsPerCount:)`` turns them into a ``CountResult``.
struct CountTally {
    private var shards: [ShardEntry?]
    private let columnShards: Int
    private var rowSums: [WideSum]
    private var columnSums: [WideSum]
    private var total = WideSum()
    private var nonzeros = 0
    private var spilledRuns = 0
    private var spilledBytes: Int64 = 0

    /// An empty tally for `rowShards x columnShards` blocks over `rowFeatures` rows and `columnFeatures` columns.
    init(rowShards: Int, columnShards: Int, rowFeatures: Int, columnFeatures: Int) {
        shards = Array(repeating: nil, count: rowShards * columnShards)
        self.columnShards = columnShards
        rowSums = Array(repeating: WideSum(), count: rowFeatures)
        columnSums = Array(repeating: WideSum(), count: columnFeatures)
    }

    /// Records a written shard file (each block once) and its nonzeros.
    mutating func add(_ entry: ShardEntry) {
        assert(shards[entry.row * columnShards + entry.column] == nil, "block (\(entry.row), \(entry.column)) written twice")
        shards[entry.row * columnShards + entry.column] = entry
        nonzeros += entry.nonzeros
    }

    /// Adds a part's share of a row's marginal (a worker's: the whole row it owns; a rank's: what it counted of
    /// every row) and adds it to the total.
    mutating func addRowSum(_ sum: WideSum, row: Int) {
        rowSums[row].add(sum)
        total.add(sum)
    }

    /// The row marginals so far, in units.
    var rowSumUnits: [WideSum] { rowSums }
    /// The column marginals so far, in units.
    var columnSumUnits: [WideSum] { columnSums }
    /// Runs spilled so far, and their bytes.
    var spills: (runs: Int, bytes: Int64) { (spilledRuns, spilledBytes) }

    /// Adds a part's spilled runs (files and bytes).
    mutating func addSpills(runs: Int, bytes: Int64) {
        spilledRuns += runs
        spilledBytes += bytes
    }

    /// Adds a part's share of a column's marginal.
    mutating func addColumnSum(_ sum: WideSum, column: Int) {
        columnSums[column].add(sum)
    }

    /// The count in counts (units divided by `unitsPerCount`); throws when a block was written by no part.
    func result(unitsPerCount: UInt64) throws -> CountResult {
        CountResult(shards: try shards.map {
                        guard let entry = $0 else { throw CountingError.failed("a block was written by no worker or rank") }
                        return entry
                    },
                    rowSums: rowSums.map { $0.double(scale: unitsPerCount) },
                    columnSums: columnSums.map { $0.double(scale: unitsPerCount) },
                    total: total.double(scale: unitsPerCount),
                    nonzeros: nonzeros, spilledRuns: spilledRuns, spilledBytes: spilledBytes)
    }
}

/// Counts weighted co-occurrences into bounded memory, spilling sorted runs to disk, and writes the shards.
///
/// In each line (a run of ids between `-1`s, out-of-vocabulary tokens already removed) a pair at distance
/// `d <= window` adds `1/d` to cell (a, b) and to cell (b, a), and every token adds `selfWeight` to its
/// diagonal cell. Weights are exact integers of ``CountScale`` units, so sums do not depend on order.
/// Worker `w` counts the pairs of its slice of each batch's positions: frequent x frequent pairs once into
/// its own dense triangle, the others into its hash table when it owns the row (worker `w` owns the row
/// shards `s` with `s mod workers == w`) or into an outbox that the owner empties into its table after the
/// batch. A full table spills as a sorted run; runs merge in levels (never more than `maxOpenFiles /
/// workers` open at a time). At the end the triangles are summed and each worker streams its rows' merged
/// cells straight into its shard files. Output is identical for any worker count and any memory limit.
public final class CooccurrenceCounter: @unchecked Sendable {
    /// Packing of cells into keys (row and column layouts).
    public let keys: CellKeyLayout
    /// Units of the counts.
    public let scale: CountScale
    /// Memory and file plan.
    public let plan: CountingPlan
    private let partitions: [RowPartition]

    /// Creates a counter; throws when the layout has too many blocks to pack.
    public init(rows: ShardLayout, columns: ShardLayout, scale: CountScale, plan: CountingPlan) throws {
        guard let keys = CellKeyLayout(rows: rows, columns: columns) else {
            throw PrepError.invalidOption("\(rows.shardCount) x \(columns.shardCount) shards are too many; raise --shard-size")
        }
        self.keys = keys
        self.scale = scale
        let workers = max(1, min(plan.workers, rows.shardCount))
        var plan = plan
        plan.workers = workers
        self.plan = plan
        let fanIn = max(2, plan.maxOpenFiles / workers - 1)
        // Dense cells hold UInt16 or UInt32 units (carries go to the tables); a symmetric corpus matrix only.
        // The largest single addition is a word paired with itself at distance 1 (twice the weight).
        let square = rows.featureCount == columns.featureCount && rows.shardCount == columns.shardCount
        let product = scale.scale <= 1 << 24 ? plan.denseProduct : 0
        let cellBytes = DenseTriangle.cellBytes(largestAddition: 2 * (scale.weights.max() ?? 0))
        let triangles = (0..<workers).map { _ in
            DenseTriangle(features: square ? rows.featureCount : 0, product: product, shards: columns.shardCount,
                          cellBytes: cellBytes)
        }
        // One read-only table for all workers (32 bytes a feature): the triangles share their geometry.
        let rowInfos = RowPartition.rowInfos(keys: keys, workers: workers, dense: triangles[0])
        partitions = (0..<workers).map {
            RowPartition(worker: $0, workers: workers, keys: keys, scale: scale, plan: plan, fanIn: fanIn,
                         dense: triangles[$0], rows: rowInfos)
        }
    }

    /// Counts the pairs of `ids` (vocabulary ids, `-1` ends a line), all workers in parallel.
    ///
    /// Call it once per batch of lines; batches may be given in any order.
    public func count(ids: UnsafeBufferPointer<Int32>, options: CountingOptions) throws {
        let window = options.window
        let scale = self.scale
        let selfUnits = scale.units(options.selfWeight)
        let box = UnsafeSendableBuffer(ids)
        let failures = ConcurrentSlots<String?>(repeating: nil, count: partitions.count)
        let partitions = self.partitions
        let n = partitions.count
        // Rounds of positions, each split between the workers (each pair belongs to the position of its later
        // token); table cells of rows another worker owns wait in an outbox that their owner empties after the
        // round. A round (one 4 MB chunk at window 10) is short enough that the outboxes stay bounded whatever
        // the window: at most 2 x 2^23 cells of 16 bytes per worker, about a tenth of that with a dense region.
        let round = n == 1 ? ids.count : max(1 << 12, (1 << 23) / max(1, window))
        for start in stride(from: 0, to: ids.count, by: max(round, 1)) {
            let count = min(round, ids.count - start)
            DispatchQueue.concurrentPerform(iterations: n) { w in
                do {
                    try partitions[w].count(ids: box.buffer, positions: (start + count * w / n)..<(start + count * (w + 1) / n),
                                            window: window, weights: scale.weights, selfUnits: selfUnits)
                } catch {
                    failures[w] = "\(error)"
                }
            }
            try rethrowFirst(failures)
            try handOverMail(failures)
        }
    }

    /// Every worker adds the cells the others left in its outbox to its table (in parallel), then the outboxes
    /// are emptied; nothing to do for one worker.
    private func handOverMail(_ failures: ConcurrentSlots<String?>) throws {
        let partitions = self.partitions
        guard partitions.count > 1 else { return }
        DispatchQueue.concurrentPerform(iterations: partitions.count) { w in
            do { try partitions[w].takeMail(from: partitions) } catch { failures[w] = "\(error)" }
        }
        for partition in partitions { partition.clearOutboxes() }
        try rethrowFirst(failures)
    }

    /// Adds explicit cells (feature ids and units) to their owners' tables: counts read from files, and the carries
    /// of the summed dense triangles; single-threaded.
    public func add(row: Int, column: Int, units: UInt64) throws {
        let w = keys.rows.shard(of: row) % partitions.count
        try partitions[w].add(row: row, column: column, units: units)
    }

    /// Merges everything counted and writes every shard file into `directory`, workers in parallel.
    ///
    /// - Parameter progress: called after each shard file with the number written so far.
    public func finish(writingTo directory: String, progress: (@Sendable (Int) -> Void)? = nil) throws -> CountResult {
        try finishTally(writingTo: directory, progress: progress).result(unitsPerCount: scale.scale)
    }

    /// ``finish(writingTo:progress:)``'s exact totals, before they become counts: prep across ranks adds the
    /// ranks' marginals up in units.
    func finishTally(writingTo directory: String, progress: (@Sendable (Int) -> Void)? = nil) throws -> CountTally {
        let n = partitions.count
        let failures = ConcurrentSlots<String?>(repeating: nil, count: n)
        let outputs = ConcurrentSlots<PartitionOutput?>(repeating: nil, count: n)
        let written = ConcurrentSlots<Int>(repeating: 0, count: 1)
        let lock = Lock()
        let partitions = self.partitions
        // Carries still counted per worker go to the tables (their owners' through the outboxes).
        DispatchQueue.concurrentPerform(iterations: n) { w in
            do { try partitions[w].flushCarries() } catch { failures[w] = "\(error)" }
        }
        try rethrowFirst(failures)
        try handOverMail(failures)
        // The workers' triangles summed into the first one (in slices, in parallel). A sum past the cell's width
        // keeps its low bits in the cell and carries the rest into the hash tables, as a carry while counting
        // does: a second array for the high bits cost a write of the whole triangle here and a second cache
        // miss per cell read when writing.
        let dense = partitions[0].dense
        if n > 1 && dense.count > 0 {
            let others = partitions.dropFirst().map(\.dense)
            let carries = dense.cellBytes == 2 ? Self.sum(others, into: dense, as: UInt16.self, slices: n)
                                               : Self.sum(others, into: dense, as: UInt32.self, slices: n)
            for other in partitions.dropFirst() { other.releaseDense() }
            for slice in carries {
                for (index, units) in slice {
                    let (lo, hi) = dense.cell(at: index)
                    try add(row: lo, column: hi, units: units)
                    if lo != hi { try add(row: hi, column: lo, units: units) }
                }
            }
        }
        DispatchQueue.concurrentPerform(iterations: n) { w in
            do {
                outputs[w] = try partitions[w].finish(dense: dense, directory: directory) {
                    lock.locked {
                        written[0] += 1
                        progress?(written[0])
                    }
                }
            } catch {
                failures[w] = "\(error)"
            }
        }
        try rethrowFirst(failures)
        var tally = CountTally(rowShards: keys.rows.shardCount, columnShards: keys.columns.shardCount,
                               rowFeatures: keys.rows.featureCount, columnFeatures: keys.columns.featureCount)
        for case let output? in outputs.values {
            for entry in output.shards { tally.add(entry) }
            for (row, sum) in output.rowSums { tally.addRowSum(sum, row: row) }
            for (column, sum) in output.columnSums.enumerated() { tally.addColumnSum(sum, column: column) }
            tally.addSpills(runs: output.runs, bytes: output.runBytes)
        }
        return tally
    }

    /// Adds the triangles `others` into `target` cell by cell, in `slices` slices in parallel; returns each
    /// slice's carries: (cell, its sum's multiple of 2^16 or 2^32 units that the cell cannot hold).
    private static func sum<Cell: FixedWidthInteger & UnsignedInteger>(
        _ others: [DenseTriangle], into target: DenseTriangle, as _: Cell.Type, slices: Int
    ) -> [[(index: Int, units: UInt64)]] {
        let carries = ConcurrentSlots<[(index: Int, units: UInt64)]>(repeating: [], count: slices)
        let count = target.count
        DispatchQueue.concurrentPerform(iterations: slices) { slice in
            let sources = others.map { $0.cells(Cell.self) }
            let cells = target.cells(Cell.self)
            var found: [(index: Int, units: UInt64)] = []
            for i in (count * slice / slices)..<(count * (slice + 1) / slices) {
                var sum = UInt64(cells[i])
                for source in sources { sum &+= UInt64(source[i]) }
                cells[i] = Cell(truncatingIfNeeded: sum)
                if sum > UInt64(Cell.max) { found.append((i, sum & ~UInt64(Cell.max))) }
            }
            carries[slice] = found
        }
        return carries.values
    }

    private func rethrowFirst(_ failures: ConcurrentSlots<String?>) throws {
        if let message = failures.values.compactMap({ $0 }).first {
            throw CountingError.failed(message)
        }
    }
}

/// A failure inside a counting worker, carrying the worker's one-line message.
public enum CountingError: Error, CustomStringConvertible {
    /// The message of the first worker that failed.
    case failed(String)

    /// The worker's message.
    public var description: String {
        switch self { case let .failed(message): return message }
    }
}

/// What one worker wrote: its shard files, the marginals of its rows (row, units), its share of every column's
/// marginal, and the runs it spilled.
struct PartitionOutput {
    var shards: [ShardEntry]
    var rowSums: [(Int, WideSum)]
    var columnSums: [WideSum]
    var runs: Int
    var runBytes: Int64
}

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
    /// provide (on this VM, fresh pages cost more than the carries: README, "Benchmark", session 9) and half
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

/// One feature as the counting loop needs it: the worker that owns its row, and (for the dense triangle)
/// where its dense row starts and ends.
struct RowInfo {
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
    func denseIndex(_ columnInfo: RowInfo) -> Int {
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
    private let rows: [RowInfo]
    /// This worker's dense triangle (all workers' are summed into the first before writing).
    private(set) var dense: DenseTriangle
    /// Table cells for other workers' rows, by owner, until ``takeMail(from:)``.
    private var outboxes: [[OutboxCell]]
    /// Carries of this worker's dense cells while counting, by cell.
    private let carries: DenseCarries
    private let table: CellTable
    /// Spilled runs on disk: file, cells, merge level (0 for a spilled table).
    private var runs: [(path: String, cells: Int, level: Int)] = []
    private var memoryRuns: [MemoryRun] = []
    private var memoryRunBytes: Int64 = 0
    private let memoryRunLimit: Int64
    private var runSerial = 0
    private(set) var spilledRuns = 0
    private(set) var spilledBytes: Int64 = 0

    /// Each feature's owner and dense row, for `workers` workers and triangles shaped like `dense`.
    static func rowInfos(keys: CellKeyLayout, workers: Int, dense: DenseTriangle) -> [RowInfo] {
        (0..<keys.rows.featureCount).map { r in
            let row = r < dense.rows.count ? dense.rows[r] : (start: 0, end: 0, quotient: 0, remainder: 0)
            return RowInfo(start: row.start, end: Int32(row.end), owner: Int32(keys.rows.shard(of: r) % workers),
                           quotient: Int32(row.quotient), remainder: Int32(row.remainder),
                           shard: Int32(keys.columns.shard(of: r)), local: Int32(keys.columns.localIndex(of: r)))
        }
    }

    /// A worker's share; `rows` from ``rowInfos(keys:workers:dense:)`` (shared by all workers).
    init(worker: Int, workers: Int, keys: CellKeyLayout, scale: CountScale, plan: CountingPlan, fanIn: Int,
         dense: DenseTriangle, rows: [RowInfo]) {
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
    private func mergeRuns(_ group: [(path: String, cells: Int, level: Int)], level: Int) throws {
        let path = nextRunPath()
        let readers = try group.map { try SpillRunReader(path: $0.path) }
        let cells = group.reduce(0) { $0 + $1.cells }
        spilledBytes += try SpillRun.merge(readers, to: path, directory: temporaryDirectory, expectedCells: cells)
        for old in group { unlink(old.path) }
        let merged = Set(group.map(\.path))
        runs.removeAll { merged.contains($0.path) }
        runs.append((path, cells, level))
    }

    /// Merges dense array, table and runs, and writes the shard files of the owned row shards in order.
    func finish(dense: DenseTriangle, directory: String, onShard: () -> Void) throws -> PartitionOutput {
        let nRow = keys.rows.shardCount, nColumn = keys.columns.shardCount
        // Raw buffers: as arrays captured by the merge closure below, every access paid a uniqueness check
        // (about 2% of prep's CPU, measured with perf).
        let columnSums = UnsafeMutableBufferPointer<WideSum>.allocate(capacity: keys.columns.featureCount)
        columnSums.initialize(repeating: WideSum())
        defer { columnSums.deallocate() }
        var rowSums: [(Int, WideSum)] = []
        var shards: [ShardEntry] = []
        let ownedShards = (0..<nRow).filter { $0 % workers == worker }
        // Every source is sorted in block order, so one cursor per source walks forward block by block and
        // row by row; a row's cells from all sources (and the dense array) are summed in a row-wide array.
        let localBits = UInt64(keys.localBits)
        let largestColumnShard = keys.columns.size(of: 0)
        let accumulator = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: largestColumnShard)
        accumulator.initialize(repeating: 0)
        defer { accumulator.deallocate() }
        // Which accumulator entries a row touched, one bit each: read back in column order without sorting
        // (sorting a list of touched columns per row took about 4% of prep's CPU, measured with perf).
        let touched = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: (largestColumnShard + 63) / 64)
        touched.initialize(repeating: 0)
        defer { touched.deallocate() }
        let rowSumsOfShard = UnsafeMutableBufferPointer<WideSum>.allocate(capacity: keys.rows.size(of: 0))
        defer { rowSumsOfShard.deallocate() }
        // A block's column sums by local column, folded into `columnSums` once per block: contiguous, where the
        // block's features are `nColumn` apart in `columnSums` (adding there per cell took 16% of this merge's
        // time, measured with perf).
        let blockColumnSums = UnsafeMutableBufferPointer<WideSum>.allocate(capacity: largestColumnShard)
        blockColumnSums.initialize(repeating: WideSum())
        defer { blockColumnSums.deallocate() }
        // At most `fanIn` runs may be open while merging: fold the smallest ones together first.
        while runs.count > fanIn {
            let smallest = runs.sorted { $0.cells < $1.cells }.prefix(min(fanIn, runs.count - fanIn + 1))
            try mergeRuns(Array(smallest), level: (smallest.map(\.level).max() ?? 0) + 1)
        }
        try table.drainSorted { sorted in
            // Each block's cells go straight into its shard file's sections (buffers reused from block to block:
            // fresh large arrays cost page faults); a local of this closure, not a captured variable.
            var encoder = ShardUnitsEncoder(unitsPerCount: scale.scale)
            var cursors = [CellCursor(borrowing: sorted)]   // valid until this closure returns
            for run in memoryRuns { cursors.append(CellCursor(run)) }
            memoryRuns = []
            for run in runs { cursors.append(try CellCursor(reader: SpillRunReader(path: run.path))) }
            // Read row after row without retaining each cursor (`cursors` keeps them alive).
            let cursorReferences = cursors.map { Unmanaged.passUnretained($0) }
            for rowShard in ownedShards {
                let rows = keys.rows.size(of: rowShard)
                let sums = UnsafeMutableBufferPointer(rebasing: rowSumsOfShard[0..<rows])
                sums.initialize(repeating: WideSum())
                for columnShard in 0..<nColumn {
                    let block = rowShard * nColumn + columnShard
                    let columnCount = keys.columns.size(of: columnShard)
                    encoder.beginBlock()
                    for l in 0..<rows {
                        let row = keys.rows.featureID(shard: rowShard, local: l)
                        // Dense cells of this row in this column shard: (c, row) stored in row c for c < row (the
                        // cell of local `l` in row c's segment for this row shard; dense rows end earlier as c
                        // grows), (row, c) in this row's segment for this column shard for c >= row.
                        var column = columnShard, k = 0
                        while column < row && column < dense.rowCount && row < dense.rows[column].end {
                            let index = dense.segment(row: column, shard: rowShard).start + l
                            // These reads go down a column of the triangle: each cache line serves 16 rows (32 of
                            // 16-bit cells), and the next one is asked for 16 rows early (they missed the cache:
                            // 20% of this merge's time, measured with perf).
                            swivel_prefetch_for_read(dense.address(of: index + 16))
                            let units = dense.units(at: index)
                            if units != 0 {
                                touched[k >> 6] |= 1 << UInt64(k & 63)
                                accumulator[k] &+= units
                            }
                            column += nColumn
                            k += 1
                        }
                        if column < row {
                            // Past the rows whose dense columns reach this row: skip to the first c >= row.
                            k = (row - columnShard + nColumn - 1) / nColumn
                        }
                        if row < dense.rowCount {
                            let segment = dense.segment(row: row, shard: columnShard)
                            while k < segment.count {
                                let units = dense.units(at: segment.start + k)
                                if units != 0 {
                                    touched[k >> 6] |= 1 << UInt64(k & 63)
                                    accumulator[k] &+= units
                                }
                                k += 1
                            }
                        }
                        let rowEnd = (UInt64(block) << (2 * localBits)) + (UInt64(l + 1) << localBits)
                        for reference in cursorReferences {
                            try reference._withUnsafeGuaranteedRef { cursor in
                                while let cell = try cursor.peek(), cell.key < rowEnd {
                                    let local = keys.localColumn(of: cell.key)
                                    if cell.units != 0 { touched[local >> 6] |= 1 << UInt64(local & 63) }
                                    accumulator[local] &+= cell.units
                                    cursor.advance()
                                }
                            }
                        }
                        encoder.beginRow(maxCells: columnCount)
                        for w in 0..<((columnCount + 63) / 64) where touched[w] != 0 {
                            var bits = touched[w]
                            touched[w] = 0
                            while bits != 0 {
                                let k = w << 6 | bits.trailingZeroBitCount
                                bits &= bits &- 1
                                let units = accumulator[k]
                                accumulator[k] = 0
                                encoder.add(column: k, units: units)
                                sums[l].add(units)
                                blockColumnSums[k].add(units)
                            }
                        }
                        encoder.endRow()
                        guard encoder.nonzeroCount < Int(Int32.max) else {
                            throw CountingError.failed("block (\(rowShard), \(columnShard)) has more than 2^31 nonzeros; use a smaller --shard-size")
                        }
                    }
                    for k in 0..<columnCount {
                        columnSums[keys.columns.featureID(shard: columnShard, local: k)].add(blockColumnSums[k])
                        blockColumnSums[k] = WideSum()
                    }
                    let file = ShardFile.fileName(rowShard: rowShard, columnShard: columnShard)
                    let nonzeros = encoder.nonzeroCount
                    // A shard takes at most about 6 bytes a nonzero; check before writing, naming the directory.
                    try SystemResources.requireDiskSpace(Int64(nonzeros) * 6 + (1 << 20), in: directory, for: "shard files")
                    let bytes = try encoder.fileBytes(rowShard: rowShard, columnShard: columnShard, rows: rows,
                                                      columns: columnCount)
                    try AtomicFileWriter.write(bytes, to: directory + "/" + file)
                    shards.append(ShardEntry(file: file, row: rowShard, column: columnShard, nonzeros: nonzeros))
                    onShard()
                }
                for (local, sum) in sums.enumerated() {
                    rowSums.append((keys.rows.featureID(shard: rowShard, local: local), sum))
                }
            }
            for cursor in cursors {
                let left = try cursor.peek()
                precondition(left == nil, "every counted cell belongs to an owned block")
            }
        }
        for run in runs { unlink(run.path) }
        runs = []
        memoryRuns = []
        return PartitionOutput(shards: shards, rowSums: rowSums, columnSums: Array(columnSums),
                               runs: spilledRuns, runBytes: spilledBytes)
    }
}

/// A sorted run of cells kept in memory as `varint(key - previous key) varint(units)` pairs: 4-6 bytes a
/// cell instead of 16 (a spill's 2^21 cells take about 10 MiB instead of 32, pages the kernel must zero).
final class MemoryRun {
    /// The most bytes a cell can take (two 10-byte varints).
    static let maximumBytesPerCell = 20
    /// The encoded cells (read in place by ``CellCursor``).
    let bytes: UnsafeMutablePointer<UInt8>
    /// Bytes used.
    let byteCount: Int

    /// Encodes `cells` (sorted by key, distinct keys).
    init(_ cells: UnsafeBufferPointer<CountedCell>) {
        // Untouched pages of the worst-case allocation take no memory.
        let output = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, cells.count * Self.maximumBytesPerCell))
        var at = 0
        var previous: UInt64 = 0
        for cell in cells {
            UnsafeVarint.write(cell.key &- previous, to: output, at: &at)
            UnsafeVarint.write(cell.units, to: output, at: &at)
            previous = cell.key
        }
        bytes = output
        byteCount = at
    }

    deinit { bytes.deallocate() }

    /// Decodes the cell at byte `at` of a run's `bytes` (keys are stored as gaps from `previous`, the key of the
    /// cell before) and moves `at` past it.
    @inline(__always)
    static func cell(in bytes: UnsafePointer<UInt8>, at: inout Int, after previous: UInt64) -> CountedCell {
        let key = previous &+ UnsafeVarint.read(from: bytes, at: &at)
        let units = UnsafeVarint.read(from: bytes, at: &at)
        return CountedCell(key: key, units: units)
    }
}

/// A forward cursor over sorted cells from one of three sources: the drained table's cells (borrowed), an
/// in-memory ``MemoryRun``, or a spilled run read frame by frame.
///
/// The source's kind is a plain enum and its memory raw pointers, so that reading the next cell retains no
/// object (an enum payload of a class is retained at every `switch`; perf put swift_retain/release at 7% of
/// the merge).
final class CellCursor {
    private enum Kind { case borrowed, memory, spill }

    private let kind: Kind
    /// Borrowed cells (the drained table's).
    private let cells: UnsafeBufferPointer<CountedCell>
    /// A memory run's bytes; the run is kept alive by `run`.
    private let runBytes: UnsafePointer<UInt8>?
    private let runByteCount: Int
    private let run: MemoryRun?
    private let reader: SpillRunReader?
    /// The current cell's index in the borrowed cells or in `frame`; for a memory run, the byte offset of the
    /// cell after `current`.
    private var position = 0
    /// A memory run's current cell (nil at its end).
    private var current: CountedCell?
    /// A spilled run's current frame.
    private var frame: [CountedCell] = []

    init(_ run: MemoryRun) {
        kind = .memory
        cells = UnsafeBufferPointer(start: nil, count: 0)
        self.run = run
        runBytes = UnsafePointer(run.bytes)
        runByteCount = run.byteCount
        reader = nil
        advanceInRun(after: 0)
    }

    /// A cursor over cells the caller keeps valid while it is used (no copy: the drained table's cells are as
    /// many as 32 MiB, which a copy would take in fresh pages for the kernel to zero).
    init(borrowing cells: UnsafeBufferPointer<CountedCell>) {
        kind = .borrowed
        self.cells = cells
        run = nil
        runBytes = nil
        runByteCount = 0
        reader = nil
    }

    init(reader: SpillRunReader) throws {
        kind = .spill
        cells = UnsafeBufferPointer(start: nil, count: 0)
        run = nil
        runBytes = nil
        runByteCount = 0
        self.reader = reader
    }

    /// The current cell, or nil at the end.
    @inline(__always)
    func peek() throws -> CountedCell? {
        switch kind {
        case .borrowed:
            return position < cells.count ? cells[position] : nil
        case .memory:
            return current
        case .spill:
            while position >= frame.count {
                guard let next = try reader!.nextFrame() else { return nil }
                frame = next
                position = 0
            }
            return frame[position]
        }
    }

    /// Moves past the current cell.
    @inline(__always)
    func advance() {
        guard kind == .memory else {
            position += 1
            return
        }
        guard let previous = current else { return }
        advanceInRun(after: previous.key)
    }

    /// Decodes the memory run's cell at `position`, after the cell whose key is `previous`, or ends the run.
    @inline(__always)
    private func advanceInRun(after previous: UInt64) {
        guard position < runByteCount, let bytes = runBytes else {
            current = nil
            return
        }
        current = MemoryRun.cell(in: bytes, at: &position, after: previous)
    }
}
