import CPrefetch
import Dispatch
import SwivelIO
#if canImport(Glibc)
import Glibc
#endif

extension RowPartition {
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
