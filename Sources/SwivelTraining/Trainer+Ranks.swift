import SwivelConcurrency
import SwivelIO
import SwivelLinearAlgebra

extension Trainer {
    /// Trains as rank `communicator.rank` of `communicator.size` on the stratified schedule (``BlockSchedule``
    /// with `strata` = the number of ranks), with no parameter server.
    ///
    /// Rank k keeps row group k; in sub-epoch s it trains the blocks of row group k x column group
    /// `(k + s) mod p` one after the other with single-threaded BLAS, then passes that column group's
    /// embeddings and optimizer state to rank `k - 1` and receives the next one from rank `k + 1`. Blocks run
    /// exactly as in `train()` with `strata = p`, so the vectors are bitwise those of a single process.
    /// At the end rank 0 holds every row and column vector (the others send theirs) and may write the model.
    /// The trainer may hold only its row group's shards (``init(prepDirectory:config:rowGroup:of:)``).
    ///
    /// With `checkpoints`, every epoch ends with the whole state (vectors and optimizer state) gathered on rank
    /// 0, which writes an ordinary checkpoint (holding the same vectors and optimizer state as a single process
    /// with `strata = p` at that epoch, so either can resume it; the logged mean losses are summed per rank and
    /// may differ from a single process's in the last digits); a run resumed from it (``Trainer/resuming(modelDirectory:blocksInMemory:adjust:)`` (blocks in memory) on every
    /// rank) continues with the next epoch and gives bitwise the vectors of an uninterrupted run.
    public func trainAsRank(_ communicator: RankCommunicator, progress: ProgressHandler? = nil,
                            checkpoints: CheckpointPolicy? = nil) throws -> TrainingSummary {
        guard !streamsBlocks else {
            throw TrainingError.invalidOption("a rank of a distributed run trains from its row group's blocks in memory; this trainer streams its shards (create it with blocksInMemory: true or a row group)")
        }
        guard config.ensemble == 1 else {
            throw TrainingError.invalidOption("--ensemble \(config.ensemble): ranks of a distributed run train one member (start the run with --ensemble 1; an ensemble trains and resumes in one process)")
        }
        guard config.subwords == nil else {
            throw TrainingError.invalidOption("--subwords: ranks of a distributed run cannot share n-gram vectors; train a subword model in one process")
        }
        let p = communicator.size, k = communicator.rank
        precondition(config.strata == p, "the strata must equal the number of ranks")
        try computeStartIfPending()
        BLAS.setThreads(1)
        let schedule = BlockSchedule(rowShards: manifest.rowShards, columnShards: manifest.columnShards, waveSize: 1,
                                     strata: p)
        let workspace = StepWorkspace(shardSize: max(manifest.rowLayout.size(of: 0), manifest.columnLayout.size(of: 0)),
                                      dimension: config.dimension)
        let columnShards = manifest.columnShards
        let cellsPerEpoch = Double(manifest.rows) * Double(manifest.columns)
        let start = monotonicSeconds()
        let firstEpoch = position.epochsDone + 1
        precondition(position.wavesDone == 0, "ranks resume at epoch boundaries")
        for epoch in firstEpoch...max(config.epochs, firstEpoch) where epoch <= config.epochs {
            var loss = 0.0
            for s in 0..<p {
                for b in schedule.stratumBlocks(epoch: epoch, subEpoch: s, stratum: k, seed: config.seed) {
                    let block = blocks[b.row * columnShards + b.column]
                    precondition(block.rowStart.count == block.rowCount + 1, "a rank trains only blocks of the row group it loaded")
                    let blockLoss = BlockStep.run(block, model: model, workspace: workspace,
                                                  lossRowStride: BlockStep.trainingLossRowStride)
                    guard blockLoss.isFinite else {
                        throw TrainingError.diverged(epoch: epoch, rowShard: b.row, columnShard: b.column,
                                                     learningRate: config.learningRate)
                    }
                    loss += blockLoss
                }
                // Pass the column group just trained to rank k - 1; receive the next one from rank k + 1.
                if p > 1 {
                    let outgoing = packColumnGroup((k + s) % p, of: p, withOptimizer: true)
                    var incoming = packColumnGroup((k + s + 1) % p, of: p, withOptimizer: true)   // sized; overwritten
                    try outgoing.withUnsafeBufferPointer { out in
                        try incoming.withUnsafeMutableBufferPointer { into in
                            try communicator.sendReceive(out, to: (k + p - 1) % p, into, from: (k + 1) % p)
                        }
                    }
                    unpackColumnGroup((k + s + 1) % p, of: p, from: incoming, withOptimizer: true)
                }
                progress?(ProgressUpdate(phase: "epoch \(epoch)/\(config.epochs)", done: Double((epoch - 1) * p + s + 1),
                                         total: Double(config.epochs * p), unit: "sub-epochs"))
            }
            let total = try communicator.sumAll(loss)
            position.log.append(EpochRecord(epoch: epoch, meanLoss: total / cellsPerEpoch,
                                            seconds: position.secondsBefore + monotonicSeconds() - start))
            position.epochsDone = epoch
            if let checkpoints {
                // Rank k holds row group k and column group k: gather the whole state on rank 0, which writes it.
                try gatherOnRoot(communicator, withOptimizer: true)
                if k == 0 { try save(checkpoints, start: start, wait: true) }
                try communicator.barrier()   // no rank runs ahead of a checkpoint that may fail
            }
        }
        if checkpoints == nil { try gatherOnRoot(communicator, withOptimizer: false) }
        let seconds = monotonicSeconds() - start
        return TrainingSummary(epochs: config.epochs, seconds: position.secondsBefore + seconds,
                               cellsPerSecond: seconds > 0 ? cellsPerEpoch * Double(config.epochs - firstEpoch + 1) / seconds : 0,
                               finalMeanLoss: position.log.last?.meanLoss, blasCore: BLAS.coreName, workers: p,
                               blasThreads: 1, log: position.log)
    }

    /// Rank k sends row group k and column group k (with their optimizer state when asked) to rank 0.
    private func gatherOnRoot(_ communicator: RankCommunicator, withOptimizer: Bool) throws {
        let p = communicator.size, k = communicator.rank
        guard p > 1 else { return }
        if k == 0 {
            for source in 1..<p {
                var rows = packRowGroup(source, of: p, withOptimizer: withOptimizer)
                try rows.withUnsafeMutableBufferPointer { try communicator.receive($0, from: source) }
                unpackRowGroup(source, of: p, from: rows, withOptimizer: withOptimizer)
                var columns = packColumnGroup(source, of: p, withOptimizer: withOptimizer)
                try columns.withUnsafeMutableBufferPointer { try communicator.receive($0, from: source) }
                unpackColumnGroup(source, of: p, from: columns, withOptimizer: withOptimizer)
            }
        } else {
            try packRowGroup(k, of: p, withOptimizer: withOptimizer).withUnsafeBufferPointer { try communicator.send($0, to: 0) }
            try packColumnGroup(k, of: p, withOptimizer: withOptimizer).withUnsafeBufferPointer { try communicator.send($0, to: 0) }
        }
    }

    /// Row features of row group `g` (row shards `s` with `s mod p == g`), in id order.
    private func rowGroup(_ g: Int, of p: Int) -> [Int] {
        (0..<manifest.rows).filter { manifest.rowLayout.shard(of: $0) % p == g }
    }

    /// Column features of column group `g`, in id order.
    private func columnGroup(_ g: Int, of p: Int) -> [Int] {
        (0..<manifest.columns).filter { manifest.columnLayout.shard(of: $0) % p == g }
    }

    /// The matrices that travel with a group: embeddings, then (with the optimizer) its per-row state.
    private func travelling(_ embeddings: ParameterMatrix, _ optimizer: OptimizerState, withOptimizer: Bool) -> [ParameterMatrix] {
        var matrices = [embeddings]
        if withOptimizer {
            matrices.append(optimizer.accumulator)
            if config.optimizer == .rmsprop { matrices.append(optimizer.momentumBuffer) }
        }
        return matrices
    }

    private func columnMatrices(withOptimizer: Bool) -> [ParameterMatrix] {
        travelling(model.columnEmbeddings, model.columnOptimizer, withOptimizer: withOptimizer)
    }

    private static func pack(_ features: [Int], _ matrices: [ParameterMatrix], dimension d: Int) -> [Float] {
        var buffer = [Float]()
        buffer.reserveCapacity(features.count * d * matrices.count)
        for m in matrices {
            for f in features { buffer.append(contentsOf: UnsafeBufferPointer(start: m.storage + f * d, count: d)) }
        }
        return buffer
    }

    private static func unpack(_ features: [Int], _ matrices: [ParameterMatrix], dimension d: Int, from buffer: [Float]) {
        var offset = 0
        buffer.withUnsafeBufferPointer { source in
            for m in matrices {
                for f in features {
                    (m.storage + f * d).update(from: source.baseAddress! + offset, count: d)
                    offset += d
                }
            }
        }
    }

    private func packColumnGroup(_ g: Int, of p: Int, withOptimizer: Bool) -> [Float] {
        Self.pack(columnGroup(g, of: p), columnMatrices(withOptimizer: withOptimizer), dimension: config.dimension)
    }

    private func unpackColumnGroup(_ g: Int, of p: Int, from buffer: [Float], withOptimizer: Bool) {
        Self.unpack(columnGroup(g, of: p), columnMatrices(withOptimizer: withOptimizer), dimension: config.dimension, from: buffer)
    }

    private func rowMatrices(withOptimizer: Bool) -> [ParameterMatrix] {
        travelling(model.rowEmbeddings, model.rowOptimizer, withOptimizer: withOptimizer)
    }

    private func packRowGroup(_ g: Int, of p: Int, withOptimizer: Bool) -> [Float] {
        Self.pack(rowGroup(g, of: p), rowMatrices(withOptimizer: withOptimizer), dimension: config.dimension)
    }

    private func unpackRowGroup(_ g: Int, of p: Int, from buffer: [Float], withOptimizer: Bool) {
        Self.unpack(rowGroup(g, of: p), rowMatrices(withOptimizer: withOptimizer), dimension: config.dimension, from: buffer)
    }
}
