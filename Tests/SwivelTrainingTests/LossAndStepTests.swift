import Foundation
import SwivelLinearAlgebra
import SwivelTestSupport
import Testing
@testable import SwivelTraining

/// A random problem: `rowShards x columnShards` layout, one block (rowShard, columnShard) of it with
/// some observed cells, embeddings and marginals.
private struct Problem {
    let d = 7
    let rowShards = 2, columnShards = 3, shardSize = 5
    let rows = 9, columns = 13            // features; shard 1 of rows has 4, shard 2 of columns has 4
    let rowShard = 1, columnShard = 2
    var block: TrainingBlock
    var model: TrainingModel
    var counts: [[Float]]                 // local rows x local columns, 0 = unobserved
    var rowSums: [Double], columnSums: [Double], total: Double

    init(seed: UInt64, config: TrainingConfiguration = TrainingConfiguration()) {
        var random = RandomSource(seed: seed)
        let blockRows = (rows - rowShard + rowShards - 1) / rowShards
        let blockColumns = (columns - columnShard + columnShards - 1) / columnShards
        counts = (0..<blockRows).map { _ in
            (0..<blockColumns).map { _ in random.nextUnit() < 0.4 ? Float(0.5 + 20 * random.nextUnit()) : 0 }
        }
        var rowStart: [Int32] = [0], columnIndex: [Int32] = [], values: [Float] = []
        for r in counts {
            for (j, x) in r.enumerated() where x > 0 { columnIndex.append(Int32(j)); values.append(x) }
            rowStart.append(Int32(columnIndex.count))
        }
        block = TrainingBlock(rowShard: rowShard, columnShard: columnShard, rowCount: blockRows, columnCount: blockColumns,
                              rowStart: rowStart, columnIndex: columnIndex, counts: values,
                              confidenceBase: config.confidenceBase, confidenceScale: config.confidenceScale,
                              confidenceExponent: config.confidenceExponent)
        rowSums = (0..<rows).map { _ in 50 + 500 * random.nextUnit() }
        columnSums = (0..<columns).map { _ in 50 + 500 * random.nextUnit() }
        total = 20_000
        let rowValues = (0..<(rows * d)).map { _ in Float(random.nextGaussian() * 0.7) }
        let columnValues = (0..<(columns * d)).map { _ in Float(random.nextGaussian() * 0.7) }
        model = TrainingModel(rowEmbeddings: ParameterMatrix(rows: rows, dimension: d, values: rowValues),
                              columnEmbeddings: ParameterMatrix(rows: columns, dimension: d, values: columnValues),
                              rowOptimizer: OptimizerState(rows: rows, dimension: d, config: config),
                              columnOptimizer: OptimizerState(rows: columns, dimension: d, config: config),
                              rowSums: rowSums, columnSums: columnSums, total: total,
                              rowShards: rowShards, columnShards: columnShards,
                              largestRowShard: shardSize, largestColumnShard: shardSize)
    }

    /// The block's loss computed naively in Double from the paper's formulas, for given embeddings.
    func naiveLoss(rowValues: [Float], columnValues: [Float], config: TrainingConfiguration = TrainingConfiguration()) -> Double {
        var loss = 0.0
        for l in 0..<block.rowCount {
            let i = l * rowShards + rowShard
            for m in 0..<block.columnCount {
                let j = m * columnShards + columnShard
                var p = 0.0
                for k in 0..<d { p += Double(rowValues[i * d + k]) * Double(columnValues[j * d + k]) }
                let pmiStar = log(total) - log(rowSums[i]) - log(columnSums[j])
                let x = Double(counts[l][m])
                if x > 0 {
                    let f = Double(config.confidenceBase) + Double(config.confidenceScale) * pow(x, Double(config.confidenceExponent))
                    let e = p - (log(x) + pmiStar)
                    loss += 0.5 * f * e * e
                } else {
                    let e = p - pmiStar
                    loss += e > 0 ? e + log1p(exp(-e)) : log1p(exp(e))
                }
            }
        }
        return loss
    }
}

@Suite struct SwivelLossTests {
    @Test func fastMathMatchesLibm() {
        var worstExp: Float = 0, worstLog: Float = 0
        var x: Float = -87
        while x < 88 {
            let v = SIMD8<Float>((0..<8).map { min(88, x + Float($0) * 0.0013) })
            let fast = FastMath.exp(v)
            for k in 0..<8 { worstExp = max(worstExp, abs(fast[k] - expf(v[k])) / expf(v[k])) }
            x += 0.0173
        }
        var t: Float = 0
        while t <= 1 {
            let v = SIMD8<Float>((0..<8).map { min(1, t + Float($0) * 1e-5) })
            let fast = FastMath.log1pUnit(v)
            for k in 0..<8 { worstLog = max(worstLog, abs(fast[k] - log1pf(v[k]))) }
            t += 0.000097
        }
        #expect(worstExp < 4e-7, "exp relative error \(worstExp)")
        #expect(worstLog < 3e-7, "log1p absolute error \(worstLog)")
    }

    @Test func sampledLossKeepsEveryGradientAndEstimatesFromItsRows() {
        // 7 rows x 21 columns: SIMD lanes and a scalar tail; a third of the cells observed.
        let rows = 7, columns = 21
        var random = RandomSource(seed: 5)
        var rowStart: [Int32] = [0], columnIndex: [Int32] = [], counts: [Float] = []
        for _ in 0..<rows {
            for j in 0..<columns where random.nextUnit() < 0.33 {
                columnIndex.append(Int32(j))
                counts.append(Float(1 + 30 * random.nextUnit()))
            }
            rowStart.append(Int32(columnIndex.count))
        }
        func block(columnShard: Int) -> TrainingBlock {
            TrainingBlock(rowShard: 0, columnShard: columnShard, rowCount: rows, columnCount: columns, rowStart: rowStart,
                          columnIndex: columnIndex, counts: counts, confidenceBase: 0.1,
                          confidenceScale: 0.25, confidenceExponent: 0.5)
        }
        let predictions = (0..<(rows * columns)).map { _ in Float(random.nextGaussian() * 3) }
        let rowTerm = (0..<rows).map { _ in Float(2 + random.nextUnit()) }
        let columnTerm = (0..<columns).map { _ in Float(random.nextUnit()) }
        func run(_ stride: Int, columnShard: Int = 0) -> (loss: Double, gradients: [Float]) {
            let block = block(columnShard: columnShard)
            var cells = predictions
            var observed = [Float](repeating: 0, count: columns)
            let loss = cells.withUnsafeMutableBufferPointer { c in
                observed.withUnsafeMutableBufferPointer { o in
                    SwivelLoss.apply(cells: c.baseAddress!, block: block, rowTerm: rowTerm, columnTerm: columnTerm,
                                     gradientScale: 0.5, observedGradient: o.baseAddress!, lossRowStride: stride)
                }
            }
            return (loss, cells)
        }
        // The naive loss of one row, in Double.
        func rowLoss(_ i: Int) -> Double {
            var loss = 0.0
            var observed = [Int: Float]()
            for k in Int(rowStart[i])..<Int(rowStart[i + 1]) { observed[Int(columnIndex[k])] = counts[k] }
            for j in 0..<columns {
                let p = Double(predictions[i * columns + j]), pmiStar = Double(rowTerm[i]) - Double(columnTerm[j])
                if let x = observed[j].map(Double.init) {
                    let e = p - (log(x) + pmiStar)
                    loss += 0.5 * (0.1 + 0.25 * x.squareRoot()) * e * e
                } else {
                    let e = p - pmiStar
                    loss += e > 0 ? e + log1p(exp(-e)) : log1p(exp(e))
                }
            }
            return loss
        }
        let exact = run(1), sampled = run(3)
        #expect(exact.gradients == sampled.gradients)
        let all = (0..<rows).map(rowLoss).reduce(0, +)
        #expect(abs(exact.loss - all) <= 1e-5 * all, "exact \(exact.loss) vs naive \(all)")
        let estimate = (rowLoss(0) + rowLoss(3) + rowLoss(6)) * 7 / 3
        #expect(abs(sampled.loss - estimate) <= 1e-5 * estimate, "sampled \(sampled.loss) vs \(estimate)")
        #expect(abs(sampled.loss - all) > 1e-3 * all)   // it is an estimate, not the whole loss
        // Column shard 2 samples other rows ((i + 2) % 3 == 0: rows 1 and 4).
        let shifted = run(3, columnShard: 2)
        #expect(shifted.gradients == exact.gradients)
        let shiftedEstimate = (rowLoss(1) + rowLoss(4)) * 7 / 2
        #expect(abs(shifted.loss - shiftedEstimate) <= 1e-5 * shiftedEstimate, "shifted \(shifted.loss) vs \(shiftedEstimate)")
    }

    @Test func finiteCheckSeesInfinityAndNaNButNotLargeValues() {
        var values = [Float](repeating: 3e38, count: 21)   // their magnitudes' sum would overflow
        #expect(BlockStep.allFinite(values, count: values.count))
        for (index, bad) in [(5, Float.infinity), (20, -Float.infinity), (9, Float.nan)] {
            var damaged = values
            damaged[index] = bad
            #expect(!BlockStep.allFinite(damaged, count: damaged.count), "\(bad) at \(index)")
        }
        values[0] = -3e38
        #expect(BlockStep.allFinite(values, count: values.count))
    }

    @Test func blasStepEqualsNaiveLoops() {
        for seed: UInt64 in [1, 2, 3] {
            let problem = Problem(seed: seed)
            let workspace = StepWorkspace(shardSize: problem.shardSize, dimension: problem.d)
            let loss = BlockStep.computeGradients(problem.block, model: problem.model, workspace: workspace)
            let naive = problem.naiveLoss(rowValues: problem.model.rowEmbeddings.values,
                                          columnValues: problem.model.columnEmbeddings.values)
            #expect(abs(loss - naive) <= 1e-4 * abs(naive), "loss \(loss) vs naive \(naive)")

            // Naive gradients: dL/dR_ik = scale * sum_j g_ij C_jk, with g from the paper's derivatives.
            let d = problem.d, rows = problem.block.rowCount, columns = problem.block.columnCount
            let R = problem.model.rowEmbeddings.values, C = problem.model.columnEmbeddings.values
            let config = TrainingConfiguration()
            var g = [[Double]](repeating: [Double](repeating: 0, count: columns), count: rows)
            for l in 0..<rows {
                let i = l * problem.rowShards + problem.rowShard
                for m in 0..<columns {
                    let j = m * problem.columnShards + problem.columnShard
                    var p = 0.0
                    for k in 0..<d { p += Double(R[i * d + k]) * Double(C[j * d + k]) }
                    let pmiStar = log(problem.total) - log(problem.rowSums[i]) - log(problem.columnSums[j])
                    let x = Double(problem.counts[l][m])
                    if x > 0 {
                        let f = Double(config.confidenceBase) + Double(config.confidenceScale) * pow(x, 0.5)
                        g[l][m] = f * (p - log(x) - pmiStar)
                    } else {
                        g[l][m] = 1 / (1 + exp(-(p - pmiStar)))
                    }
                }
            }
            let scale = 1 / Double(problem.shardSize)
            for l in 0..<rows {
                for k in 0..<d {
                    var expected = 0.0
                    for m in 0..<columns { expected += g[l][m] * Double(C[(m * problem.columnShards + problem.columnShard) * d + k]) }
                    expected *= scale
                    #expect(abs(Double(workspace.rowGradients[l * d + k]) - expected) <= 1e-4 * max(1, abs(expected)))
                }
            }
            for m in 0..<columns {
                for k in 0..<d {
                    var expected = 0.0
                    for l in 0..<rows { expected += g[l][m] * Double(R[(l * problem.rowShards + problem.rowShard) * d + k]) }
                    expected *= scale
                    #expect(abs(Double(workspace.columnGradients[m * d + k]) - expected) <= 1e-4 * max(1, abs(expected)))
                }
            }
        }
    }

    @Test func gradientsMatchFiniteDifferences() {
        let problem = Problem(seed: 7)
        let workspace = StepWorkspace(shardSize: problem.shardSize, dimension: problem.d)
        _ = BlockStep.computeGradients(problem.block, model: problem.model, workspace: workspace)
        let d = problem.d
        let R = problem.model.rowEmbeddings.values, C = problem.model.columnEmbeddings.values
        let h: Float = 1e-2
        let scale = 1 / Double(problem.shardSize)
        var checked = 0
        /// Central differences of the naive loss against one side's analytic gradients.
        func check(side: String, localCount: Int, shards: Int, shard: Int, analytic: UnsafeMutablePointer<Float>,
                   loss: ([Float]) -> Double, values: [Float]) {
            for l in 0..<localCount {
                let i = l * shards + shard
                for k in 0..<d {
                    var plus = values, minus = values
                    plus[i * d + k] += h
                    minus[i * d + k] -= h
                    let numeric = (loss(plus) - loss(minus)) / (2 * Double(h)) * scale
                    let value = Double(analytic[l * d + k])
                    #expect(abs(numeric - value) <= 2e-3 * max(0.05, abs(numeric)), "\(side) \(l) k \(k): \(numeric) vs \(value)")
                    checked += 1
                }
            }
        }
        check(side: "row", localCount: problem.block.rowCount, shards: problem.rowShards, shard: problem.rowShard,
              analytic: workspace.rowGradients, loss: { problem.naiveLoss(rowValues: $0, columnValues: C) }, values: R)
        check(side: "column", localCount: problem.block.columnCount, shards: problem.columnShards, shard: problem.columnShard,
              analytic: workspace.columnGradients, loss: { problem.naiveLoss(rowValues: R, columnValues: $0) }, values: C)
        #expect(checked == (problem.block.rowCount + problem.block.columnCount) * d)
    }

    @Test func sampledLossStillStopsOnNonFiniteGradients() {
        // 4 rows: stride 8 samples local row 2 only (column shard 2); a NaN in local row 0's embedding leaves
        // the sampled loss finite, but not the gradients.
        let problem = Problem(seed: 13)
        let workspace = StepWorkspace(shardSize: problem.shardSize, dimension: problem.d)
        let row0 = problem.rowShard * problem.d
        problem.model.rowEmbeddings.storage[row0] = .nan
        let sampled = BlockStep.computeGradients(problem.block, model: problem.model, workspace: workspace, lossRowStride: 8)
        #expect(sampled.isFinite)
        #expect(!BlockStep.run(problem.block, model: problem.model, workspace: workspace, lossRowStride: 8).isFinite)
    }

    @Test func stepLowersTheLossAndTouchesOnlyItsRows() {
        var config = TrainingConfiguration()
        config.learningRate = 0.05
        let problem = Problem(seed: 11, config: config)
        let workspace = StepWorkspace(shardSize: problem.shardSize, dimension: problem.d)
        let beforeR = problem.model.rowEmbeddings.values
        let before = BlockStep.run(problem.block, model: problem.model, workspace: workspace)
        let after = BlockStep.computeGradients(problem.block, model: problem.model, workspace: workspace)
        #expect(after < before)
        let afterR = problem.model.rowEmbeddings.values
        let d = problem.d
        for i in 0..<problem.rows where i % problem.rowShards != problem.rowShard {
            #expect(Array(afterR[(i * d)..<((i + 1) * d)]) == Array(beforeR[(i * d)..<((i + 1) * d)]))
        }
    }
}

@Suite struct ContextSmoothingTests {
    @Test func pmiTermsFollowTheSmoothedContextDistribution() {
        let config = TrainingConfiguration()
        func terms(_ alpha: Double) -> ([Float], [Float]) {
            let model = TrainingModel(rowEmbeddings: ParameterMatrix(rows: 2, dimension: 1, values: [0, 0]),
                                      columnEmbeddings: ParameterMatrix(rows: 2, dimension: 1, values: [0, 0]),
                                      rowOptimizer: OptimizerState(rows: 2, dimension: 1, config: config),
                                      columnOptimizer: OptimizerState(rows: 2, dimension: 1, config: config),
                                      rowSums: [2, 6], columnSums: [4, 4], total: 8, contextSmoothing: alpha,
                                      rowShards: 1, columnShards: 1, largestRowShard: 2, largestColumnShard: 2)
            return (model.rowTerms, model.columnTerms)
        }
        // alpha 1: pmi = log x - log rowSum - log colSum + log total.
        #expect(terms(1).0 == [Float(log(8.0) - log(2.0)), Float(log(8.0) - log(6.0))])
        #expect(terms(1).1 == [Float(log(4.0)), Float(log(4.0))])
        // alpha 1/2: Z = 4^0.5 + 4^0.5 = 4; pmi = log x - log rowSum - 0.5 log colSum + log 4.
        let (rowTerms, columnTerms) = terms(0.5)
        #expect(abs(rowTerms[0] - Float(log(4.0) - log(2.0))) < 1e-6 && abs(rowTerms[1] - Float(log(4.0) - log(6.0))) < 1e-6)
        #expect(abs(columnTerms[0] - Float(0.5 * log(4.0))) < 1e-6)
        // A configuration written before the option existed decodes to plain PMI.
        // (The key is removed from the parsed object: its place in the encoded text varies from run to run.)
        var object = try! JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as! [String: Any]
        #expect(object.removeValue(forKey: "contextSmoothing") != nil)
        let json = try! JSONSerialization.data(withJSONObject: object)
        #expect(try! JSONDecoder().decode(TrainingConfiguration.self, from: json) == config)
    }
}

@Suite struct OptimizerTests {
    /// Two steps on w = [0.3, -0.2] with gradients [1, -2] then [0.5, 0.25], worked by hand:
    /// AdaGrad (lr 0.5, a0 0.1): a = [1.1, 4.1], w = [0.3 - 0.5/sqrt(1.1), -0.2 + 1/sqrt(4.1)];
    /// then a = [1.35, 4.1625], w -= 0.5 * [0.5/sqrt(1.35), 0.25/sqrt(4.1625)].
    @Test func adagradTwoSteps() {
        var config = TrainingConfiguration()
        config.learningRate = 0.5
        config.adagradInitialAccumulator = 0.1
        let w = ParameterMatrix(rows: 1, dimension: 2, values: [0.3, -0.2])
        let state = OptimizerState(rows: 1, dimension: 2, config: config)
        for g: [Float] in [[1, -2], [0.5, 0.25]] {
            g.withUnsafeBufferPointer { state.update(parameters: w, firstRow: 0, rowStride: 1, count: 1, gradients: $0.baseAddress!) }
        }
        #expect(abs(w.values[0] - -0.391897036) < 1e-6 && abs(w.values[1] - 0.232596913) < 1e-6)
        #expect(abs(state.accumulator.values[0] - 1.35) < 1e-6 && abs(state.accumulator.values[1] - 4.1625) < 1e-6)
    }

    /// RMSProp (lr 0.1, momentum 0.1, decay 0.9, ms0 = 1): ms = [0.925, 1.17625] after two steps,
    /// momentum m = [0.0619875245, 0.0055098619], w = [0.1380124755, -0.0300982580].
    @Test func rmspropTwoSteps() {
        var config = TrainingConfiguration()
        config.optimizer = .rmsprop
        config.learningRate = 0.1
        config.momentum = 0.1
        let w = ParameterMatrix(rows: 1, dimension: 2, values: [0.3, -0.2])
        let state = OptimizerState(rows: 1, dimension: 2, config: config)
        for g: [Float] in [[1, -2], [0.5, 0.25]] {
            g.withUnsafeBufferPointer { state.update(parameters: w, firstRow: 0, rowStride: 1, count: 1, gradients: $0.baseAddress!) }
        }
        #expect(abs(w.values[0] - 0.1380124755) < 1e-6 && abs(w.values[1] - -0.0300982580) < 1e-6)
        #expect(abs(state.accumulator.values[0] - 0.925) < 1e-6 && abs(state.accumulator.values[1] - 1.17625) < 1e-6)
        #expect(abs(state.momentumBuffer.values[0] - 0.0619875245) < 1e-6)
    }
}
