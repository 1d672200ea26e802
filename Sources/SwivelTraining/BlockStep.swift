import SwivelLinearAlgebra

/// The read-only context every block step needs: embeddings, optimizer states, marginal terms and sizes.
public struct TrainingModel: Sendable {
    /// Row embeddings, `rows x dimension`.
    public let rowEmbeddings: ParameterMatrix
    /// Column embeddings, `columns x dimension`.
    public let columnEmbeddings: ParameterMatrix
    /// Optimizer state of the row embeddings.
    public let rowOptimizer: OptimizerState
    /// Optimizer state of the column embeddings.
    public let columnOptimizer: OptimizerState
    /// `log N - log R_i` per row feature.
    public let rowTerms: [Float]
    /// `log C_j` per column feature.
    public let columnTerms: [Float]
    /// Number of row shards (the stride between a shard's rows).
    public let rowShards: Int
    /// Number of column shards.
    public let columnShards: Int
    /// Gradient scale: the reference's `1 / sqrt(rows * columns)` of a full block, with the largest real
    /// shard sizes (so a `--shard-size` larger than the vocabulary does not shrink the gradients).
    public let gradientScale: Float
    /// With a value, each block's ``RareCorner`` for this `pmi*` cutoff (nats) is left out of the dense
    /// products (``TrainingConfiguration/unobservedCutoff``); nil computes every cell, as the paper does.
    public let unobservedCutoff: Float?
    /// With subwords, the n-gram part of the row vectors: each row vector is the mean of its ``rowEmbeddings`` row
    /// and its n-grams' vectors (nil: the row vectors are ``rowEmbeddings`` themselves).
    public let rowSubwords: SubwordComposition?
    /// Likewise for the column vectors.
    public let columnSubwords: SubwordComposition?

    /// Creates the context. Marginals of zero (features never seen) are floored at 1 so that logs stay finite.
    public init(rowEmbeddings: ParameterMatrix, columnEmbeddings: ParameterMatrix,
                rowOptimizer: OptimizerState, columnOptimizer: OptimizerState,
                rowSums: [Double], columnSums: [Double], total: Double, contextSmoothing: Double = 1,
                rowShards: Int, columnShards: Int, largestRowShard: Int, largestColumnShard: Int,
                unobservedCutoff: Float? = nil, rowSubwords: SubwordComposition? = nil,
                columnSubwords: SubwordComposition? = nil) {
        self.unobservedCutoff = unobservedCutoff
        self.rowSubwords = rowSubwords
        self.columnSubwords = columnSubwords
        self.rowEmbeddings = rowEmbeddings
        self.columnEmbeddings = columnEmbeddings
        self.rowOptimizer = rowOptimizer
        self.columnOptimizer = columnOptimizer
        // pmi = log x + rowTerm - columnTerm, rowTerm = log Z - log rowSum, columnTerm = alpha log colSum,
        // Z = sum_c colSum_c^alpha (= total when alpha is 1).
        let alpha = contextSmoothing
        let logZ = alpha == 1 ? naturalLog(total)
            : naturalLog(columnSums.reduce(0) { $0 + Glibc.pow(max($1, 1), alpha) })
        rowTerms = rowSums.map { Float(logZ - naturalLog(max($0, 1))) }
        columnTerms = columnSums.map { Float(alpha * naturalLog(max($0, 1))) }
        self.rowShards = rowShards
        self.columnShards = columnShards
        gradientScale = 1 / (Float(largestRowShard) * Float(largestColumnShard)).squareRoot()
    }
}

/// Scratch memory of one worker, allocated once and reused by every block it trains.
public final class StepWorkspace: @unchecked Sendable {
    let cells: UnsafeMutablePointer<Float>           // shardSize x shardSize
    let rowGradients: UnsafeMutablePointer<Float>    // shardSize x dimension
    let columnGradients: UnsafeMutablePointer<Float> // shardSize x dimension
    let rowTerm: UnsafeMutablePointer<Float>         // shardSize
    let columnTerm: UnsafeMutablePointer<Float>      // shardSize
    let observedGradient: UnsafeMutablePointer<Float> // shardSize: one row's observed cells
    /// With subwords: the block's composed row vectors, shardSize x dimension (nil without).
    let gatheredRows: UnsafeMutablePointer<Float>?
    /// With subwords on the columns: the block's composed column vectors, shardSize x dimension (nil without).
    let gatheredColumns: UnsafeMutablePointer<Float>?
    /// Indices (into the block's CSR arrays) of the observed cells of a block's rare corner; reused.
    var cornerCells: [Int32] = []
    let shardSize: Int
    let dimension: Int

    /// Allocates scratch for blocks of at most `shardSize x shardSize` and embeddings of `dimension`, with room for
    /// gathered row and column vectors when `gathersRows` and `gathersColumns` (subword models).
    public init(shardSize: Int, dimension: Int, gathersRows: Bool = false, gathersColumns: Bool = false) {
        gatheredRows = gathersRows ? .allocate(capacity: shardSize * dimension) : nil
        gatheredColumns = gathersColumns ? .allocate(capacity: shardSize * dimension) : nil
        self.shardSize = shardSize
        self.dimension = dimension
        cells = .allocate(capacity: shardSize * shardSize)
        rowGradients = .allocate(capacity: shardSize * dimension)
        columnGradients = .allocate(capacity: shardSize * dimension)
        rowTerm = .allocate(capacity: shardSize)
        columnTerm = .allocate(capacity: shardSize)
        observedGradient = .allocate(capacity: shardSize)
    }

    deinit {
        cells.deallocate(); rowGradients.deallocate(); columnGradients.deallocate()
        rowTerm.deallocate(); columnTerm.deallocate(); observedGradient.deallocate()
        gatheredRows?.deallocate(); gatheredColumns?.deallocate()
    }
}

/// One Swivel step on one block: predictions by SGEMM, the loss pass, two gradient SGEMMs, optimizer updates.
public enum BlockStep {
    /// The loss training reports comes from every 8th row of each block (scaled up; gradients stay exact for
    /// every cell): the loss's `log1p` and the observed cells' libm calls made training steps 5-9% slower
    /// (`swivel bench --block 4096 --dim 300`, side by side), for a number that only monitors training.
    public static let trainingLossRowStride = 8

    /// Trains `block` once and returns its loss (sum over its cells, before scaling; with `lossRowStride` k > 1
    /// an estimate from every k-th row, see ``SwivelLoss/apply(cells:block:rowTerm:columnTerm:gradientScale:observedGradient:lossRowStride:)``).
    ///
    /// The block's rows are row-embedding rows `rowShard, rowShard + n, ...` (stride `n = rowShards`), read in
    /// place by BLAS with leading dimension `n * d`; likewise its columns. A subword side's vectors are composed
    /// into the workspace first (``SubwordComposition``).
    public static func run(_ block: TrainingBlock, model: TrainingModel, workspace: StepWorkspace,
                           lossRowStride: Int = 1) -> Double {
        var loss = computeGradients(block, model: model, workspace: workspace, lossRowStride: lossRowStride)
        let d = model.rowEmbeddings.dimension
        precondition(d == workspace.dimension)
        // A sampled loss does not see every row: a block whose gradients stopped being finite must still report
        // a non-finite loss, so that training stops at this block (its last checkpoint predates it).
        if lossRowStride > 1 && loss.isFinite
            && !(allFinite(workspace.rowGradients, count: block.rowCount * d)
                 && allFinite(workspace.columnGradients, count: block.columnCount * d)) {
            loss = .nan
        }
        // With subwords the gradient of each feature's own vector is its share of dL/dv; the n-grams' shares wait in
        // the workspace's gradients for the end of the wave (SubwordComposition.applyGradients).
        model.rowSubwords?.spreadGradients(workspace.rowGradients, shard: block.rowShard, shards: model.rowShards,
                                           count: block.rowCount, dimension: d)
        model.columnSubwords?.spreadGradients(workspace.columnGradients, shard: block.columnShard,
                                              shards: model.columnShards, count: block.columnCount, dimension: d)
        model.rowOptimizer.update(parameters: model.rowEmbeddings, firstRow: block.rowShard,
                                  rowStride: model.rowShards, count: block.rowCount, gradients: workspace.rowGradients)
        model.columnOptimizer.update(parameters: model.columnEmbeddings, firstRow: block.columnShard,
                                     rowStride: model.columnShards, count: block.columnCount, gradients: workspace.columnGradients)
        return loss
    }

    /// Whether `count` floats are all finite: `x - x` is 0 for a finite `x` and NaN for an infinite or NaN one,
    /// so the sum of those differences (which cannot overflow) is 0 exactly when all are finite. One pass, 8 lanes.
    static func allFinite(_ values: UnsafePointer<Float>, count: Int) -> Bool {
        var sum = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            let v = UnsafeRawPointer(values + i).loadUnaligned(as: SIMD8<Float>.self)
            sum += v - v
            i += 8
        }
        var tail: Float = 0
        while i < count { tail += values[i] - values[i]; i += 1 }
        return sum.sum() + tail == 0
    }

    /// Computes the block's loss and leaves `gradientScale * dLoss/dR` (`rows x d`) in
    /// `workspace.rowGradients` and `gradientScale * dLoss/dC` (`columns x d`) in `workspace.columnGradients`,
    /// without changing the model (the loss from every `lossRowStride`-th row when it is above 1).
    public static func computeGradients(_ block: TrainingBlock, model: TrainingModel, workspace: StepWorkspace,
                                        lossRowStride: Int = 1) -> Double {
        let d = model.rowEmbeddings.dimension
        let rows = block.rowCount, columns = block.columnCount
        precondition(rows <= workspace.shardSize && columns <= workspace.shardSize && d == workspace.dimension)
        // The block's row and column vectors: read in place, or (subwords) composed into the workspace.
        let (rowBase, lda) = blockVectors(model.rowEmbeddings, composedBy: model.rowSubwords, into: workspace.gatheredRows,
                                          shard: block.rowShard, shards: model.rowShards, count: rows)
        let (columnBase, ldb) = blockVectors(model.columnEmbeddings, composedBy: model.columnSubwords,
                                             into: workspace.gatheredColumns, shard: block.columnShard,
                                             shards: model.columnShards, count: columns)

        for l in 0..<rows { workspace.rowTerm[l] = model.rowTerms[l * model.rowShards + block.rowShard] }
        for l in 0..<columns { workspace.columnTerm[l] = model.columnTerms[l * model.columnShards + block.columnShard] }
        if let cutoff = model.unobservedCutoff {
            let corner = RareCorner(rowTerm: workspace.rowTerm, rowCount: rows, columnTerm: workspace.columnTerm,
                                    columnCount: columns, cutoff: cutoff)
            if !corner.isEmpty(rowCount: rows, columnCount: columns) {
                return computeGradients(block, model: model, workspace: workspace, lossRowStride: lossRowStride,
                                        leavingOut: corner, rowBase: rowBase, lda: lda, columnBase: columnBase, ldb: ldb)
            }
        }

        // predictions (rows x columns) = R C^T
        BLAS.sgemm(transposeB: .transposed, m: rows, n: columns, k: d,
                   a: rowBase, lda: lda, b: columnBase, ldb: ldb, c: workspace.cells, ldc: columns)

        let loss = SwivelLoss.apply(cells: workspace.cells, block: block, rowTerm: workspace.rowTerm,
                                    columnTerm: workspace.columnTerm, gradientScale: model.gradientScale,
                                    observedGradient: workspace.observedGradient, lossRowStride: lossRowStride)

        // dR (rows x d) = G C;  dC (columns x d) = G^T R. Both before either update.
        BLAS.sgemm(m: rows, n: d, k: columns, a: workspace.cells, lda: columns,
                   b: columnBase, ldb: ldb, c: workspace.rowGradients, ldc: d)
        BLAS.sgemm(transposeA: .transposed, m: columns, n: d, k: rows, a: workspace.cells, lda: columns,
                   b: rowBase, ldb: lda, c: workspace.columnGradients, ldc: d)

        return loss
    }

    /// Where a block's `count` vectors of one side are, and their leading dimension: features `shard, shard + shards,
    /// ...` of `embeddings` in place (stride `shards * d`), or, for a side `composedBy` n-grams, their composed vectors
    /// gathered into `gathered` (stride `d`).
    static func blockVectors(_ embeddings: ParameterMatrix, composedBy subwords: SubwordComposition?,
                             into gathered: UnsafeMutablePointer<Float>?, shard: Int, shards: Int,
                             count: Int) -> (UnsafeMutablePointer<Float>, Int) {
        let d = embeddings.dimension
        guard let subwords else { return (embeddings.storage + shard * d, shards * d) }
        guard let gathered else { preconditionFailure("a subword side needs a workspace that gathers its vectors") }
        subwords.gather(words: embeddings, shard: shard, shards: shards, count: count, into: gathered)
        return (gathered, d)
    }

    /// ``computeGradients(_:model:workspace:lossRowStride:)`` without the unobserved cells of `corner` (rows
    /// `a..<n` x columns `b..<m`): the products are cut into the rectangles outside it, and its observed cells
    /// are trained one dot product each. Expects `workspace.rowTerm` and `columnTerm` filled for the block, and
    /// the block's row and column vectors at `rowBase` and `columnBase` with leading dimensions `lda` and `ldb`.
    static func computeGradients(_ block: TrainingBlock, model: TrainingModel, workspace: StepWorkspace,
                                 lossRowStride: Int, leavingOut corner: RareCorner,
                                 rowBase: UnsafeMutablePointer<Float>, lda: Int,
                                 columnBase: UnsafeMutablePointer<Float>, ldb: Int) -> Double {
        let d = model.rowEmbeddings.dimension
        let rows = block.rowCount, columns = block.columnCount
        let a = corner.firstRow, b = corner.firstColumn
        let cells = workspace.cells

        // predictions: rows 0..<a x every column, rows a..<n x columns 0..<b (row stride `columns` throughout).
        BLAS.sgemm(transposeB: .transposed, m: a, n: columns, k: d,
                   a: rowBase, lda: lda, b: columnBase, ldb: ldb, c: cells, ldc: columns)
        BLAS.sgemm(transposeB: .transposed, m: rows - a, n: b, k: d,
                   a: rowBase + a * lda, lda: lda, b: columnBase, ldb: ldb, c: cells + a * columns, ldc: columns)

        workspace.cornerCells.removeAll(keepingCapacity: true)
        var loss = withUnsafeMutablePointer(to: &workspace.cornerCells) { cornerCells in
            SwivelLoss.apply(cells: cells, block: block, rowTerm: workspace.rowTerm, columnTerm: workspace.columnTerm,
                             gradientScale: model.gradientScale, observedGradient: workspace.observedGradient,
                             lossRowStride: lossRowStride, corner: corner, cornerCells: cornerCells)
        }

        // dR = G C and dC = G^T R over the rectangles outside the corner.
        let dR = workspace.rowGradients, dC = workspace.columnGradients
        BLAS.sgemm(m: a, n: d, k: columns, a: cells, lda: columns, b: columnBase, ldb: ldb, c: dR, ldc: d)
        if b > 0 {
            BLAS.sgemm(m: rows - a, n: d, k: b, a: cells + a * columns, lda: columns, b: columnBase, ldb: ldb,
                       c: dR + a * d, ldc: d)
            BLAS.sgemm(transposeA: .transposed, m: b, n: d, k: rows, a: cells, lda: columns,
                       b: rowBase, ldb: lda, c: dC, ldc: d)
        } else {
            dR.advanced(by: a * d).update(repeating: 0, count: (rows - a) * d)
        }
        if a > 0 {
            BLAS.sgemm(transposeA: .transposed, m: columns - b, n: d, k: a, a: cells + b, lda: columns,
                       b: rowBase, ldb: lda, c: dC + b * d, ldc: d)
        } else {
            dC.advanced(by: b * d).update(repeating: 0, count: (columns - b) * d)
        }

        // The corner's observed cells: prediction, loss and gradient one cell at a time (exact), in CSR order.
        var cornerLoss = 0.0
        block.rowStart.withUnsafeBufferPointer { rowStart in
            block.columnIndex.withUnsafeBufferPointer { columnIndex in
                var i = a
                for k32 in workspace.cornerCells {
                    let k = Int(k32)
                    while Int(rowStart[i + 1]) <= k { i += 1 }
                    let j = Int(columnIndex[k])
                    let r = rowBase + i * lda, c = columnBase + j * ldb
                    var p: Float = 0
                    for t in 0..<d { p += r[t] * c[t] }
                    let e = p - (block.logCount[k] + workspace.rowTerm[i] - workspace.columnTerm[j])
                    let f = block.confidence[k]
                    cornerLoss += Double(0.5 * f * e * e)
                    let g = model.gradientScale * f * e
                    let gr = dR + i * d, gc = dC + j * d
                    for t in 0..<d {
                        gr[t] += g * c[t]
                        gc[t] += g * r[t]
                    }
                }
            }
        }
        loss += cornerLoss
        return loss
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func naturalLog(_ x: Double) -> Double { Glibc.log(x) }
#endif
