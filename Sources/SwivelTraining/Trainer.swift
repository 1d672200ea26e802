import Dispatch
import Foundation
import SwivelEmbeddings
import SwivelIO
import SwivelLinearAlgebra
import SwivelShards
import SwivelText

/// One line of the training log: the state after an epoch.
public struct EpochRecord: Codable, Sendable, Equatable {
    /// Epoch number, from 1 (within its ensemble member).
    public var epoch: Int
    /// Ensemble member, from 0 (always 0 for a one-member run).
    public var member: Int = 0
    /// Mean loss per cell over the epoch (estimated from every 8th row of each block, see
    /// ``BlockStep/trainingLossRowStride``).
    public var meanLoss: Double
    /// Seconds since training started.
    public var seconds: Double

    /// A record of `epoch` of ensemble member `member`.
    public init(epoch: Int, member: Int = 0, meanLoss: Double, seconds: Double) {
        self.epoch = epoch
        self.member = member
        self.meanLoss = meanLoss
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey { case epoch, member, meanLoss, seconds }

    /// Decodes a record; those written before ensembles have no `member` (0).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epoch = try c.decode(Int.self, forKey: .epoch)
        member = try c.decodeIfPresent(Int.self, forKey: .member) ?? 0
        meanLoss = try c.decode(Double.self, forKey: .meanLoss)
        seconds = try c.decode(Double.self, forKey: .seconds)
    }
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
    /// Every block, row-major (`row * columnShards + column`), when they are kept in memory; empty when
    /// ``streamsBlocks``.
    let blocks: [TrainingBlock]
    /// Whether each wave's blocks are read from the shard files while the wave before trains (see
    /// ``WavePrefetch``) instead of all at the start: asked for, or the decoded blocks would not fit in memory.
    public let streamsBlocks: Bool
    /// Embeddings and optimizer state being trained.
    public let model: TrainingModel
    /// Fingerprint of the prep directory's shards (see ``ShardSetIdentity``).
    public let shardSetIdentity: String
    /// Where the run is in its schedule (the start, or where a checkpoint left it).
    public internal(set) var position = TrainingPosition()
    /// The finished members of an ensemble (nil for a one-member run).
    let ensembleAverage: EnsembleAverage?
    /// The background checkpoint writer.
    private let writing = CheckpointWriting()

    /// Loads and validates the prep directory, decodes every shard (unless the shards are to be streamed), and
    /// initialises the embeddings from the seed with N(0, 1/sqrt(d)) entries, as the reference does.
    ///
    /// - Parameter blocksInMemory: keep every decoded block in memory (true), read them wave by wave (false), or
    ///   (nil) keep them when they take at most half the memory available now (12 bytes a nonzero).
    public convenience init(prepDirectory: String, config: TrainingConfiguration, blocksInMemory: Bool? = nil) throws {
        try self.init(prepDirectory: prepDirectory, config: config, randomInitialization: true,
                      blocksInMemory: blocksInMemory)
    }

    /// A trainer for one rank of a distributed run (``trainAsRank(_:progress:)``): it decodes only the shards
    /// of row group `rowGroup` of `groups` (row shards `s` with `s mod groups == rowGroup`), the only blocks
    /// that rank trains, so each rank holds about 1/groups of the counts.
    public convenience init(prepDirectory: String, config: TrainingConfiguration, rowGroup: Int, of groups: Int) throws {
        try self.init(prepDirectory: prepDirectory, config: config, randomInitialization: true,
                      rowGroup: (rowGroup, groups))
    }

    /// The shared initialiser; a resumed run skips drawing initial vectors that its checkpoint replaces.
    private init(prepDirectory: String, config: TrainingConfiguration, randomInitialization: Bool,
                 rowGroup: (Int, Int)? = nil, blocksInMemory: Bool? = nil) throws {
        try config.validate()
        self.config = config
        self.prepDirectory = prepDirectory
        let manifest = try Manifest.read(directory: prepDirectory)
        guard config.strata <= min(manifest.rowShards, manifest.columnShards) else {
            throw TrainingError.invalidOption("--strata \(config.strata) needs at least \(config.strata) row and column shards; \(prepDirectory) has \(manifest.rowShards) x \(manifest.columnShards) (lower --strata, or prep with a smaller --shard-size)")
        }
        self.manifest = manifest
        shardSetIdentity = try ShardSetIdentity.compute(directory: prepDirectory, manifest: manifest)
        let rowSums = try MarginalsFile.read(from: prepDirectory + "/" + manifest.rowSums, expected: manifest.rows)
        let columnSums = try MarginalsFile.read(from: prepDirectory + "/" + manifest.columnSums, expected: manifest.columns)
        // A rank of a distributed run decodes only its row group and keeps it.
        streamsBlocks = rowGroup == nil && !(blocksInMemory ?? Self.decodedBlocksFit(manifest))
        blocks = streamsBlocks ? []
            : try Self.loadBlocks(manifest: manifest, directory: prepDirectory, config: config, rowGroup: rowGroup)

        let d = config.dimension
        let rowEmbeddings = ParameterMatrix(rows: manifest.rows, dimension: d)
        let columnEmbeddings = ParameterMatrix(rows: manifest.columns, dimension: d)
        if randomInitialization { Self.drawInitialVectors(rowEmbeddings, columnEmbeddings, seed: config.seed) }
        ensembleAverage = config.ensemble > 1
            ? EnsembleAverage(rows: manifest.rows, columns: manifest.columns, dimension: d) : nil
        model = TrainingModel(
            rowEmbeddings: rowEmbeddings,
            columnEmbeddings: columnEmbeddings,
            rowOptimizer: OptimizerState(rows: manifest.rows, dimension: d, config: config),
            columnOptimizer: OptimizerState(rows: manifest.columns, dimension: d, config: config),
            rowSums: rowSums, columnSums: columnSums, total: manifest.total,
            contextSmoothing: Double(config.contextSmoothing),
            rowShards: manifest.rowShards, columnShards: manifest.columnShards,
            largestRowShard: manifest.rowLayout.size(of: 0), largestColumnShard: manifest.columnLayout.size(of: 0))
    }

    /// Fills `rows` and `columns` (in that order) with N(0, 1/sqrt(d)) entries drawn from `seed`, as the reference
    /// initialises its embeddings.
    static func drawInitialVectors(_ rows: ParameterMatrix, _ columns: ParameterMatrix, seed: UInt64) {
        var random = RandomSource(seed: seed)
        let sigma = 1 / Double(rows.dimension).squareRoot()
        for matrix in [rows, columns] {
            for i in 0..<(matrix.rows * matrix.dimension) { matrix.storage[i] = Float(random.nextGaussian() * sigma) }
        }
    }

    /// Continues the run whose checkpoint is in `modelDirectory`, with the same prep directory and settings.
    ///
    /// - Parameter adjust: applies the settings given for the resumed run to the checkpoint's configuration.
    ///   Only `epochs` (a new total, to train longer) and `threads` (at an epoch boundary only: the waves of an
    ///   epoch depend on it) may change; any other difference is refused, naming each.
    /// - Parameter blocksInMemory: as for a new trainer (nil: keep the decoded blocks when they fit).
    public static func resuming(modelDirectory: String, blocksInMemory: Bool? = nil,
                                adjust: (inout TrainingConfiguration) -> Void = { _ in }) throws -> Trainer {
        let (description, bytes, offset) = try Checkpoint.read(directory: modelDirectory)
        let stored = description.configuration
        var config = stored
        adjust(&config)
        var differences = config.differences(from: stored, ignoring: [\.epochs, \.threads])
        if config.threads != stored.threads && description.position.wavesDone != 0 {
            differences.append("--threads \(config.threads) given, the checkpoint was written mid-epoch with \(stored.threads) (resume with the same threads, or from an epoch boundary)")
        }
        if config.ensemble > 1 && config.epochs < description.position.epochsDone {
            differences.append("--epochs \(config.epochs) given, but the ensemble's first member has trained \(description.position.epochsDone) (every member trains the same epochs)")
        }
        if config.epochs != stored.epochs && description.position.membersDone > 0 {
            differences.append("--epochs \(config.epochs) given, but \(description.position.membersDone) of the ensemble's \(stored.ensemble) members finished with \(stored.epochs) epochs (an ensemble trains longer only while its first member trains; start a new run with more --epochs)")
        }
        guard differences.isEmpty else { throw CheckpointError.incompatible(differences: differences) }
        let trainer = try Trainer(prepDirectory: description.prepDirectory, config: config, randomInitialization: false,
                                  blocksInMemory: blocksInMemory)
        guard trainer.shardSetIdentity == description.shardSetIdentity else {
            throw CheckpointError.shardsChanged(prepDirectory: description.prepDirectory,
                                                expected: description.shardSetIdentity, found: trainer.shardSetIdentity)
        }
        let path = modelDirectory + "/" + Checkpoint.fileName
        guard description.rows == trainer.manifest.rows, description.columns == trainer.manifest.columns else {
            throw CheckpointError.corrupt(path: path, reason: "shape \(description.rows) x \(description.columns) does not match the prep directory")
        }
        let needed = trainer.stateMatrices.reduce(0) { $0 + $1.rows * $1.dimension * 4 }
        guard bytes.count - 4 - offset == needed else {
            throw CheckpointError.corrupt(path: path, reason: "holds \(bytes.count - 4 - offset) bytes of state where \(needed) are needed")
        }
        var at = offset
        bytes.withUnsafeBytes { raw in
            for matrix in trainer.stateMatrices {
                let count = matrix.rows * matrix.dimension * 4
                UnsafeMutableRawBufferPointer(start: matrix.storage, count: count)
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[at..<(at + count)]))
                at += count
            }
        }
        trainer.position = description.position
        return trainer
    }

    /// Every array a checkpoint must hold to continue exactly: embeddings, then optimizer state.
    var stateMatrices: [ParameterMatrix] {
        var list = [model.rowEmbeddings, model.columnEmbeddings,
                    model.rowOptimizer.accumulator, model.columnOptimizer.accumulator]
        if config.optimizer == .rmsprop {
            list += [model.rowOptimizer.momentumBuffer, model.columnOptimizer.momentumBuffer]
        }
        if let ensembleAverage { list += [ensembleAverage.rowSum, ensembleAverage.columnSum] }
        return list
    }

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
                                                            rows: rowLayout.size(of: entry.row),
                                                            columns: columnLayout.size(of: entry.column),
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
              shard.rows == manifest.rowLayout.size(of: entry.row),
              shard.columnCount == manifest.columnLayout.size(of: entry.column),
              shard.nonzeroCount == entry.nonzeros else {
            throw ShardError.inconsistent(path: path, reason: "does not match the manifest (block (\(shard.rowShard), \(shard.columnShard)), \(shard.rows) x \(shard.columnCount), \(shard.nonzeroCount) nonzeros); was it prepared with another shard size?")
        }
        return TrainingBlock(rowShard: shard.rowShard, columnShard: shard.columnShard,
                             rows: shard.rows, columns: shard.columnCount, rowStart: shard.rowStart,
                             columnIndex: shard.columns, counts: shard.values,
                             confidenceBase: config.confidenceBase, confidenceScale: config.confidenceScale,
                             confidenceExponent: config.confidenceExponent)
    }

    /// Whether every decoded block (a column index, `log x` and `f(x)` per nonzero, 12 bytes, plus the row
    /// offsets) takes at most half the memory the kernel says is available (16 GiB available assumed when unknown).
    static func decodedBlocksFit(_ manifest: Manifest) -> Bool {
        let bytes = Int64(manifest.nonzeros) * 12 + Int64(manifest.rows + manifest.rowShards) * Int64(manifest.columnShards) * 4
        return bytes <= (SystemResources.availableMemoryBytes() ?? (16 << 30)) / 2
    }

    /// Blocks trained at once: the thread count, but no more than a wave can hold.
    public var workers: Int { max(1, min(config.threads, min(manifest.rowShards, manifest.columnShards))) }

    /// Runs the epochs from `position` up to `config.epochs`, for each ensemble member in turn; after the last
    /// member the model holds the ensemble's mean (see ``EnsembleAverage``).
    ///
    /// Blocks of a wave share no row or column shard and run on separate workers with single-threaded BLAS
    /// (measured faster than one worker with multi-threaded BLAS); with one worker, BLAS gets every thread.
    /// The result depends only on the seed and the thread count, also across checkpoints and resumes.
    ///
    /// - Parameters:
    ///   - checkpoints: where and how often to write checkpoints, and when to stop early (nil: never).
    ///   - onEpoch: called after each epoch with its record, while the model holds that member's vectors.
    public func train(progress: ProgressHandler? = nil, checkpoints: CheckpointPolicy? = nil,
                      onEpoch: ((EpochRecord) -> Void)? = nil) throws -> TrainingSummary {
        guard streamsBlocks || blocks.allSatisfy({ $0.rowStart.count == $0.rows + 1 }) else {
            throw TrainingError.invalidOption("this trainer decoded one row group only; train it as a rank (trainAsRank)")
        }
        // The checkpoint copy (16 or, in an ensemble, 24 V d bytes) is reused within this run, not kept after it (a write still in
        // flight holds its own reference).
        defer { writing.stateCopy = nil }
        let workers = self.workers
        let blasThreads = workers == 1 ? config.threads : 1
        BLAS.setThreads(blasThreads)
        let schedule = BlockSchedule(rowShards: manifest.rowShards, columnShards: manifest.columnShards, waveSize: workers,
                                     strata: config.strata)
        let workspaces = (0..<workers).map { _ in StepWorkspace(shardSize: max(manifest.rowLayout.size(of: 0), manifest.columnLayout.size(of: 0)),
                                                            dimension: config.dimension) }
        let cellsPerEpoch = Double(manifest.rows) * Double(manifest.columns)
        let blockCount = manifest.rowShards * manifest.columnShards
        let members = config.ensemble
        let totalBlocks = Double(blockCount * config.epochs * members)
        let start = monotonicSeconds()
        var lastCheckpoint = start
        let losses = ConcurrentSlots<Double>(repeating: 0, count: workers)
        let model = self.model
        let blocks = self.blocks
        let columnShards = manifest.columnShards
        let (shardManifest, directory, settings) = (manifest, prepDirectory, config)
        let prefetch = streamsBlocks ? WavePrefetch { wave in
            let entries = wave.map { shardManifest.shards[$0.row * columnShards + $0.column] }
            let loaded = ConcurrentSlots<Result<TrainingBlock, Error>?>(repeating: nil, count: entries.count)
            DispatchQueue.concurrentPerform(iterations: entries.count) { i in
                loaded[i] = Result { try Self.loadBlock(entries[i], manifest: shardManifest, directory: directory, config: settings) }
            }
            return try loaded.values.map { try $0!.get() }
        } : nil
        defer { prefetch?.finish() }
        var blocksDone = (position.membersDone * config.epochs + position.epochsDone) * blockCount
        let epochsAtStart = position.membersDone * config.epochs + position.epochsDone
        let memberText = { (member: Int) in members > 1 ? "member \(member + 1)/\(members), " : "" }
        // A one-member run keeps membersDone at 0; a finished ensemble (membersDone == members) trains nothing more.
        while members == 1 || position.membersDone < members {
            let member = position.membersDone
            let seed = config.memberSeed(member)
            while position.epochsDone < config.epochs {
                let epoch = position.epochsDone + 1
                let waves = schedule.waves(epoch: epoch, seed: seed)
                blocksDone += waves[0..<position.wavesDone].reduce(0) { $0 + $1.count }
                for (index, wave) in waves.enumerated().dropFirst(position.wavesDone) {
                    let waveBlocks: [TrainingBlock]
                    if let prefetch {
                        // This wave's blocks (decoded while the wave before trained), then start on the next one's.
                        let next = index + 1 < waves.count ? waves[index + 1]
                            : epoch < config.epochs ? schedule.waves(epoch: epoch + 1, seed: seed).first
                            : member + 1 < members ? schedule.waves(epoch: 1, seed: config.memberSeed(member + 1)).first : nil
                        do {
                            waveBlocks = try prefetch.blocks(wave, next: next)
                        } catch {
                            try? finishCheckpoint()   // a checkpoint being written must be complete
                            throw error
                        }
                    } else {
                        waveBlocks = wave.map { blocks[$0.row * columnShards + $0.column] }
                    }
                    DispatchQueue.concurrentPerform(iterations: wave.count) { w in
                        losses[w] = BlockStep.run(waveBlocks[w], model: model, workspace: workspaces[w],
                                                  lossRowStride: BlockStep.trainingLossRowStride)
                    }
                    for w in 0..<wave.count {
                        let loss = losses[w]
                        guard loss.isFinite else {
                            try? finishCheckpoint()   // the last good checkpoint must be complete
                            throw TrainingError.diverged(epoch: epoch, rowShard: wave[w].row, columnShard: wave[w].column,
                                                         learningRate: config.learningRate)
                        }
                        position.epochLoss += loss
                        position.epochCells += Double(waveBlocks[w].rows * waveBlocks[w].columns)
                    }
                    position.wavesDone += 1
                    blocksDone += wave.count
                    progress?(ProgressUpdate(phase: "\(memberText(member))epoch \(epoch)/\(config.epochs)", done: Double(blocksDone),
                                             total: totalBlocks, unit: "blocks",
                                             detail: "loss \(Self.format(position.epochLoss / position.epochCells))"))
                    if let checkpoints, position.wavesDone < waves.count {
                        let now = monotonicSeconds()
                        if checkpoints.shouldStop() {
                            try save(checkpoints, start: start, wait: true)
                            throw TrainingError.interrupted(epoch: epoch, wave: position.wavesDone, of: waves.count,
                                                            member: member, members: members)
                        }
                        if now - lastCheckpoint >= checkpoints.intervalSeconds {
                            try save(checkpoints, start: start)
                            lastCheckpoint = monotonicSeconds()
                        }
                    }
                }
                let record = EpochRecord(epoch: epoch, member: member, meanLoss: position.epochLoss / cellsPerEpoch,
                                         seconds: position.secondsBefore + monotonicSeconds() - start)
                position.log.append(record)
                position.epochsDone = epoch
                position.wavesDone = 0
                position.epochLoss = 0
                position.epochCells = 0
                var savedAtEpochEnd = false
                if let checkpoints, epoch == config.epochs
                    || monotonicSeconds() - lastCheckpoint >= checkpoints.epochIntervalSeconds {
                    try save(checkpoints, start: start)
                    lastCheckpoint = monotonicSeconds()
                    savedAtEpochEnd = true
                }
                onEpoch?(record)
                if let checkpoints, checkpoints.shouldStop(), position.epochsDone < config.epochs || member + 1 < members {
                    if savedAtEpochEnd { try finishCheckpoint() } else { try save(checkpoints, start: start, wait: true) }
                    let next = position.epochsDone < config.epochs ? (epoch + 1, member) : (1, member + 1)
                    throw TrainingError.interrupted(epoch: next.0, wave: 0, of: waves.count, member: next.1, members: members)
                }
            }
            if try finishMember(member) { break }
        }
        try finishCheckpoint()
        let seconds = monotonicSeconds() - start
        let trained = Double(config.epochs * members - epochsAtStart)
        return TrainingSummary(epochs: config.epochs, seconds: position.secondsBefore + seconds,
                               cellsPerSecond: seconds > 0 ? cellsPerEpoch * trained / seconds : 0,
                               finalMeanLoss: position.log.last?.meanLoss, blasCore: BLAS.coreName, workers: workers,
                               blasThreads: blasThreads, log: position.log)
    }

    /// Ends ensemble member `member`, which has trained all its epochs: adds it to the ensemble's sum, then starts
    /// the next member (initial vectors from its seed, fresh optimizer state) or, after the last, puts the mean into
    /// the model. Returns whether training is over (always, for a one-member run).
    ///
    /// The checkpoint after the member's last epoch was taken before this, so a run resumed from it ends the
    /// member again, the same way: every step here is deterministic.
    private func finishMember(_ member: Int) throws -> Bool {
        guard let ensembleAverage else { return true }
        do {
            try ensembleAverage.add(rows: model.rowEmbeddings, columns: model.columnEmbeddings, membersBefore: member)
        } catch {
            try? finishCheckpoint()   // the member's last checkpoint must be complete
            throw error
        }
        position.membersDone = member + 1
        if position.membersDone == config.ensemble {
            ensembleAverage.writeMean(members: config.ensemble, rows: model.rowEmbeddings, columns: model.columnEmbeddings)
            return true
        }
        Self.drawInitialVectors(model.rowEmbeddings, model.columnEmbeddings, seed: config.memberSeed(member + 1))
        model.rowOptimizer.reset()
        model.columnOptimizer.reset()
        position.epochsDone = 0
        return false
    }

    /// Takes a snapshot of the current state (counting this process's training time) and writes it on a
    /// background queue while training goes on; the previous write is finished (and its error raised) first.
    /// With `wait`, returns only when this checkpoint is on disk.
    func save(_ policy: CheckpointPolicy, start: Double, wait: Bool = false) throws {
        try finishCheckpoint()
        var saved = position
        saved.secondsBefore += monotonicSeconds() - start
        let writing = self.writing
        let snapshot = Checkpoint.snapshot(self, position: saved, reusing: writing.stateCopy)
        writing.stateCopy = snapshot.state
        writing.group.enter()
        writing.queue.async {
            do { try Checkpoint.write(snapshot, to: policy.directory) } catch { writing.error = error }
            writing.group.leave()
        }
        if wait { try finishCheckpoint() }
    }

    /// Waits for the checkpoint being written, if any, and raises its error.
    func finishCheckpoint() throws {
        writing.group.wait()
        if let error = writing.error {
            writing.error = nil
            throw error
        }
    }

    /// The current vectors with their words (`choice` as in export), e.g. for evaluation during training.
    public func embeddings(_ choice: VectorChoice) throws -> Embeddings {
        let d = config.dimension
        let rows = Matrix(rows: manifest.rows, columns: d, values: model.rowEmbeddings.values)
        let columns = Matrix(rows: manifest.columns, columns: d, values: model.columnEmbeddings.values)
        if tokens == nil {
            tokens = (try Vocabulary.read(from: prepDirectory + "/" + manifest.rowVocabulary).tokens,
                      try Vocabulary.read(from: prepDirectory + "/" + manifest.columnVocabulary).tokens)
        }
        let (rowTokens, columnTokens) = tokens!
        switch choice {
        case .row: return Embeddings(tokens: rowTokens, vectors: rows)
        case .col: return Embeddings(tokens: columnTokens, vectors: columns)
        case .sum, .concat:
            guard rowTokens == columnTokens else {
                throw EmbeddingError.mismatch(path: prepDirectory, reason: "row and column vocabularies differ: use row or col vectors")
            }
            return Embeddings(tokens: rowTokens, vectors: Embeddings.combine(rows, columns, choice))
        }
    }

    /// Row and column words, read from the prep directory on first use by ``embeddings(_:)``.
    private var tokens: (rows: [String], columns: [String])?

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
        var logText = "epoch\tmean_loss\tseconds\tmember\n"
        for r in summary.log { logText += "\(r.epoch)\t\(r.meanLoss)\t\(Self.format(r.seconds))\t\(r.member + 1)\n" }
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
        if !force && (FileReader.exists(directory + "/" + ModelDirectory.modelInfo)
                      || FileReader.exists(directory + "/" + Checkpoint.fileName)) {
            throw TrainingError.outputExists(path: directory)
        }
        try FileReader.createDirectory(directory)
    }

    static func format(_ x: Double) -> String {
        String(format: "%.4f", x)
    }
}

/// A serial queue for checkpoint writes, the group that tracks the write in flight, and its error.
final class CheckpointWriting: @unchecked Sendable {
    let queue = DispatchQueue(label: "swivel.checkpoint")
    let group = DispatchGroup()
    /// Set by the write on `queue`; read only after `group.wait()`.
    var error: Error?
    /// The memory of the last snapshot, reused by the next one (which is taken only after `group.wait()`).
    var stateCopy: Checkpoint.StateCopy?
}

/// When to write checkpoints during training, and when to stop early.
public struct CheckpointPolicy: Sendable {
    /// The model directory that receives `checkpoint.swvc`.
    public var directory: String
    /// Seconds between checkpoints within an epoch.
    public var intervalSeconds: Double
    /// At the end of an epoch a checkpoint is written when this many seconds have passed since the last one
    /// (and always after the last epoch); by default `min(intervalSeconds, 60)`. Short epochs do not each pay
    /// for a checkpoint (measured: a 157 MB checkpoint made an 8 s epoch 4% slower): a crash loses at most
    /// about a minute plus one epoch, and never more than `intervalSeconds` plus one wave.
    public var epochIntervalSeconds: Double
    /// Polled after every wave; true stops training after writing a checkpoint (e.g. on SIGINT).
    public var shouldStop: @Sendable () -> Bool

    /// Creates a policy.
    public init(directory: String, intervalSeconds: Double, shouldStop: @escaping @Sendable () -> Bool = { false }) {
        self.directory = directory
        self.intervalSeconds = intervalSeconds
        epochIntervalSeconds = min(intervalSeconds, 60)
        self.shouldStop = shouldStop
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

/// Decodes the blocks of the next wave on a background queue while the current wave trains, for a trainer whose
/// decoded blocks do not fit in memory: only two waves' blocks are decoded at any time.
final class WavePrefetch: @unchecked Sendable {
    private let load: @Sendable ([BlockSchedule.Block]) throws -> [TrainingBlock]
    private let queue = DispatchQueue(label: "swivel.wave-prefetch")
    private let group = DispatchGroup()
    /// The wave being decoded ahead and its result; written on `queue`, read after `group.wait()`.
    private var ahead: (wave: [BlockSchedule.Block], result: Result<[TrainingBlock], Error>?)?

    /// A prefetcher that decodes a wave's blocks with `load`.
    init(load: @escaping @Sendable ([BlockSchedule.Block]) throws -> [TrainingBlock]) {
        self.load = load
    }

    /// The blocks of `wave` (decoded ahead when it was the `next` of the call before, else now), and starts
    /// decoding `next` in the background; throws the decoding error of `wave` without starting `next`.
    func blocks(_ wave: [BlockSchedule.Block], next: [BlockSchedule.Block]?) throws -> [TrainingBlock] {
        group.wait()
        let decoded: [TrainingBlock]
        if let ahead, ahead.wave == wave, let result = ahead.result {
            decoded = try result.get()
        } else {
            decoded = try load(wave)
        }
        ahead = nil
        if let next {
            ahead = (next, nil)
            group.enter()
            queue.async {
                let result = Result { try self.load(next) }
                self.ahead?.result = result
                self.group.leave()
            }
        }
        return decoded
    }

    /// Waits for the wave being decoded ahead, if any (its blocks are dropped when no call takes them).
    func finish() { group.wait() }
}
