import CPrefetch
import Dispatch
import SwivelConcurrency
import SwivelIO
#if canImport(Glibc)
import Glibc
#endif


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
        let placements = RowPartition.placements(keys: keys, workers: workers, dense: triangles[0])
        partitions = (0..<workers).map {
            RowPartition(worker: $0, workers: workers, keys: keys, scale: scale, plan: plan, fanIn: fanIn,
                         dense: triangles[$0], rows: placements)
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
        let written = Locked(0)
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
                    written.withValue {
                        $0 += 1
                        progress?($0)
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
    private static func sum<Cell: FixedWidthInteger & UnsignedInteger & SendableMetatype>(
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
