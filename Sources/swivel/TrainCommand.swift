import ArgumentParser
import Foundation
import SwivelEmbeddings
import SwivelLinearAlgebra
import SwivelTraining

extension Swivel {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Train Swivel embeddings on a prep directory.",
            discussion: """
                Each epoch trains every block of the co-occurrence matrix once: three SGEMMs and the piecewise \
                PMI loss per block. If OpenBLAS picked a slower kernel than this CPU supports and \
                OPENBLAS_CORETYPE is not set, swivel re-launches itself with the right kernel (once, saying so); \
                --keep-blas-kernel prevents that.

                Examples:
                  swivel train prep/ --output model/
                  swivel train prep/ --output model/ --dim 100 --epochs 30 --seed 7
                  swivel train prep/ --output model/ --eval-similarity ws353.tsv --eval-every 5
                """)

        @Argument(help: "Prep directory written by 'swivel prep'.")
        var prepDirectory: String

        @Option(name: .shortAndLong, help: "Model directory to write.")
        var output: String

        @Option(help: "Embedding dimension.")
        var dim: Int = TrainingConfiguration().dimension

        @Option(help: "Passes over every block.")
        var epochs: Int = TrainingConfiguration().epochs

        @Option(help: "Optimizer learning rate.")
        var learningRate: Float = TrainingConfiguration().learningRate

        @Option(help: "Optimizer: \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")).")
        var optimizer: OptimizerKind = TrainingConfiguration().optimizer

        @Option(help: "AdaGrad's initial accumulator (small values make steps independent of the gradient scale).")
        var initialAccumulator: Float = TrainingConfiguration().adagradInitialAccumulator

        @Option(help: "RMSProp momentum.")
        var momentum: Float = TrainingConfiguration().momentum

        @Option(help: "Confidence f(x) = base + scale * x^exponent: the base.")
        var confidenceBase: Float = TrainingConfiguration().confidenceBase

        @Option(help: "Confidence scale.")
        var confidenceScale: Float = TrainingConfiguration().confidenceScale

        @Option(help: "Confidence exponent.")
        var confidenceExponent: Float = TrainingConfiguration().confidenceExponent

        @Option(help: "Worker threads (default: all cores).")
        var threads: Int = ProcessInfo.processInfo.activeProcessorCount

        @Option(help: "Seed of the initial vectors and the block order.")
        var seed: UInt64 = TrainingConfiguration().seed

        @Option(parsing: .upToNextOption, help: "Word-similarity files to score every --eval-every epochs.")
        var evalSimilarity: [String] = []

        @Option(parsing: .upToNextOption, help: "Analogy files to score every --eval-every epochs (3CosAdd among 30000 words).")
        var evalAnalogy: [String] = []

        @Option(help: "Evaluate every K epochs (and after the last).")
        var evalEvery: Int = 1

        @Flag(help: "Replace an existing model in the output directory.")
        var force = false

        @Flag(help: "Never re-launch to pick a faster OpenBLAS kernel.")
        var keepBlasKernel = false

        @OptionGroup var outputOptions: OutputOptions

        func validate() throws {
            if dim < 1 { throw ValidationError("--dim must be at least 1 (got \(dim))") }
            if epochs < 0 { throw ValidationError("--epochs must be 0 or more (got \(epochs))") }
            if !(learningRate > 0) { throw ValidationError("--learning-rate must be positive (got \(learningRate))") }
            if threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads))") }
            if evalEvery < 1 { throw ValidationError("--eval-every must be at least 1 (got \(evalEvery))") }
        }

        func run() throws {
            if !keepBlasKernel { BLASKernelRelaunch.relaunchIfSlow(quiet: outputOptions.quiet) }
            var config = TrainingConfiguration()
            config.dimension = dim
            config.epochs = epochs
            config.learningRate = learningRate
            config.optimizer = optimizer
            config.adagradInitialAccumulator = initialAccumulator
            config.momentum = momentum
            config.confidenceBase = confidenceBase
            config.confidenceScale = confidenceScale
            config.confidenceExponent = confidenceExponent
            config.threads = threads
            config.seed = seed
            let quiet = outputOptions.quiet
            let progress = TerminalProgress(quiet: quiet)
            try reportingErrors {
                try Trainer.prepareModelDirectory(output, force: force)
                let trainer = try Trainer(prepDirectory: prepDirectory, config: config)
                let evaluation = try TrainingEvaluation(similarity: evalSimilarity, analogy: evalAnalogy,
                                                        logPath: output + "/" + ModelDirectory.evaluationLog)
                let summary = try trainer.train(progress: progress.handler) { record in
                    progress.finish()
                    if progress.enabled {
                        printError(String(format: "epoch %d: mean loss %.5f, %.1f s", record.epoch, record.meanLoss, record.seconds))
                    }
                    if let evaluation, record.epoch % evalEvery == 0 || record.epoch == epochs {
                        for line in evaluation.run(trainer: trainer, epoch: record.epoch) where !quiet { printError(line) }
                    }
                }
                progress.finish()
                try trainer.writeModel(to: output, summary: summary, force: true)
                print(String(format: "train: %d x %d, dim %d, %d epochs in %.1f s, %.1fM cells/s, final mean loss %@ (OpenBLAS %@, %d workers x %d BLAS threads)",
                             trainer.manifest.rows, trainer.manifest.columns, dim, epochs, summary.seconds,
                             summary.cellsPerSecond / 1e6, summary.finalMeanLoss.map { String(format: "%.5f", $0) } ?? "n/a",
                             summary.blasCore, summary.workers, summary.blasThreads))
            }
        }
    }
}

extension OptimizerKind: ExpressibleByArgument {}

/// Re-launches the process with `OPENBLAS_CORETYPE` set when OpenBLAS chose a slower kernel than the CPU
/// supports. Never overrides a value the user or the environment set; never re-launches twice.
enum BLASKernelRelaunch {
    static func relaunchIfSlow(quiet: Bool) {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, environment["SWIVEL_BLAS_RELAUNCHED"] == nil,
              let recommended = OpenBLASKernel.recommended() else { return }
        let loaded = BLAS.coreName
        guard OpenBLASKernel.isSlower(loaded, than: recommended) else { return }
        if !quiet {
            printError("swivel: OpenBLAS chose its \(loaded) kernel on a CPU that supports \(recommended); re-launching with OPENBLAS_CORETYPE=\(recommended) (set OPENBLAS_CORETYPE yourself or pass --keep-blas-kernel to keep it)")
        }
        setenv("OPENBLAS_CORETYPE", recommended, 1)
        setenv("SWIVEL_BLAS_RELAUNCHED", "1", 1)
        var arguments = CommandLine.arguments.map { strdup($0) }
        arguments.append(nil)
        execv("/proc/self/exe", &arguments)
        // execv only returns on failure: carry on with the slow kernel.
        unsetenv("OPENBLAS_CORETYPE")
        printError("swivel: re-launch failed (\(String(cString: strerror(errno)))); continuing with the \(loaded) kernel")
    }
}

/// Scores the vectors during training and appends the scores to `eval_log.tsv` in the model directory.
final class TrainingEvaluation {
    let similarity: [SimilarityBenchmark]
    let analogy: [AnalogyBenchmark]
    let log: FileHandle

    /// Reads the benchmark files (nil when there are none) and starts the log with a header.
    init?(similarity: [String], analogy: [String], logPath: String) throws {
        if similarity.isEmpty && analogy.isEmpty { return nil }
        self.similarity = try similarity.map { try SimilarityBenchmark(path: $0) }
        self.analogy = try analogy.map { try AnalogyBenchmark(path: $0) }
        FileManager.default.createFile(atPath: logPath, contents: Data("epoch\tfile\tmetric\tvalue\n".utf8))
        guard let handle = FileHandle(forWritingAtPath: logPath) else {
            throw SwivelCLIError.cannotWrite(path: logPath)
        }
        handle.seekToEndOfFile()
        log = handle
    }

    /// Evaluates the current sum vectors; returns one line per benchmark for the terminal.
    func run(trainer: Trainer, epoch: Int) -> [String] {
        guard let embeddings = try? trainer.embeddings(.sum) else { return [] }
        var lines: [String] = [], rows = ""
        for benchmark in similarity {
            let r = benchmark.evaluate(embeddings)
            lines.append(String(format: "epoch %d: %@ spearman %.4f (%d/%d pairs)", epoch, r.file as NSString, r.spearman, r.covered, r.pairs))
            rows += "\(epoch)\t\(r.file)\tspearman\t\(r.spearman)\n"
        }
        for benchmark in analogy {
            let all = benchmark.evaluate(embeddings, restrict: 30000)[0]
            lines.append(String(format: "epoch %d: %@ 3CosAdd %.2f%% of covered (%d/%d questions)", epoch,
                                benchmark.path as NSString, 100 * all.add.accuracyCovered, all.covered, all.questions))
            rows += "\(epoch)\t\(benchmark.path)\t3cosadd_covered\t\(all.add.accuracyCovered)\n"
        }
        log.write(Data(rows.utf8))
        return lines
    }
}

/// Errors of the command line itself.
enum SwivelCLIError: Error, CustomStringConvertible {
    case cannotWrite(path: String)

    var description: String {
        switch self {
        case let .cannotWrite(path): return "\(path): cannot open for writing"
        }
    }
}
