import Foundation
import SwivelEmbeddings
import SwivelLinearAlgebra
import SwivelTestSupport
import SwivelText
import Testing
@testable import SwivelTraining

/// One block of a subword model: 9 row words in 2 row shards (block rows are words 1, 3, 5, 7), 13 column words in
/// 3 column shards (block columns 2, 5, 8, 11), random counts, feature vectors and n-gram vectors; the columns are
/// composed of n-grams too when `composedColumns`, weighted by `combination`. Few buckets, so that some n-grams collide.
private struct SubwordProblem {
    let d = 5
    let rowShards = 2, columnShards = 3, shardSize = 5
    let rowShard = 1, columnShard = 2
    let words = ["walk", "walked", "talk", "talked", "swim", "swam", "a", "naïve", "walking"]
    let columnWords = ["run", "ran", "running", "runs", "jump", "jumped", "jumps", "cat", "cats", "dog", "dogs", "été", "x"]
    let columns = 13   // columnWords.count
    let scheme = SubwordScheme(minN: 2, maxN: 4, buckets: 97)
    let config: TrainingConfiguration
    var block: TrainingBlock
    var model: TrainingModel
    var subwords: SubwordComposition
    var columnSubwords: SubwordComposition?
    var counts: [[Double]]
    var rowSums: [Double], columnSums: [Double], total: Double

    init(seed: UInt64, composedColumns: Bool = false, combination: SubwordCombination = .mean) {
        var config = TrainingConfiguration()
        config.subwordCombination = combination
        config.dimension = d
        config.learningRate = 0.05
        config.subwords = scheme
        self.config = config
        var random = RandomSource(seed: seed)
        let blockRows = 4, blockColumns = 4
        counts = (0..<blockRows).map { _ in
            (0..<blockColumns).map { _ in random.nextUnit() < 0.5 ? 0.5 + 20 * random.nextUnit() : 0 }
        }
        var rowStart: [Int32] = [0], columnIndex: [Int32] = [], values: [Float] = []
        for r in counts {
            for (j, x) in r.enumerated() where x > 0 { columnIndex.append(Int32(j)); values.append(Float(x)) }
            rowStart.append(Int32(columnIndex.count))
        }
        block = TrainingBlock(rowShard: rowShard, columnShard: columnShard, rowCount: blockRows, columnCount: blockColumns,
                              rowStart: rowStart, columnIndex: columnIndex, counts: values,
                              confidenceBase: config.confidenceBase, confidenceScale: config.confidenceScale,
                              confidenceExponent: config.confidenceExponent)
        rowSums = (0..<words.count).map { _ in 50 + 500 * random.nextUnit() }
        columnSums = (0..<columns).map { _ in 50 + 500 * random.nextUnit() }
        total = 20_000
        subwords = SubwordComposition(words: words, scheme: scheme, shards: rowShards, config: config)
        for i in 0..<(subwords.vectors.rows * d) { subwords.vectors.storage[i] = Float(random.nextGaussian() * 0.5) }
        let rowValues = (0..<(words.count * d)).map { _ in Float(random.nextGaussian() * 0.5) }
        let columnValues = (0..<(columns * d)).map { _ in Float(random.nextGaussian() * 0.5) }
        if composedColumns {
            let table = SubwordComposition(words: columnWords, scheme: scheme, shards: columnShards, config: config)
            for i in 0..<(table.vectors.rows * d) { table.vectors.storage[i] = Float(random.nextGaussian() * 0.5) }
            columnSubwords = table
        }
        model = TrainingModel(rowEmbeddings: ParameterMatrix(rows: words.count, dimension: d, values: rowValues),
                              columnEmbeddings: ParameterMatrix(rows: columns, dimension: d, values: columnValues),
                              rowOptimizer: OptimizerState(rows: words.count, dimension: d,
                                                           config: config.ownVectorSettings(composed: true)),
                              columnOptimizer: OptimizerState(rows: columns, dimension: d,
                                                              config: config.ownVectorSettings(composed: composedColumns)),
                              rowSums: rowSums, columnSums: columnSums, total: total,
                              rowShards: rowShards, columnShards: columnShards,
                              largestRowShard: shardSize, largestColumnShard: shardSize, rowSubwords: subwords,
                              columnSubwords: columnSubwords)
    }

    /// Word `i`'s composed vector in Double from its own vector (in `w`) and its n-grams' vectors (in `b`, in the
    /// order of `table`'s bucket ids, the n-grams found from the scheme, not from the table's own lists): their mean,
    /// or the own vector plus the n-grams' mean.
    func composed(_ word: String, _ i: Int, w: [Float], b: [Float], table: SubwordComposition) -> [Double] {
        let buckets = scheme.buckets(of: word)
        var ngrams = [Double](repeating: 0, count: d)
        for bucket in buckets {
            let s = table.bucketIDs.firstIndex(of: bucket)!
            for t in 0..<d { ngrams[t] += Double(b[s * d + t]) }
        }
        let n = Double(buckets.count)
        return (0..<d).map { t in
            switch config.subwordCombination {
            case .mean: (Double(w[i * d + t]) + ngrams[t]) / (1 + n)
            case let .ownPlusMean(weight): n > 0 ? Double(weight) * Double(w[i * d + t]) + ngrams[t] / n : Double(w[i * d + t])
            }
        }
    }

    /// The block's loss from the paper's formulas, in Double, for given row feature and n-gram vectors (`w`, `b`) and
    /// column feature and n-gram vectors (`c`, `cb`; `cb` unused when the columns are not composed).
    func naiveLoss(w: [Float], b: [Float], c: [Float], cb: [Float]) -> Double {
        var loss = 0.0
        for l in 0..<block.rowCount {
            let i = l * rowShards + rowShard
            let r = composed(words[i], i, w: w, b: b, table: subwords)
            for m in 0..<block.columnCount {
                let j = m * columnShards + columnShard
                let column = columnSubwords.map { composed(columnWords[j], j, w: c, b: cb, table: $0) }
                    ?? (0..<d).map { Double(c[j * d + $0]) }
                var p = 0.0
                for k in 0..<d { p += r[k] * column[k] }
                let pmiStar = log(total) - log(rowSums[i]) - log(columnSums[j])
                let x = counts[l][m]
                if x > 0 {
                    let f = Double(config.confidenceScale) * x.squareRoot()
                    loss += 0.5 * f * (p - log(x) - pmiStar) * (p - log(x) - pmiStar)
                } else {
                    let e = p - pmiStar
                    loss += e > 0 ? e + log1p(exp(-e)) : log1p(exp(e))
                }
            }
        }
        return loss
    }

    /// `gradientScale * dLoss/d(parameter)` for every row and column feature vector and n-gram vector, by central
    /// differences of ``naiveLoss(w:b:c:cb:)``.
    func numericGradients() -> (w: [Double], b: [Double], c: [Double], cb: [Double]) {
        let w = model.rowEmbeddings.values, b = subwords.vectors.values, c = model.columnEmbeddings.values
        let cb = columnSubwords?.vectors.values ?? []
        let h: Float = 1e-2, scale = Double(model.gradientScale)
        func central(_ values: [Float], _ loss: ([Float]) -> Double) -> [Double] {
            values.indices.map { k in
                var plus = values, minus = values
                plus[k] += h
                minus[k] -= h
                return (loss(plus) - loss(minus)) / (2 * Double(h)) * scale
            }
        }
        return (central(w) { naiveLoss(w: $0, b: b, c: c, cb: cb) }, central(b) { naiveLoss(w: w, b: $0, c: c, cb: cb) },
                central(c) { naiveLoss(w: w, b: b, c: $0, cb: cb) }, central(cb) { naiveLoss(w: w, b: b, c: c, cb: $0) })
    }
}

@Suite struct SubwordCompositionTests {
    @Test(arguments: [false, true], [SubwordCombination.mean, .ownPlusMean(ownWeight: 1), .ownPlusMean(ownWeight: 0.3)])
    func theBlockStepWithSubwordsIsAnAdaGradStepOnTheNaiveGradients(composedColumns: Bool, combination: SubwordCombination) {
        for seed: UInt64 in [1, 2] {
            let problem = SubwordProblem(seed: seed, composedColumns: composedColumns, combination: combination)
            let d = problem.d
            let gradients = problem.numericGradients()
            let (w0, b0, c0) = (problem.model.rowEmbeddings.values, problem.subwords.vectors.values,
                                problem.model.columnEmbeddings.values)
            let cb0 = problem.columnSubwords?.vectors.values ?? []
            let workspace = StepWorkspace(shardSize: problem.shardSize, dimension: d, gathersRows: true,
                                          gathersColumns: composedColumns)
            let loss = BlockStep.run(problem.block, model: problem.model, workspace: workspace)
            problem.subwords.applyGradients(of: [(problem.rowShard, UnsafePointer(workspace.rowGradients))], workers: 2)
            problem.columnSubwords?.applyGradients(of: [(problem.columnShard, UnsafePointer(workspace.columnGradients))],
                                                   workers: 3)
            let naive = problem.naiveLoss(w: w0, b: b0, c: c0, cb: cb0)
            #expect(abs(loss - naive) <= 1e-4 * abs(naive), "loss \(loss) vs naive \(naive)")

            // One AdaGrad step from a fresh accumulator a0: a = a0 + g^2, v -= lr g / sqrt(a), the own vectors of a
            // composed side at lr times the own rate.
            let a0 = Double(problem.config.adagradInitialAccumulator)
            let rate = Double(problem.config.learningRate), ownRate = rate * Double(problem.config.subwordOwnRate)
            func expectStep(_ name: String, before: [Float], after: [Float], gradient: [Double], lr: Double,
                            touched: (Int) -> Bool) {
                for k in before.indices {
                    let g = gradient[k]
                    let expected = touched(k / d) ? Double(before[k]) - lr * g / (a0 + g * g).squareRoot() : Double(before[k])
                    // A parameter whose gradient is near 0 moves by an amount the finite differences cannot resolve
                    // (AdaGrad divides by sqrt(a0 + g^2)): those are checked against the analytic gradient below.
                    if abs(g) > 1e-3 {
                        #expect(abs(Double(after[k]) - expected) <= 2e-3 * lr, "\(name) \(k): \(after[k]) vs \(expected)")
                        #expect(touched(k / d) == (after[k] != before[k]), "\(name) \(k) moved: \(after[k] != before[k])")
                    }
                }
            }
            let blockRows = Set((0..<problem.block.rowCount).map { $0 * problem.rowShards + problem.rowShard })
            let blockColumns = Set((0..<problem.block.columnCount).map { $0 * problem.columnShards + problem.columnShard })
            let usedSlots = Set(blockRows.flatMap { problem.scheme.buckets(of: problem.words[$0]) }
                .map { problem.subwords.bucketIDs.firstIndex(of: $0)! })
            expectStep("word", before: w0, after: problem.model.rowEmbeddings.values, gradient: gradients.w, lr: ownRate,
                       touched: blockRows.contains)
            expectStep("n-gram", before: b0, after: problem.subwords.vectors.values, gradient: gradients.b, lr: rate,
                       touched: usedSlots.contains)
            expectStep("column", before: c0, after: problem.model.columnEmbeddings.values, gradient: gradients.c,
                       lr: composedColumns ? ownRate : rate, touched: blockColumns.contains)
            if let columnSubwords = problem.columnSubwords {
                let usedColumnSlots = Set(blockColumns.flatMap { problem.scheme.buckets(of: problem.columnWords[$0]) }
                    .map { columnSubwords.bucketIDs.firstIndex(of: $0)! })
                expectStep("column n-gram", before: cb0, after: columnSubwords.vectors.values, gradient: gradients.cb,
                           lr: rate, touched: usedColumnSlots.contains)
                #expect(!usedColumnSlots.isEmpty && usedColumnSlots.count < columnSubwords.bucketIDs.count)
            }
            // Rows, n-grams and columns outside the block are unchanged, bit for bit.
            for i in 0..<problem.words.count where !blockRows.contains(i) {
                #expect(problem.model.rowEmbeddings.values[(i * d)..<((i + 1) * d)] == w0[(i * d)..<((i + 1) * d)])
            }
            for s in 0..<problem.subwords.bucketIDs.count where !usedSlots.contains(s) {
                #expect(problem.subwords.vectors.values[(s * d)..<((s + 1) * d)] == b0[(s * d)..<((s + 1) * d)])
            }
            #expect(!usedSlots.isEmpty && usedSlots.count < problem.subwords.bucketIDs.count)
            // The block's rows share n-grams ("ed>" of walked and talked), so some n-gram sums two rows' gradients.
            let perRow = blockRows.map { Set(problem.scheme.buckets(of: problem.words[$0])) }
            #expect(usedSlots.count < perRow.reduce(0) { $0 + $1.count })
        }
    }

    @Test(arguments: [SubwordCombination.mean, .ownPlusMean(ownWeight: 1), .ownPlusMean(ownWeight: 0.3)])
    func spreadGradientsMatchFiniteDifferences(combination: SubwordCombination) {
        let problem = SubwordProblem(seed: 3, composedColumns: true, combination: combination)
        let d = problem.d
        let workspace = StepWorkspace(shardSize: problem.shardSize, dimension: d, gathersRows: true, gathersColumns: true)
        _ = BlockStep.computeGradients(problem.block, model: problem.model, workspace: workspace)
        problem.subwords.spreadGradients(workspace.rowGradients, shard: problem.rowShard, shards: problem.rowShards,
                                         count: problem.block.rowCount, dimension: d)
        problem.columnSubwords!.spreadGradients(workspace.columnGradients, shard: problem.columnShard,
                                                shards: problem.columnShards, count: problem.block.columnCount, dimension: d)
        let numeric = problem.numericGradients()
        func close(_ analytic: Double, _ numeric: Double) -> Bool { abs(analytic - numeric) <= 2e-3 * max(0.05, abs(numeric)) }
        // A word's own vector: its row of the spread gradient.
        for l in 0..<problem.block.rowCount {
            let i = l * problem.rowShards + problem.rowShard
            for t in 0..<d {
                #expect(close(Double(workspace.rowGradients[l * d + t]), numeric.w[i * d + t]), "word \(i) \(t)")
            }
        }
        // An n-gram vector: the sum over the block's rows of their n-gram share, once per occurrence: the spread
        // gradient (alpha dL/dv) times beta / alpha: 1 for the mean, 1 / (n w) for w times the own vector plus the mean.
        func share(_ word: String) -> Double {
            let n = Double(problem.scheme.buckets(of: word).count)
            switch combination {
            case .mean: return 1
            case let .ownPlusMean(weight): return 1 / (n * Double(weight))
            }
        }
        var ngram = [Double](repeating: 0, count: problem.subwords.vectors.rows * d)
        for l in 0..<problem.block.rowCount {
            let i = l * problem.rowShards + problem.rowShard
            for bucket in problem.scheme.buckets(of: problem.words[i]) {
                let s = problem.subwords.bucketIDs.firstIndex(of: bucket)!
                for t in 0..<d { ngram[s * d + t] += share(problem.words[i]) * Double(workspace.rowGradients[l * d + t]) }
            }
        }
        for k in ngram.indices { #expect(close(ngram[k], numeric.b[k]), "n-gram slot \(k / d) \(k % d)") }
        var columnNgram = [Double](repeating: 0, count: problem.columnSubwords!.vectors.rows * d)
        for m in 0..<problem.block.columnCount {
            let j = m * problem.columnShards + problem.columnShard
            for t in 0..<d { #expect(close(Double(workspace.columnGradients[m * d + t]), numeric.c[j * d + t]), "column \(j) \(t)") }
            for bucket in problem.scheme.buckets(of: problem.columnWords[j]) {
                let s = problem.columnSubwords!.bucketIDs.firstIndex(of: bucket)!
                for t in 0..<d { columnNgram[s * d + t] += share(problem.columnWords[j]) * Double(workspace.columnGradients[m * d + t]) }
            }
        }
        for k in columnNgram.indices { #expect(close(columnNgram[k], numeric.cb[k]), "column n-gram slot \(k / d) \(k % d)") }
    }

    @Test func nGramUpdatesDoNotDependOnTheThreadCount() {
        var results: [[Float]] = []
        for workers in [1, 2, 3, 7] {
            let problem = SubwordProblem(seed: 4)
            let d = problem.d
            // Two blocks' gradients (random), applied in one order.
            var random = RandomSource(seed: 99)
            let first = (0..<(4 * d)).map { _ in Float(random.nextGaussian()) }
            let second = (0..<(5 * d)).map { _ in Float(random.nextGaussian()) }
            first.withUnsafeBufferPointer { a in
                second.withUnsafeBufferPointer { b in
                    problem.subwords.applyGradients(of: [(1, a.baseAddress!), (0, b.baseAddress!)], workers: workers)
                }
            }
            results.append(problem.subwords.vectors.values + problem.subwords.optimizer.accumulator.values)
        }
        #expect(results.allSatisfy { $0 == results[0] })
    }

    @Test(arguments: [SubwordCombination.mean, .ownPlusMean(ownWeight: 1), .ownPlusMean(ownWeight: 0.3)])
    func theSplitStartKeepsEveryComposedVector(combination: SubwordCombination) {
        let problem = SubwordProblem(seed: 5, combination: combination)
        let d = problem.d
        let start = problem.model.rowEmbeddings.values
        problem.subwords.splitStart(problem.model.rowEmbeddings)
        let composed = problem.subwords.composed(words: problem.model.rowEmbeddings).values
        for k in start.indices { #expect(abs(composed[k] - start[k]) <= 1e-5 * max(1, abs(start[k]))) }
        // Each n-gram vector is the mean of the start vectors of the words that use it (per occurrence).
        let slot = problem.subwords.bucketIDs.firstIndex(of: problem.scheme.buckets(of: "walked")[0])!
        var sum = [Double](repeating: 0, count: d), uses = 0.0
        for (i, word) in problem.words.enumerated() {
            for bucket in problem.scheme.buckets(of: word) where bucket == problem.subwords.bucketIDs[slot] {
                uses += 1
                for t in 0..<d { sum[t] += Double(start[i * d + t]) }
            }
        }
        #expect(uses >= 2)   // "<w" is shared by walk, walked, walking
        for t in 0..<d {
            #expect(abs(Double(problem.subwords.vectors.values[slot * d + t]) - sum[t] / uses) <= 1e-5)
        }
    }

    @Test func aSubwordModelGivesVectorsToUnseenWordsFromItsNgrams() throws {
        var (prep, config) = try smallPlantedRun()
        config.subwords = SubwordScheme(minN: 2, maxN: 4, buckets: 1000)
        config.ensemble = 2
        let trainer = try Trainer(prepDirectory: prep, config: config)
        let summary = try trainer.train()
        let directory = TemporaryFile.path()
        try Trainer.prepareModelDirectory(directory, force: false)
        try trainer.writeModel(to: directory, summary: summary)
        let rows = try Embeddings.loadModel(directory: directory, choice: .row)
        let table = try #require(rows.subwords)
        #expect(table.bucketIDs == trainer.model.rowSubwords!.bucketIDs)
        // The written row vectors are the composed ones.
        #expect(rows.vectors.values == trainer.composedRowVectors.values)
        // A word of the vocabulary keeps its vector; an unseen one is the mean of its n-grams' vectors.
        let seen = try #require(rows.vector(of: "g0w1"))
        #expect(seen.seen && seen.values == Array(rows.vectors.row(rows.id(of: "g0w1")!)))
        let unseen = try #require(rows.vector(of: "g0w9"))
        #expect(!unseen.seen)
        let buckets = config.subwords!.buckets(of: "g0w9")
        var mean = [Float](repeating: 0, count: config.dimension)
        for bucket in buckets {
            guard let s = table.bucketIDs.firstIndex(of: bucket) else { continue }
            for t in 0..<config.dimension { mean[t] += table.vectors[s, t] }
        }
        for t in mean.indices { #expect(abs(unseen.values[t] - mean[t] / Float(buckets.count)) <= 1e-6) }
        // Planted groups share the prefix n-grams "<g0", "g0w": an unseen member of group 0 is nearer to group 0.
        let index = NearestNeighbours(try Embeddings.loadModel(directory: directory, choice: .sum))
        let neighbours = try index.nearest(to: "g0w9", k: 3)
        #expect(neighbours.allSatisfy { $0.token.hasPrefix("g0w") }, "\(neighbours)")
        // Columns are composed too (the default sides): their own table, and a sum's unseen words add both sides.
        let columnTable = try #require(try Embeddings.loadModel(directory: directory, choice: .col).subwords)
        #expect(columnTable.bucketIDs == trainer.model.columnSubwords!.bucketIDs)
        let sum = try Embeddings.loadModel(directory: directory, choice: .sum)
        let unseenSum = try #require(sum.vector(of: "g0w9")).values
        let unseenColumn = try #require(columnTable.vector(ofUnseen: "g0w9"))
        for t in unseenSum.indices { #expect(abs(unseenSum[t] - (unseen.values[t] + unseenColumn[t])) <= 1e-5) }
        // Rows only: no column table.
        config.subwordSides = .rows
        config.subwordCombination = .ownPlusMean(ownWeight: 1)
        config.ensemble = 1
        let rowsOnly = try Trainer(prepDirectory: prep, config: config)
        let rowsOnlyDirectory = TemporaryFile.path()
        try Trainer.prepareModelDirectory(rowsOnlyDirectory, force: false)
        try rowsOnly.writeModel(to: rowsOnlyDirectory, summary: try rowsOnly.train())
        #expect(try Embeddings.loadModel(directory: rowsOnlyDirectory, choice: .col).subwords == nil)
        #expect(try Embeddings.loadModel(directory: rowsOnlyDirectory, choice: .sum).subwords?.bucketIDs
                == rowsOnly.model.rowSubwords!.bucketIDs)
    }
}
