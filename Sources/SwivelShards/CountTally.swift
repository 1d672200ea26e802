import CPrefetch
import Dispatch
import SwivelIO
#if canImport(Glibc)
import Glibc
#endif

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
