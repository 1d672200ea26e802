import Foundation
import SwivelLinearAlgebra
import Testing
@testable import SwivelTraining

/// One block (the whole matrix: one row shard, one column shard) with frequency-ordered marginals, so that
/// its rare x rare corner has large `pmi*`, observed cells at rate `density`, and random embeddings.
private struct CornerProblem {
    let d = 6, rows = 14, columns = 11
    var block: TrainingBlock
    var counts: [[Float]]
    var rowSums: [Double], columnSums: [Double]
    let total = 1e12
    var rowValues: [Float], columnValues: [Float]

    init(seed: UInt64, density: Double = 0.3) {
        var random = RandomSource(seed: seed)
        let rows = 14, columns = 11, d = 6
        // Zipf-like marginals: feature i has sum about 1e5 / (i + 1), with noise that breaks the exact order.
        rowSums = (0..<rows).map { 1e5 / Double($0 + 1) * (0.8 + 0.4 * random.nextUnit()) }
        columnSums = (0..<columns).map { 1e5 / Double($0 + 1) * (0.8 + 0.4 * random.nextUnit()) }
        counts = (0..<rows).map { _ in (0..<columns).map { _ in random.nextUnit() < density ? Float(0.5 + 20 * random.nextUnit()) : 0 } }
        var rowStart: [Int32] = [0], columnIndex: [Int32] = [], values: [Float] = []
        for r in counts {
            for (j, x) in r.enumerated() where x > 0 { columnIndex.append(Int32(j)); values.append(x) }
            rowStart.append(Int32(columnIndex.count))
        }
        let config = TrainingConfiguration()
        block = TrainingBlock(rowShard: 0, columnShard: 0, rowCount: rows, columnCount: columns, rowStart: rowStart,
                              columnIndex: columnIndex, counts: values, confidenceBase: config.confidenceBase,
                              confidenceScale: config.confidenceScale, confidenceExponent: config.confidenceExponent)
        rowValues = (0..<(rows * d)).map { _ in Float(random.nextGaussian() * 0.7) }
        columnValues = (0..<(columns * d)).map { _ in Float(random.nextGaussian() * 0.7) }
    }

    func model(cutoff: Float?) -> TrainingModel {
        let config = TrainingConfiguration()
        return TrainingModel(rowEmbeddings: ParameterMatrix(rows: rows, dimension: d, values: rowValues),
                             columnEmbeddings: ParameterMatrix(rows: columns, dimension: d, values: columnValues),
                             rowOptimizer: OptimizerState(rows: rows, dimension: d, config: config),
                             columnOptimizer: OptimizerState(rows: columns, dimension: d, config: config),
                             rowSums: rowSums, columnSums: columnSums, total: total, rowShards: 1, columnShards: 1,
                             largestRowShard: rows, largestColumnShard: columns, unobservedCutoff: cutoff)
    }

    func pmiStar(_ i: Int, _ j: Int) -> Double { log(total) - log(rowSums[i]) - log(columnSums[j]) }
}

@Suite struct RareCornerTests {
    /// The corner is the largest rectangle of trailing rows x trailing columns whose every cell has
    /// `pmi* >= cutoff`: checked against every rectangle, on sorted and unsorted terms.
    @Test func cornerIsTheLargestQualifyingRectangle() {
        var random = RandomSource(seed: 11)
        for trial in 0..<200 {
            let rows = 1 + Int(random.nextUnit() * 9), columns = 1 + Int(random.nextUnit() * 9)
            var rowTerm = (0..<rows).map { _ in Float(random.nextUnit() * 10) }
            var columnTerm = (0..<columns).map { _ in Float(random.nextUnit() * 10) }
            if trial % 2 == 0 { rowTerm.sort(); columnTerm.sort(by: >) }
            let cutoff = Float(random.nextUnit() * 10 - 2)
            let corner = RareCorner(rowTerm: rowTerm, rowCount: rows, columnTerm: columnTerm, columnCount: columns, cutoff: cutoff)
            var best = 0
            for a in 0..<rows {
                for b in 0..<columns {
                    let qualifies = (a..<rows).allSatisfy { i in (b..<columns).allSatisfy { j in rowTerm[i] - columnTerm[j] >= cutoff } }
                    if qualifies { best = max(best, (rows - a) * (columns - b)) }
                }
            }
            let area = corner.isEmpty(rowCount: rows, columnCount: columns) ? 0
                : (rows - corner.firstRow) * (columns - corner.firstColumn)
            #expect(area == best, "trial \(trial)")
            for i in corner.firstRow..<rows {
                for j in corner.firstColumn..<columns { #expect(rowTerm[i] - columnTerm[j] >= cutoff) }
            }
        }
    }

    /// The approximate step's gradients equal naive loops in which every unobserved cell of the corner has
    /// gradient 0 and every other cell the paper's exact one; its loss leaves out those cells' softplus.
    @Test func approximateStepEqualsNaiveLoopsWithoutTheCornersUnobservedCells() {
        for seed: UInt64 in [1, 2, 3, 4] {
            let problem = CornerProblem(seed: seed)
            let cutoff: Float = 8
            let model = problem.model(cutoff: cutoff)
            let workspace = StepWorkspace(shardSize: 16, dimension: problem.d)
            let loss = BlockStep.computeGradients(problem.block, model: model, workspace: workspace)
            let corner = RareCorner(rowTerm: workspace.rowTerm, rowCount: problem.rows, columnTerm: workspace.columnTerm,
                                    columnCount: problem.columns, cutoff: cutoff)
            #expect(!corner.isEmpty(rowCount: problem.rows, columnCount: problem.columns), "seed \(seed): no corner to test")
            #expect(corner.firstRow > 0 && corner.firstColumn > 0, "seed \(seed): the corner is the whole block")

            let d = problem.d, R = problem.rowValues, C = problem.columnValues
            let config = TrainingConfiguration()
            var g = [[Double]](repeating: [Double](repeating: 0, count: problem.columns), count: problem.rows)
            var naiveLoss = 0.0
            for i in 0..<problem.rows {
                for j in 0..<problem.columns {
                    var p = 0.0
                    for k in 0..<d { p += Double(R[i * d + k]) * Double(C[j * d + k]) }
                    let x = Double(problem.counts[i][j])
                    let inCorner = i >= corner.firstRow && j >= corner.firstColumn
                    if x > 0 {
                        let f = Double(config.confidenceBase) + Double(config.confidenceScale) * pow(x, 0.5)
                        let e = p - log(x) - problem.pmiStar(i, j)
                        g[i][j] = f * e
                        naiveLoss += 0.5 * f * e * e
                    } else if !inCorner {
                        let e = p - problem.pmiStar(i, j)
                        g[i][j] = 1 / (1 + exp(-e))
                        naiveLoss += e > 0 ? e + log1p(exp(-e)) : log1p(exp(e))
                    }
                }
            }
            #expect(abs(loss - naiveLoss) <= 1e-4 * abs(naiveLoss), "seed \(seed): loss \(loss) vs \(naiveLoss)")
            let scale = 1 / (Double(problem.rows) * Double(problem.columns)).squareRoot()
            for i in 0..<problem.rows {
                for k in 0..<d {
                    var expected = 0.0
                    for j in 0..<problem.columns { expected += g[i][j] * Double(C[j * d + k]) }
                    expected *= scale
                    #expect(abs(Double(workspace.rowGradients[i * d + k]) - expected) <= 1e-4 * max(1, abs(expected)),
                            "seed \(seed) row \(i)")
                }
            }
            for j in 0..<problem.columns {
                for k in 0..<d {
                    var expected = 0.0
                    for i in 0..<problem.rows { expected += g[i][j] * Double(R[i * d + k]) }
                    expected *= scale
                    #expect(abs(Double(workspace.columnGradients[j * d + k]) - expected) <= 1e-4 * max(1, abs(expected)),
                            "seed \(seed) column \(j)")
                }
            }
        }
    }

    /// A cutoff no cell reaches leaves the corner empty, and the step is the exact one, bit for bit.
    @Test func aCutoffNoCellReachesIsTheExactStep() {
        let problem = CornerProblem(seed: 5)
        let exact = StepWorkspace(shardSize: 16, dimension: problem.d)
        let approximate = StepWorkspace(shardSize: 16, dimension: problem.d)
        let exactLoss = BlockStep.computeGradients(problem.block, model: problem.model(cutoff: nil), workspace: exact)
        let sameLoss = BlockStep.computeGradients(problem.block, model: problem.model(cutoff: 1000), workspace: approximate)
        #expect(exactLoss == sameLoss)
        let count = problem.rows * problem.d
        #expect(Array(UnsafeBufferPointer(start: exact.rowGradients, count: count))
                == Array(UnsafeBufferPointer(start: approximate.rowGradients, count: count)))
        let columnCount = problem.columns * problem.d
        #expect(Array(UnsafeBufferPointer(start: exact.columnGradients, count: columnCount))
                == Array(UnsafeBufferPointer(start: approximate.columnGradients, count: columnCount)))
    }

    /// Every row or every column in the corner (a = 0 or b = 0) still gives the naive gradients' shapes: the
    /// SGEMMs that would have no rows are replaced by zeros, never left holding old values.
    @Test func cornersTouchingTheBlocksEdgesZeroWhatNoProductWrites() {
        let problem = CornerProblem(seed: 6, density: 0)
        let workspace = StepWorkspace(shardSize: 16, dimension: problem.d)
        // Poison the gradients: every one must be written.
        workspace.rowGradients.update(repeating: .nan, count: 16 * problem.d)
        workspace.columnGradients.update(repeating: .nan, count: 16 * problem.d)
        // A very low cutoff puts the whole block in the corner: with no observed cell, every gradient is 0.
        _ = BlockStep.computeGradients(problem.block, model: problem.model(cutoff: -100), workspace: workspace)
        #expect(UnsafeBufferPointer(start: workspace.rowGradients, count: problem.rows * problem.d).allSatisfy { $0 == 0 })
        #expect(UnsafeBufferPointer(start: workspace.columnGradients, count: problem.columns * problem.d).allSatisfy { $0 == 0 })
    }
}
