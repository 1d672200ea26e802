import Dispatch
import Foundation
import SwivelEmbeddings
import SwivelIO
import SwivelLinearAlgebra
import SwivelShards
import SwivelText

/// One line of the training log: the state after an epoch.
public struct EpochRecord: Codable, Sendable, Equatable {
    /// Epoch number, from 1.
    public var epoch: Int
    /// Mean loss per cell over the epoch.
    public var meanLoss: Double
    /// Seconds since training started.
    public var seconds: Double
}

/// What a training run did, for the summary line and `model.json`.
public struct TrainingSummary: Codable, Sendable {
    /// Epochs trained.
    public var epochs: Int
    /// Wall-clock seconds of the training loop.
    public var seconds: Double
    /// Matrix cells processed per second.
    public var cellsPerSecond: Double
    /// Mean loss per cell in the last epoch (nil with 0 epochs).
    public var finalMeanLoss: Double?
    /// OpenBLAS kernel in use.
    public var blasCore: String
    /// Blocks trained at once.
    public var workers: Int
    /// OpenBLAS threads per SGEMM.
    public var blasThreads: Int
    /// One record per epoch.
    public var log: [EpochRecord]
}

/// Trains Swivel embeddings from a prep directory: loads shards, runs epochs of block steps, writes a model.
public final class Trainer {
    /// The settings.
    public let config: TrainingConfiguration
    /// The prep directory's manifest.
    public let manifest: Manifest
    /// The prep directory.
    public let prepDirectory: String
    /// Every block, row-major (`row * columnShards + column`).
    let blocks: [TrainingBlock]
    /// Embeddings and optimizer state being trained.
    public let model: TrainingModel

    /// Loads and validates the prep directory, decodes every shard, and initialises the embeddings from the
    /// seed with N(0, 1/sqrt(d)) entries, as the reference does.
    public init(prepDirectory: String, config: TrainingConfiguration) throws {
        try config.validate()
        self.config = config
        self.prepDirectory = prepDirectory
        let manifest = try Manifest.read(directory: prepDirectory)
        self.manifest = manifest
        let rowSums = try MarginalsFile.read(from: prepDirectory + "/" + manifest.rowSums, expected: manifest.rows)
        let columnSums = try MarginalsFile.read(from: prepDirectory + "/" + manifest.columnSums, expected: manifest.columns)
        blocks = try Self.loadBlocks(manifest: manifest, directory: prepDirectory, config: config)

        var random = RandomSource(seed: config.seed)
        let d = config.dimension
        let sigma = 1 / Double(d).squareRoot()
        let rowValues = (0..<(manifest.rows * d)).map { _ in Float(random.nextGaussian() * sigma) }
        let columnValues = (0..<(manifest.columns * d)).map { _ in Float(random.nextGaussian() * sigma) }
        model = TrainingModel(
            rowEmbeddings: ParameterMatrix(rows: manifest.rows, dimension: d, values: rowValues),
            columnEmbeddings: ParameterMatrix(rows: manifest.columns, dimension: d, values: columnValues),
            rowOptimizer: OptimizerState(rows: manifest.rows, dimension: d, config: config),
            columnOptimizer: OptimizerState(rows: manifest.columns, dimension: d, config: config),
            rowSums: rowSums, columnSums: columnSums, total: manifest.total,
            rowShards: manifest.rowShards, columnShards: manifest.columnShards, shardSize: manifest.shardSize)
    }

    /// Reads every shard listed in the manifest, in parallel, checking each against the layout.
    static func loadBlocks(manifest: Manifest, directory: String, config: TrainingConfiguration) throws -> [TrainingBlock] {
        let entries = manifest.shards
        let results = ConcurrentSlots<Result<TrainingBlock, Error>?>(repeating: nil, count: entries.count)
        let rowLayout = manifest.rowLayout, columnLayout = manifest.columnLayout
        let workers = max(1, config.threads)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < entries.count {
                let entry = entries[index]
                let path = directory + "/shards/" + entry.file
                results[index] = Result {
                    let shard = try ShardFile.read(from: path)
                    guard shard.rowShard == entry.row, shard.columnShard == entry.column,
                          shard.rows == rowLayout.size(of: entry.row),
                          shard.columnCount == columnLayout.size(of: entry.column),
                          shard.nonzeroCount == entry.nonzeros else {
                        throw ShardError.inconsistent(path: path, reason: "does not match the manifest (block (\(shard.rowShard), \(shard.columnShard)), \(shard.rows) x \(shard.columnCount), \(shard.nonzeroCount) nonzeros); was it prepared with another shard size?")
                    }
                    return TrainingBlock(rowShard: shard.rowShard, columnShard: shard.columnShard,
                                         rows: shard.rows, columns: shard.columnCount, rowStart: shard.rowStart,
                                         columnIndex: shard.columns, counts: shard.values,
                                         confidenceBase: config.confidenceBase, confidenceScale: config.confidenceScale,
                                         confidenceExponent: config.confidenceExponent)
                }
                index += workers
            }
        }
        return try results.values.map { try $0!.get() }
    }

    /// Blocks trained at once: the thread count, but no more than a wave can hold.
    public var workers: Int { max(1, min(config.threads, min(manifest.rowShards, manifest.columnShards))) }

    /// Runs `config.epochs` epochs.
    ///
    /// Blocks of a wave share no row or column shard and run on separate workers with single-threaded BLAS
    /// (measured faster than one worker with multi-threaded BLAS); with one worker, BLAS gets every thread.
    /// The result depends only on the seed and the thread count.
    ///
    /// - Parameter onEpoch: called after each epoch with its record.
    public func train(progress: ProgressHandler? = nil, onEpoch: ((EpochRecord) -> Void)? = nil) throws -> TrainingSummary {
        let workers = self.workers
        let blasThreads = workers == 1 ? config.threads : 1
        BLAS.setThreads(blasThreads)
        let schedule = BlockSchedule(rowShards: manifest.rowShards, columnShards: manifest.columnShards, waveSize: workers)
        let workspaces = (0..<workers).map { _ in StepWorkspace(shardSize: manifest.shardSize, dimension: config.dimension) }
        let cellsPerEpoch = Double(manifest.rows) * Double(manifest.columns)
        let totalBlocks = Double(blocks.count * config.epochs)
        var log: [EpochRecord] = []
        let start = monotonicSeconds()
        let losses = ConcurrentSlots<Double>(repeating: 0, count: workers)
        let model = self.model
        let blocks = self.blocks
        let columnShards = manifest.columnShards
        var blocksDone = 0
        for epoch in stride(from: 1, through: config.epochs, by: 1) {
            var epochLoss: Double = 0
            var epochCells: Double = 0
            for wave in schedule.waves(epoch: epoch, seed: config.seed) {
                DispatchQueue.concurrentPerform(iterations: wave.count) { w in
                    let b = wave[w]
                    losses[w] = BlockStep.run(blocks[b.row * columnShards + b.column], model: model, workspace: workspaces[w])
                }
                for w in 0..<wave.count {
                    let loss = losses[w]
                    guard loss.isFinite else {
                        throw TrainingError.diverged(epoch: epoch, rowShard: wave[w].row, columnShard: wave[w].column,
                                                     learningRate: config.learningRate)
                    }
                    epochLoss += loss
                    let block = blocks[wave[w].row * columnShards + wave[w].column]
                    epochCells += Double(block.rows * block.columns)
                }
                blocksDone += wave.count
                progress?(ProgressUpdate(phase: "epoch \(epoch)/\(config.epochs)", done: Double(blocksDone),
                                         total: totalBlocks, unit: "blocks",
                                         detail: "loss \(Self.format(epochLoss / epochCells))"))
            }
            let record = EpochRecord(epoch: epoch, meanLoss: epochLoss / cellsPerEpoch, seconds: monotonicSeconds() - start)
            log.append(record)
            onEpoch?(record)
        }
        let seconds = monotonicSeconds() - start
        return TrainingSummary(epochs: config.epochs, seconds: seconds,
                               cellsPerSecond: seconds > 0 ? cellsPerEpoch * Double(config.epochs) / seconds : 0,
                               finalMeanLoss: log.last?.meanLoss, blasCore: BLAS.coreName, workers: workers,
                               blasThreads: blasThreads, log: log)
    }

    /// The current vectors with their words (`choice` as in export), e.g. for evaluation during training.
    public func embeddings(_ choice: VectorChoice) throws -> Embeddings {
        let d = config.dimension
        let rows = Matrix(rows: manifest.rows, columns: d, values: model.rowEmbeddings.values)
        let columns = Matrix(rows: manifest.columns, columns: d, values: model.columnEmbeddings.values)
        let rowTokens = try Vocabulary.read(from: prepDirectory + "/" + manifest.rowVocabulary).tokens
        switch choice {
        case .row: return Embeddings(tokens: rowTokens, vectors: rows)
        case .col:
            let columnTokens = try Vocabulary.read(from: prepDirectory + "/" + manifest.columnVocabulary).tokens
            return Embeddings(tokens: columnTokens, vectors: columns)
        case .sum, .concat:
            return Embeddings(tokens: rowTokens, vectors: Embeddings.combine(rows, columns, choice))
        }
    }

    /// Writes the trained model to `directory`: vocabularies, both embedding matrices, the training log and
    /// `model.json` (last, so a directory with `model.json` is a complete model).
    public func writeModel(to directory: String, summary: TrainingSummary, force: Bool) throws {
        try Self.prepareModelDirectory(directory, force: force)
        let d = config.dimension
        try EmbeddingMatrixFile.write(Matrix(rows: manifest.rows, columns: d, values: model.rowEmbeddings.values),
                                      to: directory + "/" + ModelDirectory.rowEmbeddings)
        try EmbeddingMatrixFile.write(Matrix(rows: manifest.columns, columns: d, values: model.columnEmbeddings.values),
                                      to: directory + "/" + ModelDirectory.columnEmbeddings)
        try AtomicFileWriter.write(try FileReader.readAll(prepDirectory + "/" + manifest.rowVocabulary),
                                   to: directory + "/" + ModelDirectory.rowVocabulary)
        try AtomicFileWriter.write(try FileReader.readAll(prepDirectory + "/" + manifest.columnVocabulary),
                                   to: directory + "/" + ModelDirectory.columnVocabulary)
        var logText = "epoch\tmean_loss\tseconds\n"
        for r in summary.log { logText += "\(r.epoch)\t\(r.meanLoss)\t\(Self.format(r.seconds))\n" }
        try AtomicFileWriter.write(logText, to: directory + "/" + ModelDirectory.trainingLog)
        let info = ModelInfo(writtenBy: manifest.writtenBy, prepDirectory: prepDirectory, rows: manifest.rows,
                             columns: manifest.columns, dimension: d, configuration: config, summary: summary)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.write([UInt8](try encoder.encode(info)) + [0x0A], to: directory + "/" + ModelDirectory.modelInfo)
    }

    /// Creates the model directory, refusing to replace an existing model unless `force`.
    public static func prepareModelDirectory(_ directory: String, force: Bool) throws {
        if FileReader.exists(directory) && !FileReader.isDirectory(directory) {
            throw FileError.cannotOpen(path: directory, reason: "exists and is not a directory")
        }
        if !force && FileReader.exists(directory + "/" + ModelDirectory.modelInfo) {
            throw TrainingError.outputExists(path: directory)
        }
        try FileReader.createDirectory(directory)
    }

    static func format(_ x: Double) -> String {
        String(format: "%.4f", x)
    }
}

/// The contents of `model.json`: how a model was trained and what it is.
public struct ModelInfo: Codable, Sendable {
    /// Always "swivel-model".
    public var format = "swivel-model"
    /// Format version.
    public var formatVersion = 1
    /// Version of the prep that produced the shards.
    public var writtenBy: String
    /// The prep directory trained on.
    public var prepDirectory: String
    /// Row features.
    public var rows: Int
    /// Column features.
    public var columns: Int
    /// Embedding dimension.
    public var dimension: Int
    /// Training settings.
    public var configuration: TrainingConfiguration
    /// Results.
    public var summary: TrainingSummary
}
