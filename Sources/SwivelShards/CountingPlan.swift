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
    /// 39.8%; 5 and 20 were worse and no better (docs/benchmarks.md, "Defaults").
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
