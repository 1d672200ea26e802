#if canImport(Glibc)
import Glibc
#endif

/// The observed cells of one block, ready for the loss: CSR indices plus `log x` and `f(x)` per cell.
///
/// Precomputing `log x` and the confidence once at load time keeps `log` and `pow` out of every step.
public struct TrainingBlock: Sendable {
    /// Row shard index.
    public let rowShard: Int
    /// Column shard index.
    public let columnShard: Int
    /// Rows in the block.
    public let rowCount: Int
    /// Columns in the block.
    public let columnCount: Int
    /// CSR row offsets (`rowCount + 1`).
    public let rowStart: [Int32]
    /// Local column of each observed cell.
    public let columnIndex: [Int32]
    /// `log x` of each observed cell.
    public let logCount: [Float]
    /// Confidence `f(x)` of each observed cell.
    public let confidence: [Float]

    /// Builds the block from raw counts under the confidence function `base + scale * x^exponent`.
    public init(rowShard: Int, columnShard: Int, rowCount: Int, columnCount: Int,
                rowStart: [Int32], columnIndex: [Int32], counts: [Float],
                confidenceBase: Float, confidenceScale: Float, confidenceExponent: Float) {
        self.rowShard = rowShard
        self.columnShard = columnShard
        self.rowCount = rowCount
        self.columnCount = columnCount
        self.rowStart = rowStart
        self.columnIndex = columnIndex
        logCount = counts.map { logf($0) }
        confidence = counts.map { confidenceBase + confidenceScale * powf($0, confidenceExponent) }
    }

    /// Number of observed cells.
    public var nonzeroCount: Int { columnIndex.count }
}

/// The Swivel loss and its gradient with respect to the predictions, over one block at a time.
///
/// For cell (i, j) with prediction `p = r_i . c_j` and `pmi* = log N - log R_i - log C_j`:
/// - observed (`x > 0`): loss `1/2 f(x) (p - pmi)^2` with `pmi = log x + pmi*`, gradient `f(x) (p - pmi)`;
/// - unobserved: loss `softplus(p - pmi*)`, gradient `sigmoid(p - pmi*)`.
/// (Shazeer et al. 2016, section 3.) Gradients are multiplied by `gradientScale` (the reference uses
/// `1 / sqrt(rows * columns)` of a full block).
public enum SwivelLoss {
    /// Replaces the predictions in `cells` by the loss gradients and returns the block's loss (unscaled).
    ///
    /// Gradients are always exact for every cell. The loss itself is only reported (it steers nothing), and
    /// computing it costs about a third of this pass, so `lossRowStride` can restrict it to the rows `i` with
    /// `(i + columnShard) % lossRowStride == 0` (the offset makes the blocks of a row shard sample different
    /// rows), scaled up by `rows / sampled rows`: an estimate of the block's loss.
    ///
    /// - Parameters:
    ///   - cells: `block.rowCount x block.columnCount` predictions, row-major with row stride `block.columnCount`;
    ///     overwritten with `gradientScale * dLoss/dPrediction`.
    ///   - rowTerm: `block.rowCount` values `log N - log R_i`.
    ///   - columnTerm: `block.columnCount` values `log C_j`.
    ///   - observedGradient: scratch of at least `block.columnCount` floats (one row's observed cells).
    ///   - lossRowStride: 1 for the exact loss; k > 1 for the loss of every k-th row, scaled up (at most
    ///     `block.rowCount`, so that a small block still samples a row).
    /// - Returns: the sum of the loss over the block's cells (or its estimate), in Double.
    ///   - corner: with an approximate step, the ``RareCorner`` whose cells are not in `cells`: its unobserved
    ///     cells are left out, and the index `k` of each of its observed cells is appended to `cornerCells`
    ///     (row by row) for the caller to train by dot products. Nil: every cell, the exact loss.
    public static func apply(cells: UnsafeMutablePointer<Float>, block: TrainingBlock,
                             rowTerm: UnsafePointer<Float>, columnTerm: UnsafePointer<Float>,
                             gradientScale: Float, observedGradient: UnsafeMutablePointer<Float>,
                             lossRowStride: Int = 1, corner: RareCorner? = nil,
                             cornerCells: UnsafeMutablePointer<[Int32]>? = nil) -> Double {
        precondition(lossRowStride >= 1)
        // Blocks with fewer rows than the stride still sample one row.
        let lossRowStride = max(1, min(lossRowStride, block.rowCount))
        let columns = block.columnCount
        // Rows whose loss is counted (all of them with stride 1).
        let columnShard = block.columnShard
        let sampled = { (i: Int) in (i + columnShard) % lossRowStride == 0 }
        var loss: Double = 0
        var sampledRows = 0
        // Row by row, so that a row's 4 x columns bytes are read from memory once and stay in L1 for all three
        // steps (three passes over the whole block made the observed cells' accesses cache misses:
        // `swivel bench`, side by side: steps 1-3% faster).
        block.rowStart.withUnsafeBufferPointer { rowStart in
            block.columnIndex.withUnsafeBufferPointer { columnIndex in
                block.logCount.withUnsafeBufferPointer { logCount in
                    block.confidence.withUnsafeBufferPointer { confidence in
                        for i in 0..<block.rowCount {
                            let row = cells + i * columns
                            let rt = rowTerm[i]
                            let withLoss = sampled(i)
                            let first = Int(rowStart[i])
                            var end = Int(rowStart[i + 1])
                            // Columns of this row that are in `cells`: all of them, or those left of the corner.
                            var limit = columns
                            if let corner, i >= corner.firstRow {
                                limit = corner.firstColumn
                                // Observed cells in the corner (column indices increase along the row).
                                var k = end
                                while k > first && Int(columnIndex[k - 1]) >= limit { k -= 1 }
                                for c in k..<end { cornerCells!.pointee.append(Int32(c)) }
                                end = k
                            }
                            // 1. The row's observed cells, before step 2 overwrites their predictions. Step 2
                            //    adds the unobserved loss for these cells too, so subtract it here.
                            var rowLoss: Float = 0
                            for k in first..<end {
                                let j = Int(columnIndex[k])
                                let pmiStar = rt - columnTerm[j]
                                let p = row[j]
                                let e = p - (logCount[k] + pmiStar)
                                let f = confidence[k]
                                observedGradient[k - first] = gradientScale * f * e
                                if withLoss { rowLoss += 0.5 * f * e * e - softplus(p - pmiStar) }
                            }
                            // 2. Every cell of the row as unobserved, eight at a time.
                            if withLoss {
                                sampledRows += 1
                                loss += Double(rowLoss)
                                loss += Double(unobservedRow(row, columns: limit, rowTerm: rt, columnTerm: columnTerm,
                                                             gradientScale: gradientScale, withLoss: true))
                            } else {
                                _ = unobservedRow(row, columns: limit, rowTerm: rt, columnTerm: columnTerm,
                                                  gradientScale: gradientScale, withLoss: false)
                            }
                            // 3. The observed gradients over the unobserved ones.
                            for k in first..<end {
                                row[Int(columnIndex[k])] = observedGradient[k - first]
                            }
                        }
                    }
                }
            }
        }
        if sampledRows > 0 && sampledRows < block.rowCount { loss *= Double(block.rowCount) / Double(sampledRows) }
        return loss
    }

    /// One row of predictions taken as unobserved cells, in place: each becomes `gradientScale * sigmoid(p - pmi*)`;
    /// returns the row's `softplus(p - pmi*)` summed with `withLoss` (a constant at each call: inlined, the
    /// gradient-only copy has no `log1p`), else 0.
    @inline(__always)
    static func unobservedRow(_ row: UnsafeMutablePointer<Float>, columns: Int, rowTerm: Float,
                              columnTerm: UnsafePointer<Float>, gradientScale: Float, withLoss: Bool) -> Float {
        let vectorEnd = columns & ~7
        let rt = SIMD8<Float>(repeating: rowTerm)
        var rowLoss = SIMD8<Float>(repeating: 0)
        var j = 0
        while j < vectorEnd {
            let p = UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self)
            let ct = UnsafeRawPointer(columnTerm + j).loadUnaligned(as: SIMD8<Float>.self)
            let e = p - (rt - ct)
            let negative = e .< 0
            let t = FastMath.exp(e.replacing(with: -e, where: .!negative))   // e^-|e| in (0, 1]
            let inverse = 1 / (1 + t)
            // Below e^-60 the gradient is set to exactly 0: the scaled value would be a subnormal float,
            // and subnormals slow every later SGEMM by orders of magnitude.
            let sigmoid = inverse.replacing(with: t * inverse, where: negative)
                .replacing(with: 0, where: e .< SwivelLoss.negligibleExponent)
            if withLoss { rowLoss += e.replacing(with: 0, where: negative) + FastMath.log1pUnit(t) }
            UnsafeMutableRawPointer(row + j).storeBytes(of: sigmoid * gradientScale, as: SIMD8<Float>.self)
            j += 8
        }
        var tailLoss: Float = 0
        while j < columns {
            let e = row[j] - (rowTerm - columnTerm[j])
            if withLoss { tailLoss += softplus(e) }
            row[j] = e < negligibleExponent ? 0 : gradientScale * sigmoid(e)
            j += 1
        }
        return rowLoss.sum() + tailLoss
    }

    /// Predictions this far below `pmi*` get a zero gradient (sigmoid < 1e-26) instead of a subnormal one.
    public static let negligibleExponent: Float = -60

    /// log(1 + e^x), computed without overflow (libm).
    @inline(__always)
    public static func softplus(_ x: Float) -> Float {
        x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x))
    }

    /// 1 / (1 + e^-x), computed without overflow (libm).
    @inline(__always)
    public static func sigmoid(_ x: Float) -> Float {
        x >= 0 ? 1 / (1 + expf(-x)) : expf(x) / (1 + expf(x))
    }
}
