import Dispatch
import SwivelConcurrency
import SwivelIO
import SwivelShards

/// Reading a prep directory's shards into the blocks training steps on.
extension Trainer {
    /// Reads every shard listed in the manifest (or those of one row group), in parallel, checking each against
    /// the layout. Blocks outside `rowGroup` are placeholders with no CSR offsets (`rowStart` empty), never
    /// trained.
    static func loadBlocks(manifest: Manifest, directory: String, config: TrainingConfiguration,
                           rowGroup: (Int, Int)? = nil) throws -> [TrainingBlock] {
        let entries = manifest.shards
        let results = ConcurrentSlots<Result<TrainingBlock, Error>?>(repeating: nil, count: entries.count)
        let rowLayout = manifest.rowLayout, columnLayout = manifest.columnLayout
        let workers = max(1, config.threads)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < entries.count {
                let entry = entries[index]
                if let (group, groups) = rowGroup, entry.row % groups != group {
                    results[index] = .success(TrainingBlock(rowShard: entry.row, columnShard: entry.column,
                                                            rowCount: rowLayout.size(of: entry.row),
                                                            columnCount: columnLayout.size(of: entry.column),
                                                            rowStart: [], columnIndex: [], counts: [],
                                                            confidenceBase: config.confidenceBase,
                                                            confidenceScale: config.confidenceScale,
                                                            confidenceExponent: config.confidenceExponent))
                    index += workers
                    continue
                }
                results[index] = Result { try loadBlock(entry, manifest: manifest, directory: directory, config: config) }
                index += workers
            }
        }
        return try results.values.map { try $0!.get() }
    }

    /// Reads and decodes one shard file, checking it against the manifest's layout.
    static func loadBlock(_ entry: ShardEntry, manifest: Manifest, directory: String,
                          config: TrainingConfiguration) throws -> TrainingBlock {
        let path = directory + "/shards/" + entry.file
        let shard = try ShardFile.read(from: path)
        guard shard.rowShard == entry.row, shard.columnShard == entry.column,
              shard.rowCount == manifest.rowLayout.size(of: entry.row),
              shard.columnCount == manifest.columnLayout.size(of: entry.column),
              shard.nonzeroCount == entry.nonzeros else {
            throw ShardError.inconsistent(path: path, reason: "does not match the manifest (block (\(shard.rowShard), \(shard.columnShard)), \(shard.rowCount) x \(shard.columnCount), \(shard.nonzeroCount) nonzeros); was it prepared with another shard size?")
        }
        return TrainingBlock(rowShard: shard.rowShard, columnShard: shard.columnShard,
                             rowCount: shard.rowCount, columnCount: shard.columnCount, rowStart: shard.rowStart,
                             columnIndex: shard.columnIndex, counts: shard.values,
                             confidenceBase: config.confidenceBase, confidenceScale: config.confidenceScale,
                             confidenceExponent: config.confidenceExponent)
    }

    /// Whether every decoded block (a column index, `log x` and `f(x)` per nonzero, 12 bytes, plus the row
    /// offsets) takes at most half the memory the kernel says is available (16 GiB available assumed when unknown).
    static func decodedBlocksFit(_ manifest: Manifest) -> Bool {
        let bytes = Int64(manifest.nonzeros) * 12 + Int64(manifest.rows + manifest.rowShards) * Int64(manifest.columnShards) * 4
        return bytes <= (SystemResources.availableMemoryBytes() ?? (16 << 30)) / 2
    }
}
