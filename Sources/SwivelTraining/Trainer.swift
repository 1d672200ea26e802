import Dispatch
import Foundation
import SwivelConcurrency
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

    /// A mean loss per cell above this is divergence even when it is finite: the PMI of any corpus under 10^12
    /// tokens lies within about +-28 nats, so a sane model's mean loss per cell stays orders of magnitude lower.
    public static let divergentMeanLoss = 1e6

    /// The first member whose last epoch's mean loss is more than `factor` times its lowest, or above
    /// ``divergentMeanLoss``: training that diverged without reaching a non-finite value (a learning rate far
    /// too high). Nil when every member's loss ended sane.
    public func lossGrowth(factor: Double = 100) -> (member: Int, best: Double, bestEpoch: Int, last: Double)? {
        for member in Set(log.map(\.member)).sorted() {
            let records = log.filter { $0.member == member }
            guard let last = records.last, let best = records.min(by: { $0.meanLoss < $1.meanLoss }) else { continue }
            if last.meanLoss > factor * max(best.meanLoss, 1e-30) || last.meanLoss > Self.divergentMeanLoss {
                return (member, best.meanLoss, best.epoch, last.meanLoss)
            }
        }
        return nil
    }
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
    let writing = CheckpointWriting()
    /// Whether the first member's spectral start is still to be computed (see ``computeStartIfPending()``).
    var startPending = false
    /// Seconds the last spectral start took (nil before one ran in this process).
    public internal(set) var spectralStartSeconds: Double?

    /// Loads and validates the prep directory, decodes every shard (unless the shards are to be streamed), and
    /// initialises the embeddings from the seed with N(0, 1/sqrt(d)) entries, as the reference does; with
    /// `--init spectral` the ``SpectralStart`` replaces them when training begins (``computeStartIfPending()``).
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
        // The vocabularies are copied into the model at the end: check them now, not after the last epoch.
        var vocabularies: [[String]] = []
        for (name, expected) in [(manifest.rowVocabulary, manifest.rows), (manifest.columnVocabulary, manifest.columns)] {
            let tokens = try Vocabulary.read(from: prepDirectory + "/" + name).tokens
            guard tokens.count == expected else {
                throw PrepError.mismatch(path: prepDirectory + "/" + name, reason: "holds \(tokens.count) words; the manifest says \(expected)")
            }
            vocabularies.append(tokens)
        }
        // A subword model hashes its features' n-grams before the memory check: the buckets in use count towards it.
        let rowSubwords = config.subwords.map { scheme in
            SubwordComposition(words: vocabularies[0], scheme: scheme, shards: manifest.rowShards, config: config)
        }
        let columnSubwords = config.subwords.flatMap { scheme in
            config.subwordSides == .rows ? nil
                : SubwordComposition(words: vocabularies[1], scheme: scheme, shards: manifest.columnShards, config: config)
        }
        try Self.requireMemory(manifest: manifest, config: config, blocksInMemory: blocksInMemory, rowGroup: rowGroup,
                               ngramVectors: (rowSubwords?.bucketIDs.count ?? 0) + (columnSubwords?.bucketIDs.count ?? 0))
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
        if randomInitialization {
            Self.drawInitialVectors(rowEmbeddings, columnEmbeddings, seed: config.seed)
            rowSubwords?.splitStart(rowEmbeddings)
            columnSubwords?.splitStart(columnEmbeddings)
        }
        ensembleAverage = config.ensemble > 1
            ? EnsembleAverage(rows: manifest.rows, columns: manifest.columns, dimension: d,
                              rowSubwords: rowSubwords, columnSubwords: columnSubwords) : nil
        model = TrainingModel(
            rowEmbeddings: rowEmbeddings,
            columnEmbeddings: columnEmbeddings,
            rowOptimizer: OptimizerState(rows: manifest.rows, dimension: d, config: config.ownVectorSettings(composed: rowSubwords != nil)),
            columnOptimizer: OptimizerState(rows: manifest.columns, dimension: d,
                                            config: config.ownVectorSettings(composed: columnSubwords != nil)),
            rowSums: rowSums, columnSums: columnSums, total: manifest.total,
            contextSmoothing: Double(config.contextSmoothing),
            rowShards: manifest.rowShards, columnShards: manifest.columnShards,
            largestRowShard: manifest.rowLayout.size(of: 0), largestColumnShard: manifest.columnLayout.size(of: 0),
            unobservedCutoff: config.unobservedCutoff, rowSubwords: rowSubwords, columnSubwords: columnSubwords)
        startPending = randomInitialization && config.initialization == .spectral
    }

    /// Computes the first member's spectral start if this new run has one still to compute (``train`` and
    /// ``trainAsRank`` call it first; a caller may call it earlier to report its time apart).
    public func computeStartIfPending() throws {
        guard startPending else { return }
        startPending = false
        try startSpectrally(seed: config.seed)
    }

    /// Replaces the model's vectors by the ``SpectralStart`` with probes drawn from `seed` (each ensemble member's
    /// own), reading the blocks from memory or, when they stream, from the shards.
    func startSpectrally(seed: UInt64) throws {
        let start = monotonicSeconds()
        defer {
            spectralStartSeconds = monotonicSeconds() - start
            // Back to the training steps' setting (see train): BLAS single-threaded inside each of several workers.
            BLAS.setThreads(workers == 1 ? config.threads : 1)
        }
        // Single-threaded BLAS and LAPACK: the sparse passes' corner SGEMMs run on several workers at once, and a
        // multi-threaded QR or eigen-decomposition may round differently for another thread count.
        BLAS.setThreads(1)
        let (blocks, manifest, directory, config) = (self.blocks, self.manifest, prepDirectory, self.config)
        let streams = streamsBlocks
        try SpectralStart.write(into: model.rowEmbeddings, model.columnEmbeddings, geometry: .init(model: model),
                                seed: seed, threads: config.threads) { index in
            // Streamed blocks, and those a rank of a distributed run does not keep, are read from their shards.
            streams || blocks[index].rowStart.isEmpty
                ? try Self.loadBlock(manifest.shards[index], manifest: manifest, directory: directory, config: config)
                : blocks[index]
        }
        model.rowSubwords?.splitStart(model.rowEmbeddings)
        model.columnSubwords?.splitStart(model.columnEmbeddings)
    }

    /// Refuses a run whose parameters (embeddings, optimizer state, ensemble sums, a checkpoint's snapshot of
    /// them) and decoded blocks would not fit in the memory available, before any of it is allocated.
    ///
    /// - Parameter ngramVectors: a subword model's n-gram vectors (buckets in use), which take the same copies.
    static func requireMemory(manifest: Manifest, config: TrainingConfiguration, blocksInMemory: Bool?,
                              rowGroup: (Int, Int)?, ngramVectors: Int = 0) throws {
        let vector = SystemResources.bytes(manifest.rows + manifest.columns + ngramVectors, times: config.dimension * 4)
        // Embeddings, accumulators (and momentum), the checkpoint's copy of both, the ensemble's sums.
        // A spectral start needs three V x k scratch matrices (k about d) while it is computed.
        let copies: Int64 = 2 + 2 + (config.optimizer == .rmsprop ? 2 : 0) + (config.ensemble > 1 ? 2 : 0)
            + (config.initialization == .spectral ? 2 : 0)
        var total = SystemResources.saturating(vector, times: copies)
        // Per worker: a block of predictions and the gathered (and gradient) row and column vectors.
        let shard = max(manifest.rowLayout.size(of: 0), manifest.columnLayout.size(of: 0))
        let perWorker = SystemResources.saturating(SystemResources.bytes(shard, times: shard * 4),
                                                   plus: SystemResources.bytes(4 * shard, times: config.dimension * 4))
        total = SystemResources.saturating(total, plus: SystemResources.saturating(perWorker, times: Int64(max(config.threads, 1))))
        // Decoded blocks: a column index, log count and confidence per nonzero.
        if blocksInMemory ?? decodedBlocksFit(manifest) || rowGroup != nil {
            total = SystemResources.saturating(total, plus: SystemResources.bytes(manifest.nonzeros, times: 12))
        }
        try SystemResources.requireMemory(total, for: "training \(manifest.rows) x \(manifest.columns) at dimension \(config.dimension)",
                                          hint: "lower --dim\(config.ensemble > 1 ? " or --ensemble" : ""), or --max-vocab in swivel prep")
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
    ///   epoch depend on it) may change; any other difference is refused, naming each
    ///   (``CheckpointError/incompatible(differences:)``). `epochs` may not end before the epochs the current
    ///   member has trained or started (``TrainingError/fewerEpochsThanTrained(modelDirectory:epochs:trained:insideEpoch:member:members:)``),
    ///   and may change only while the first member of an ensemble trains.
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
        if config.epochs != stored.epochs && description.position.membersDone > 0 {
            differences.append("--epochs \(config.epochs) given, but \(description.position.membersDone) of the ensemble's \(stored.ensemble) members finished with \(stored.epochs) epochs (an ensemble trains longer only while its first member trains; start a new run with more --epochs)")
        }
        guard differences.isEmpty else { throw CheckpointError.incompatible(differences: differences) }
        // Fewer epochs than trained would write the trained state as a model of fewer epochs; ending inside the
        // epoch the checkpoint stopped in would keep part of it. (Checked for every ensemble size: a run of one
        // member is where this once slipped through.)
        let position = description.position
        if config.epochs < position.epochsDone + (position.wavesDone > 0 ? 1 : 0) {
            throw TrainingError.fewerEpochsThanTrained(modelDirectory: modelDirectory, epochs: config.epochs,
                                                       trained: position.epochsDone, insideEpoch: position.wavesDone > 0,
                                                       member: position.membersDone, members: stored.ensemble)
        }
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
        for (subwords, sum) in [(model.rowSubwords, ensembleAverage?.rowNgramSum),
                                (model.columnSubwords, ensembleAverage?.columnNgramSum)] {
            guard let subwords else { continue }
            list += [subwords.vectors, subwords.optimizer.accumulator]
            if config.optimizer == .rmsprop { list.append(subwords.optimizer.momentumBuffer) }
            if let sum { list.append(sum) }
        }
        return list
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
        guard streamsBlocks || blocks.allSatisfy({ $0.rowStart.count == $0.rowCount + 1 }) else {
            throw TrainingError.invalidOption("this trainer decoded one row group only; train it as a rank (trainAsRank)")
        }
        try computeStartIfPending()
        // The checkpoint copy (16 or, in an ensemble, 24 V d bytes) is reused within this run, not kept after it (a write still in
        // flight holds its own reference).
        defer { writing.stateCopy = nil }
        let workers = self.workers
        let blasThreads = workers == 1 ? config.threads : 1
        BLAS.setThreads(blasThreads)
        let schedule = BlockSchedule(rowShards: manifest.rowShards, columnShards: manifest.columnShards, waveSize: workers,
                                     strata: config.strata)
        let workspaces = (0..<workers).map { _ in StepWorkspace(shardSize: max(manifest.rowLayout.size(of: 0), manifest.columnLayout.size(of: 0)),
                                                            dimension: config.dimension, gathersRows: self.model.rowSubwords != nil,
                                                            gathersColumns: self.model.columnSubwords != nil) }
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
                        position.epochCells += Double(waveBlocks[w].rowCount * waveBlocks[w].columnCount)
                    }
                    // The n-grams' shares of the wave's gradients, block by block in wave order.
                    model.rowSubwords?.applyGradients(of: (0..<wave.count).map { (waveBlocks[$0].rowShard, UnsafePointer(workspaces[$0].rowGradients)) },
                                                      workers: workers)
                    model.columnSubwords?.applyGradients(of: (0..<wave.count).map { (waveBlocks[$0].columnShard, UnsafePointer(workspaces[$0].columnGradients)) },
                                                         workers: workers)
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
        if config.initialization == .spectral {
            try startSpectrally(seed: config.memberSeed(member + 1))
        } else {
            Self.drawInitialVectors(model.rowEmbeddings, model.columnEmbeddings, seed: config.memberSeed(member + 1))
            model.rowSubwords?.splitStart(model.rowEmbeddings)
            model.columnSubwords?.splitStart(model.columnEmbeddings)
        }
        model.rowOptimizer.reset()
        model.columnOptimizer.reset()
        model.rowSubwords?.optimizer.reset()
        model.columnSubwords?.optimizer.reset()
        position.epochsDone = 0
        return false
    }

    /// The current vectors with their words (`choice` as in export), e.g. for evaluation during training.
    public func embeddings(_ choice: VectorChoice) throws -> Embeddings {
        let d = config.dimension
        let rows = Matrix(rows: manifest.rows, columns: d, values: composedRowVectors.values)
        let columns = Matrix(rows: manifest.columns, columns: d, values: composedColumnVectors.values)
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

    /// The model's row vectors: the embeddings, or a subword model's composed vectors (a new matrix).
    public var composedRowVectors: ParameterMatrix {
        model.rowSubwords?.composed(words: model.rowEmbeddings) ?? model.rowEmbeddings
    }

    /// The model's column vectors: the embeddings, or a subword model's composed vectors (a new matrix).
    public var composedColumnVectors: ParameterMatrix {
        model.columnSubwords?.composed(words: model.columnEmbeddings) ?? model.columnEmbeddings
    }

    /// Row and column words, read from the prep directory on first use by ``embeddings(_:)``.
    private var tokens: (rows: [String], columns: [String])?
}
