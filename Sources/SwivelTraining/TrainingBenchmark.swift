import Dispatch
import SwivelConcurrency
import SwivelIO
import SwivelLinearAlgebra

/// Measures the machine's SGEMM rate at Swivel's shapes and how close a full training step comes to it.
///
/// A Swivel step on a `b x b` block with dimension `d` is three SGEMMs (`6 b^2 d` flops) plus an elementwise
/// pass, so `SGEMM rate / (6 d)` cells per second is the floor an epoch can approach.
public enum TrainingBenchmark {
    /// One measurement.
    public struct Result: Sendable {
        /// What was measured.
        public var name: String
        /// Billions of floating-point operations per second (SGEMM rows), or nil.
        public var gigaflops: Double?
        /// Matrix cells per second (step rows), or nil.
        public var cellsPerSecond: Double?
    }

    /// Runs `repeats` calls of `body` on each of `workers` threads at once and returns the wall seconds.
    static func timed(workers: Int, repeats: Int, _ body: @escaping @Sendable (Int) -> Void) -> Double {
        for w in 0..<workers { body(w) }   // warm up: first calls allocate OpenBLAS buffers
        let start = monotonicSeconds()
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            for _ in 0..<repeats { body(w) }
        }
        return monotonicSeconds() - start
    }

    /// SGEMM rates at block size `b` and dimension `d` for the three products of a step, with `workers`
    /// independent single-threaded callers, and with one caller using `workers` BLAS threads.
    public static func sgemmRates(block b: Int, dimension d: Int, workers: Int, repeats: Int) -> [Result] {
        var random = RandomSource(seed: 1)
        let a = (0..<(b * d)).map { _ in Float(random.nextGaussian()) }
        let g = (0..<(b * b)).map { _ in Float(random.nextGaussian()) }
        // One output buffer per worker, raw so that no call copies it.
        let outputs = (0..<workers).map { _ in UnsafeSendableBuffer(UnsafeBufferPointer(start: UnsafeMutablePointer<Float>.allocate(capacity: b * b), count: b * b)) }
        defer { for o in outputs { o.buffer.deallocate() } }
        var results: [Result] = []
        let shapes: [(String, Transpose, Transpose, Int, Int, Int)] = [
            ("forward  R C^T (\(b)x\(d) . \(d)x\(b))", .none, .transposed, b, b, d),
            ("gradient G C   (\(b)x\(b) . \(b)x\(d))", .none, .none, b, d, b),
            ("gradient G^T R (\(b)x\(b) . \(b)x\(d))", .transposed, .none, b, d, b),
        ]
        for (plan, callers, threads) in [("\(workers) workers x 1 thread", workers, 1), ("1 worker x \(workers) threads", 1, workers)] {
            BLAS.setThreads(threads)
            for (name, ta, tb, m, n, k) in shapes {
                let seconds = timed(workers: callers, repeats: repeats) { w in
                    let left = k == d ? a : g
                    let right = a
                    left.withUnsafeBufferPointer { l in
                        right.withUnsafeBufferPointer { r in
                            BLAS.sgemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k,
                                       a: l.baseAddress!, lda: ta == .none ? k : m,
                                       b: r.baseAddress!, ldb: tb == .none ? n : k,
                                       c: UnsafeMutablePointer(mutating: outputs[w].buffer.baseAddress!), ldc: n)
                        }
                    }
                }
                let flops = 2.0 * Double(m) * Double(n) * Double(k) * Double(callers * repeats)
                results.append(Result(name: "\(name), \(plan)", gigaflops: flops / seconds / 1e9, cellsPerSecond: nil))
            }
        }
        return results
    }

    /// Refuses a benchmark whose synthetic blocks, workspaces and vectors would not fit in the memory
    /// available (``ResourceError``), before any of it is allocated.
    public static func requireMemory(block b: Int, dimension d: Int, workers: Int, density: Double) throws {
        let cells = SystemResources.bytes(b, times: b)
        let perCell = Int64(4 + Int((12 * density).rounded(.up)))
        let vectors = SystemResources.bytes(b, times: d * 4 * 6)
        let perWorker = SystemResources.saturating(SystemResources.saturating(cells, times: perCell), plus: vectors)
        try SystemResources.requireMemory(SystemResources.saturating(perWorker, times: Int64(max(workers, 1))),
                                          for: "\(workers) benchmark blocks of \(b) x \(b) at dimension \(d)",
                                          hint: "lower --block (or --dim, --threads)")
    }

    /// Full training steps (SGEMMs, loss pass with `density` observed cells, AdaGrad) on `workers` synthetic
    /// blocks at once, each worker with single-threaded BLAS, as `swivel train` runs them.
    public static func stepRate(block b: Int, dimension d: Int, workers: Int, density: Double, repeats: Int) -> Result {
        BLAS.setThreads(1)
        let (model, blocks) = syntheticProblem(block: b, dimension: d, workers: workers, density: density)
        let workspaces = (0..<workers).map { _ in StepWorkspace(shardSize: b, dimension: d) }
        let seconds = timed(workers: workers, repeats: repeats) { w in
            _ = BlockStep.run(blocks[w], model: model, workspace: workspaces[w],
                              lossRowStride: BlockStep.trainingLossRowStride)
        }
        let cells = Double(b * b * workers * repeats)
        return Result(name: "training step \(b)x\(b), d \(d), density \(density), \(workers) workers x 1 thread",
                      gigaflops: 6 * Double(d) * cells / seconds / 1e9, cellsPerSecond: cells / seconds)
    }

    /// The loss pass alone (``SwivelLoss/apply(cells:block:rowTerm:columnTerm:gradientScale:observedGradient:lossRowStride:)``
    /// with training's loss sampling) on `workers` synthetic blocks at once: the part of a step that is not SGEMM.
    public static func lossPassRate(block b: Int, workers: Int, density: Double, repeats: Int) -> Result {
        let (model, blocks) = syntheticProblem(block: b, dimension: 1, workers: workers, density: density)
        let workspaces = (0..<workers).map { _ in StepWorkspace(shardSize: b, dimension: 1) }
        var random = RandomSource(seed: 3)
        for workspace in workspaces {
            // Predictions around pmi* (the terms are log 1e8 - log 1e4 and log 1e4), as in training.
            for i in 0..<(b * b) { workspace.cells[i] = Float(random.nextGaussian() * 3) }
            for i in 0..<b { workspace.rowTerm[i] = model.rowTerms[i]; workspace.columnTerm[i] = model.columnTerms[i] }
        }
        // Each repetition turns the previous one's gradients (finite, near 0) into new ones: the same work
        // per cell.
        let seconds = timed(workers: workers, repeats: repeats) { w in
            _ = SwivelLoss.apply(cells: workspaces[w].cells, block: blocks[w], rowTerm: workspaces[w].rowTerm,
                                 columnTerm: workspaces[w].columnTerm, gradientScale: model.gradientScale,
                                 observedGradient: workspaces[w].observedGradient,
                                 lossRowStride: BlockStep.trainingLossRowStride)
        }
        let cells = Double(b * b * workers * repeats)
        return Result(name: "loss pass alone \(b)x\(b), density \(density), \(workers) workers",
                      gigaflops: nil, cellsPerSecond: cells / seconds)
    }

    /// `workers` blocks of `b x b` with observed cells at rate `density` (counts 1 to 11), the block `w` at row
    /// and column shard `w` of a model with `b * workers` features a side and equal marginals.
    static func syntheticProblem(block b: Int, dimension d: Int, workers: Int,
                                 density: Double) -> (TrainingModel, [TrainingBlock]) {
        var config = TrainingConfiguration()
        config.dimension = d
        let features = b * workers
        var random = RandomSource(seed: 2)
        let values = (0..<(features * d)).map { _ in Float(random.nextGaussian() / Double(d).squareRoot()) }
        let model = TrainingModel(
            rowEmbeddings: ParameterMatrix(rows: features, dimension: d, values: values),
            columnEmbeddings: ParameterMatrix(rows: features, dimension: d, values: values),
            rowOptimizer: OptimizerState(rows: features, dimension: d, config: config),
            columnOptimizer: OptimizerState(rows: features, dimension: d, config: config),
            rowSums: [Double](repeating: 1e4, count: features), columnSums: [Double](repeating: 1e4, count: features),
            total: 1e8, rowShards: workers, columnShards: workers, largestRowShard: b, largestColumnShard: b)
        var blocks: [TrainingBlock] = []
        for w in 0..<workers {
            var rowStart: [Int32] = [0], columns: [Int32] = [], counts: [Float] = []
            for _ in 0..<b {
                for j in 0..<b where random.nextUnit() < density {
                    columns.append(Int32(j))
                    counts.append(Float(1 + 10 * random.nextUnit()))
                }
                rowStart.append(Int32(columns.count))
            }
            blocks.append(TrainingBlock(rowShard: w, columnShard: w, rowCount: b, columnCount: b, rowStart: rowStart,
                                        columnIndex: columns, counts: counts, confidenceBase: config.confidenceBase,
                                        confidenceScale: config.confidenceScale, confidenceExponent: config.confidenceExponent))
        }
        return (model, blocks)
    }
}

/// How this build's training module was compiled, for benchmarks and bug reports.
public enum TrainingBuild {
    /// The CPU the loss pass was compiled for: "haswell (AVX2, FMA)" when the building machine had them
    /// (see Package.swift), else Swift's baseline target.
    public static var cpuTarget: String {
        #if SWIVEL_CPU_HASWELL
        return "haswell (AVX2, FMA)"
        #else
        return "baseline (SSE2; set by SWIVEL_PORTABLE_BUILD or a CPU without AVX2/FMA)"
        #endif
    }
}
