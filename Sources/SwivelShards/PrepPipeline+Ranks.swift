import Foundation
import SwivelConcurrency
import SwivelIO
import SwivelText

extension PrepPipeline {
    /// Runs the prep as rank `ranks.rank` of `ranks.size` (`mpirun -np p swivel prep ...`), writing exactly the
    /// prep directory a single process writes, byte for byte.
    ///
    /// Every rank reads the inputs (a shared file system, or identical copies at the same paths) and tokenizes
    /// and counts only the chunks `i` (4 MB of whole lines, numbered as in a single process) with
    /// `i mod p == rank`. Rank 0 sums the ranks' token tables and chooses the vocabulary with the same rules
    /// and sort, then sends it to every rank. Each rank counts its chunks (all rows), writes its partial blocks
    /// (exact units) to its temporary directory, then sends each block to the rank that owns the block's row
    /// shard (`row shard mod p`), which sums the parts and writes the shard into the shared output directory.
    /// Rank 0 gathers the marginals, writes vocabularies, marginals and the manifest, and shares the manifest:
    /// every rank returns the same summary. Counts are integers of the same units everywhere, so the sums are
    /// exact and the shards equal a single process's.
    ///
    /// Standard input cannot be shared by ranks and is refused. A failing rank leaves the others waiting:
    /// callers end them all (`MPI_Abort`).
    public static func runAsRank(_ config: PrepConfiguration, ranks: RankCommunicator,
                                 progress: ProgressHandler? = nil) throws -> PrepSummary {
        try config.validate()
        let files = try CorpusInputs.expand(config.inputs, excluding: [config.output]).files
        if files.contains("-") {
            throw PrepError.invalidOption("standard input (-) cannot be shared by MPI ranks; give files on a shared file system")
        }
        return try withOutput(config, ranks: ranks) { temporary, config in
            try run(config, files: files, temporary: temporary, progress: progress, ranks: ranks)
        }
    }
}

/// The messages of a prep across ranks: token tables to rank 0, the vocabulary back, partial blocks to
/// their owners, marginals to rank 0.
enum RankExchange {
    /// Sums every rank's token table on rank 0, chooses the vocabulary there with `choose`, and returns it
    /// with the total token count and the number of distinct tokens on every rank. `input` (bytes read and
    /// chunks cut) must be the same on every rank: ranks that read different files would deal different
    /// chunks, so rank 0 refuses. An error on rank 0 is raised on every rank.
    static func vocabulary(_ table: TokenTable, tokens: Int64, input: (bytes: Int64, chunks: Int), ranks: RankCommunicator,
                           choose: (TokenTable, Int64) throws -> Vocabulary) throws -> (Vocabulary, Int64, Int) {
        var message = ByteWriter()
        message.appendVarint(UInt64(input.bytes))
        message.appendVarint(UInt64(input.chunks))
        message.appendVarint(UInt64(tokens))
        message.appendVarint(UInt64(table.count))
        for id in 0..<table.count {
            message.appendCounted(table.bytes(of: id))
            message.appendVarint(UInt64(table.occurrences(of: id)))
        }
        let gathered = try ranks.gatherBytes(message.bytes)
        var reply = ByteWriter()
        if ranks.rank == 0 {
            do {
                var merged = TokenTable()
                var total: Int64 = 0
                for (rank, bytes) in gathered.enumerated() {
                    try bytes.withUnsafeBytes { raw in
                        var reader = ByteReader(raw)
                        let (inputBytes, chunks) = (Int64(try reader.readVarint()), Int(try reader.readVarint()))
                        guard inputBytes == input.bytes && chunks == input.chunks else {
                            throw CountingError.failed("rank \(rank) read \(inputBytes) bytes of input in \(chunks) chunks, rank 0 read \(input.bytes) bytes in \(input.chunks): every rank must see the same input files (a shared file system or identical copies at the same paths)")
                        }
                        total += Int64(try reader.readVarint())
                        for _ in 0..<Int(try reader.readVarint()) {
                            let token = try reader.readCountedBytes()
                            _ = merged.intern(token, occurrences: Int64(try reader.readVarint()))
                        }
                    }
                }
                let vocabulary = try choose(merged, total)
                reply.append(UInt8(1))
                reply.appendVarint(UInt64(total))
                reply.appendVarint(UInt64(merged.count))
                reply.appendVarint(UInt64(vocabulary.count))
                for (token, count) in zip(vocabulary.tokens, vocabulary.counts) {
                    reply.appendCounted(token.utf8)
                    reply.appendVarint(UInt64(count))
                }
            } catch {
                reply = ByteWriter()
                reply.append(UInt8(0))
                reply.append(Array("\(error)".utf8))
                _ = try ranks.broadcastBytes(reply.bytes)
                throw error
            }
        }
        let answer = try ranks.broadcastBytes(reply.bytes)
        return try answer.withUnsafeBytes { raw in
            var reader = ByteReader(raw)
            guard try reader.read(UInt8.self) == 1 else {
                throw CountingError.failed(String(decoding: answer.dropFirst(), as: UTF8.self))
            }
            let total = Int64(try reader.readVarint())
            let distinct = Int(try reader.readVarint())
            var tokens: [String] = [], counts: [Int64] = []
            for _ in 0..<Int(try reader.readVarint()) {
                tokens.append(String(decoding: try reader.readCountedBytes(), as: UTF8.self))
                counts.append(Int64(try reader.readVarint()))
            }
            return (Vocabulary(tokens: tokens, counts: counts), total, distinct)
        }
    }

    /// Writes this rank's counts as partial blocks, exchanges them so that the owner of each row shard
    /// (`row shard mod p`) sums and writes its blocks into `output/shards`, and gathers the marginals (each
    /// rank's, exact in units, summed) and the shard list on rank 0, which gets the whole ``CountResult`` (the
    /// others get nil).
    static func finish(counter: CooccurrenceCounter, layout: ShardLayout, output: String, temporary: String,
                       memoryBytes: Int64, sendBudgetBytes: Int? = nil, ranks: RankCommunicator,
                       progress: ProgressHandler?) throws -> CountResult? {
        let partial = temporary + "/partial"
        try FileReader.createDirectory(partial)
        let local = try counter.finishTally(writingTo: partial)
        let p = ranks.size, k = ranks.rank
        let n = layout.shardCount
        let unitsPerCount = counter.scale.scale
        var entries: [ShardEntry] = []
        let owned = (0..<n).filter { $0 % p == k }.count * n
        var written = 0
        // Every rank walks the blocks in the same order: it receives the parts of the blocks it owns and starts
        // sending (without waiting) the blocks others own, so all ranks merge at once. The smallest block not yet
        // delivered always has its sends started and its owner receiving, so the exchange cannot deadlock; at
        // most `sendBudget` bytes wait to be sent (then the oldest send is waited for).
        var pending: [(send: PendingSend, bytes: Int)] = []
        var pendingBytes = 0
        let sendBudget = sendBudgetBytes ?? max(64 << 20, Int(memoryBytes / 4))
        for rowShard in 0..<n {
            let owner = rowShard % p
            let rows = layout.size(of: rowShard)
            for columnShard in 0..<n {
                let name = ShardFile.fileName(rowShard: rowShard, columnShard: columnShard)
                let bytes = try FileReader.readAll(partial + "/" + name)
                unlink(partial + "/" + name)
                guard owner == k else {
                    pending.append((try ranks.startSendingBytes(bytes, to: owner), bytes.count))
                    pendingBytes += bytes.count
                    while pendingBytes > sendBudget, !pending.isEmpty {
                        try pending[0].send.wait()
                        pendingBytes -= pending.removeFirst().bytes
                    }
                    continue
                }
                var parts = [try ShardFile.decodeUnits(bytes, path: partial + "/" + name)]
                for r in 0..<p where r != k {
                    parts.append(try ShardFile.decodeUnits(try ranks.receiveBytes(from: r), path: "block \(name) from rank \(r)"))
                }
                let columnCount = layout.size(of: columnShard)
                for part in parts where part.unitsPerCount != unitsPerCount || part.block.rowCount != rows
                    || part.block.columnCount != columnCount || part.block.rowShard != rowShard || part.block.columnShard != columnShard {
                    throw CountingError.failed("block \(name) from another rank does not match this rank's (block (\(part.block.rowShard), \(part.block.columnShard)), \(part.block.rowCount) x \(part.block.columnCount), units \(part.unitsPerCount)); were all ranks started with the same options?")
                }
                var merged = CSRUnits(rowStart: parts[0].block.rowStart, columns: parts[0].block.columnIndex, units: parts[0].units)
                for part in parts.dropFirst() {
                    guard merged.columns.count + part.block.columnIndex.count < Int(Int32.max) else {
                        throw CountingError.failed("block (\(rowShard), \(columnShard)) has more than 2^31 nonzeros; use a smaller --shard-size")
                    }
                    merged = merged.adding(CSRUnits(rowStart: part.block.rowStart, columns: part.block.columnIndex, units: part.units))
                }
                let (rowStart, columns, units) = (merged.rowStart, merged.columns, merged.units)
                let block = ShardBlock(rowShard: rowShard, columnShard: columnShard, rowCount: rows, columnCount: columnCount,
                                       rowStart: rowStart, columnIndex: columns, values: [])
                try SystemResources.requireDiskSpace(Int64(columns.count) * 6 + (1 << 20), in: output + "/shards", for: "shard files")
                try ShardFile.write(block, units: units, unitsPerCount: unitsPerCount, to: output + "/shards/" + name)
                entries.append(ShardEntry(file: name, row: rowShard, column: columnShard, nonzeros: columns.count))
                written += 1
                progress?(ProgressUpdate(phase: "writing", done: Double(written), total: Double(owned), unit: "shards"))
            }
        }

        for message in pending { try message.send.wait() }
        pending = []

        // Marginals and shard list to rank 0.
        var message = ByteWriter()
        message.appendVarint(UInt64(local.spills.runs))
        message.appendVarint(UInt64(local.spills.bytes))
        message.appendVarint(UInt64(entries.count))
        for e in entries {
            for v in [e.row, e.column, e.nonzeros] { message.appendVarint(UInt64(v)) }
        }
        for sum in local.rowSumUnits + local.columnSumUnits {
            message.append(sum.high)
            message.append(sum.low)
        }
        let gathered = try ranks.gatherBytes(message.bytes)
        guard k == 0 else { return nil }
        var tally = CountTally(rowShards: n, columnShards: n, rowFeatures: layout.featureCount,
                               columnFeatures: layout.featureCount)
        for bytes in gathered {
            try bytes.withUnsafeBytes { raw in
                var reader = ByteReader(raw)
                tally.addSpills(runs: Int(try reader.readVarint()), bytes: Int64(try reader.readVarint()))
                for _ in 0..<Int(try reader.readVarint()) {
                    let row = Int(try reader.readVarint()), column = Int(try reader.readVarint())
                    tally.add(ShardEntry(file: ShardFile.fileName(rowShard: row, columnShard: column),
                                         row: row, column: column, nonzeros: Int(try reader.readVarint())))
                }
                for row in 0..<layout.featureCount {
                    tally.addRowSum(WideSum(high: try reader.read(UInt64.self), low: try reader.read(UInt64.self)), row: row)
                }
                for c in 0..<layout.featureCount {
                    tally.addColumnSum(WideSum(high: try reader.read(UInt64.self), low: try reader.read(UInt64.self)), column: c)
                }
            }
        }
        return try tally.result(unitsPerCount: counter.scale.scale)
    }
}

/// A block in CSR form with exact units (`rowStart`: rows + 1 offsets; strictly increasing columns per row).
struct CSRUnits {
    var rowStart: [Int32]
    var columns: [Int32]
    var units: [UInt64]

    /// The cell-by-cell sum of two blocks of the same shape: one merge pass per row.
    func adding(_ other: CSRUnits) -> CSRUnits {
        let rows = rowStart.count - 1
        var outStart = [Int32](repeating: 0, count: rows + 1)
        var outColumns = [Int32](), outUnits = [UInt64]()
        outColumns.reserveCapacity(columns.count + other.columns.count)
        outUnits.reserveCapacity(columns.count + other.columns.count)
        rowStart.withUnsafeBufferPointer { aStart in
        columns.withUnsafeBufferPointer { aColumns in
        units.withUnsafeBufferPointer { aUnits in
        other.rowStart.withUnsafeBufferPointer { bStart in
        other.columns.withUnsafeBufferPointer { bColumns in
        other.units.withUnsafeBufferPointer { bUnits in
            for l in 0..<rows {
                var i = Int(aStart[l]), j = Int(bStart[l])
                let iEnd = Int(aStart[l + 1]), jEnd = Int(bStart[l + 1])
                while i < iEnd || j < jEnd {
                    if j == jEnd || (i < iEnd && aColumns[i] < bColumns[j]) {
                        outColumns.append(aColumns[i]); outUnits.append(aUnits[i]); i += 1
                    } else if i == iEnd || bColumns[j] < aColumns[i] {
                        outColumns.append(bColumns[j]); outUnits.append(bUnits[j]); j += 1
                    } else {
                        outColumns.append(aColumns[i]); outUnits.append(aUnits[i] &+ bUnits[j]); i += 1; j += 1
                    }
                }
                outStart[l + 1] = Int32(outColumns.count)
            }
        }}}}}}
        return CSRUnits(rowStart: outStart, columns: outColumns, units: outUnits)
    }
}
