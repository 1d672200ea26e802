import ArgumentParser
import Foundation
import SwivelEmbeddings
import SwivelIO
import SwivelLinearAlgebra
import SwivelTraining
import SwivelText
#if MPI
import SwivelMPI
#endif

extension Swivel {
    struct TrainCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train",
            abstract: "Train Swivel embeddings on a prep directory.",
            discussion: """
                Each epoch trains every block of the co-occurrence matrix once: three SGEMMs and the piecewise \
                PMI loss per block. If OpenBLAS picked a slower kernel than this CPU supports and \
                OPENBLAS_CORETYPE is not set, swivel re-launches itself with the right kernel (once, saying so); \
                --keep-blas-kernel prevents that.

                Examples:
                  swivel train prep/ --output model/
                  swivel train prep/ --output model/ --dim 100 --epochs 3 --seed 7
                  swivel train prep/ --output model/ --eval-similarity ws353.tsv --eval-every 5
                  swivel train --resume model/                  # after Ctrl-C, a crash or a kill
                  swivel train --resume model/ --epochs 4       # train longer (one-member runs)
                  swivel train prep/ --output model/ --ensemble 1   # one run, about a quarter of the time
                  swivel train prep/ --output model/ --init random --epochs 20 --ensemble 3   # the earlier default

                A checkpoint (embeddings, optimizer state, schedule position, settings, shard fingerprint) is \
                written to MODEL_DIR/checkpoint.swvc every --checkpoint-minutes, at the end of an epoch once a minute \
                (or --checkpoint-minutes, if shorter) has passed since the last one, and after the last epoch; Ctrl-C or \
                SIGTERM writes one and stops. A resumed run ends with the same vectors, bit for bit, as an \
                uninterrupted one with the same seed and threads.

                By default each run starts from the spectral start (--init spectral): the rank-d SVD of the positive \
                PMI matrix, by randomized SVD with probes drawn from the run's seed; it reaches in 1-3 epochs \
                what random vectors reach in 20. The model is an ensemble of 4 such runs (--ensemble) from different \
                seeds, each of --epochs epochs, rotated onto each other and averaged: much better analogies than one \
                run, for four times the training time. An ensemble can train longer (--resume with more --epochs) \
                only while its first member trains.
                """)

        @Argument(help: "Prep directory written by 'swivel prep' (not needed with --resume).")
        var prepDirectory: String?

        @Option(name: .shortAndLong, help: "Model directory to write.")
        var output: String?

        @Option(help: "Continue the interrupted (or finished) run in this model directory from its checkpoint.")
        var resume: String?

        @Option(parsing: .unconditional, help: "Embedding dimension. (default: \(TrainingConfiguration().dimension))")
        var dim: Int?

        @Option(parsing: .unconditional, help: "Passes over every block (per ensemble member); with --resume, a new total trains longer (an ensemble: only while its first member trains). (default: \(TrainingConfiguration().epochs))")
        var epochs: Int?

        @Option(parsing: .unconditional, help: "Optimizer learning rate. (default: \(TrainingConfiguration().learningRate))")
        var learningRate: Float?

        @Option(help: "Optimizer: \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")). (default: \(TrainingConfiguration().optimizer.rawValue))")
        var optimizer: OptimizerKind?

        @Option(parsing: .unconditional, help: "AdaGrad's initial accumulator. (default: \(TrainingConfiguration().adagradInitialAccumulator))")
        var initialAccumulator: Float?

        @Option(parsing: .unconditional, help: "RMSProp momentum. (default: \(TrainingConfiguration().momentum))")
        var momentum: Float?

        @Option(parsing: .unconditional, help: "Confidence f(x) = base + scale * x^exponent: the base. (default: \(TrainingConfiguration().confidenceBase))")
        var confidenceBase: Float?

        @Option(parsing: .unconditional, help: "Confidence scale. (default: \(TrainingConfiguration().confidenceScale))")
        var confidenceScale: Float?

        @Option(parsing: .unconditional, help: "Confidence exponent. (default: \(TrainingConfiguration().confidenceExponent))")
        var confidenceExponent: Float?

        @Option(parsing: .unconditional, help: "Strata of the block schedule: 1 for wrapped diagonals, p for the stratified schedule of distributed training (results then do not depend on --threads). (default: 1)")
        var strata: Int?

        @Option(parsing: .unconditional, help: "Context distribution smoothing: column marginals raised to this power in the PMI. (default: \(TrainingConfiguration().contextSmoothing))")
        var contextSmoothing: Float?

        @Option(parsing: .unconditional, help: "Worker threads. (default: all cores)")
        var threads: Int?

        @Option(parsing: .unconditional, help: "Seed of the initial vectors and the block order. (default: \(TrainingConfiguration().seed))")
        var seed: UInt64?

        @Option(parsing: .unconditional, help: "Ensemble members: independent runs of --epochs each from different seeds, rotated onto each other and averaged into the model (better analogies; K times the training time). (default: \(TrainingConfiguration().ensemble))")
        var ensemble: Int?

        @Option(parsing: .unconditional, help: "Leave out the unobserved cells of each block's rare x rare corner whose pmi* = log N - log R_i - log C_j is at least this many nats (their gradient is at most sigmoid(p - cutoff)): less arithmetic, growing with the vocabulary. 'exact' computes every cell, as the paper does. (default: \(TrainingConfiguration.suggestedUnobservedCutoff))")
        var unobservedCutoff: CutoffOption?

        @Option(name: .customLong("init"), parsing: .unconditional, help: "How each run starts: 'random' vectors from the seed, or 'spectral', the rank-d SVD of the positive PMI matrix of the observed cells (randomized SVD, six sparse passes over the shards). (default: \(TrainingConfiguration().initialization.rawValue))")
        var initialization: Initialization?

        @Flag(help: "Subword model: each row word's vector is the mean of its own vector and the vectors of its character n-grams (the word wrapped in < >, hashed into --buckets vectors, as fastText does), so that 'swivel nearest', 'eval' and 'export' give vectors for words outside the vocabulary too. Off by default, and best left off for --counts features whose names are IDs (see docs/usage.md).")
        var subwords = false

        @Option(parsing: .unconditional, help: "With --subwords: compose 'rows' only (as fastText composes its input vectors), or 'both' rows and columns from their n-grams. (default: \(TrainingConfiguration().subwordSides.rawValue))")
        var subwordSides: SubwordSides?

        @Option(parsing: .unconditional, help: ArgumentHelp("With --subwords: a word's vector is the 'mean' of its own vector and its n-grams' vectors (fastText's), or W times its own vector plus the n-grams' mean (W a positive number; lower leans more on shared word forms). (default: \(TrainingConfiguration().subwordCombination))", valueName: "mean|W"))
        var subwordCombination: SubwordCombination?

        @Option(parsing: .unconditional, help: "With --subwords: learning rate of each word's own vector as a fraction of --learning-rate; below 1 words lean on their shared forms (better analogies of word forms). (default: \(TrainingConfiguration().subwordOwnRate))")
        var subwordOwnRate: Float?

        @Option(parsing: .unconditional, help: "With --subwords: learning rate of the n-gram vectors (default: --learning-rate).")
        var subwordLearningRate: Float?

        @Option(name: .customLong("min-n"), parsing: .unconditional, help: "With --subwords: shortest character n-gram. (default: \(SubwordScheme.fastTextDefault.minN))")
        var minN: Int?

        @Option(name: .customLong("max-n"), parsing: .unconditional, help: "With --subwords: longest character n-gram. (default: \(SubwordScheme.fastTextDefault.maxN))")
        var maxN: Int?

        @Option(parsing: .unconditional, help: "With --subwords: hash buckets of n-gram vectors; only those the vocabulary's n-grams use take memory (8 bytes x --dim each with AdaGrad). (default: \(SubwordScheme.fastTextDefault.buckets))")
        var buckets: Int?

        @Option(parsing: .unconditional, help: "Minutes between checkpoints within an epoch (at the end of an epoch one is written once a minute, or this, has passed since the last).")
        var checkpointMinutes: Double = 10

        @Option(parsing: .upToNextOption, help: "Word-similarity files to score every --eval-every epochs.")
        var evalSimilarity: [String] = []

        @Option(parsing: .upToNextOption, help: "Analogy files to score every --eval-every epochs (3CosAdd among 30000 words).")
        var evalAnalogy: [String] = []

        @Option(parsing: .unconditional, help: "Evaluate every K epochs (and after the last).")
        var evalEvery: Int = 1

        @Flag(help: "Replace an existing model (or interrupted run) in the output directory.")
        var force = false

        @Flag(help: "Read each wave's shards while the wave before trains, instead of decoding every shard into memory at the start (automatic when the decoded shards would take more than half the available memory).")
        var streamShards = false

        @OptionGroup var kernel: BLASKernelOptions

        @OptionGroup var outputOptions: OutputOptions

        func validate() throws {
            if resume == nil && (prepDirectory == nil || output == nil) {
                throw ValidationError("give PREP_DIR and --output MODEL_DIR, or --resume MODEL_DIR")
            }
            if resume != nil && (prepDirectory != nil || output != nil) {
                throw ValidationError("--resume takes no PREP_DIR or --output: the checkpoint knows its shards and settings")
            }
            // Lower bounds of every numeric option (upper bounds and combinations are checked by the library);
            // `!(x >= bound)` also refuses NaN.
            for (name, value, least) in [("--dim", dim, 1), ("--epochs", epochs, 0), ("--strata", strata, 1),
                                         ("--threads", threads, 1), ("--ensemble", ensemble, 1), ("--eval-every", evalEvery, 1)] {
                if let value, value < least { throw ValidationError("\(name) must be at least \(least) (got \(value))") }
            }
            for (name, value) in [("--momentum", momentum), ("--confidence-base", confidenceBase),
                                  ("--confidence-scale", confidenceScale), ("--confidence-exponent", confidenceExponent)] {
                if let value, !(value >= 0) { throw ValidationError("\(name) must be at least 0 (got \(value))") }
            }
            for (name, value) in [("--learning-rate", learningRate), ("--initial-accumulator", initialAccumulator),
                                  ("--context-smoothing", contextSmoothing)] {
                if let value, !(value > 0) { throw ValidationError("\(name) must be positive (got \(value))") }
            }
            if !(checkpointMinutes > 0) { throw ValidationError("--checkpoint-minutes must be positive (got \(checkpointMinutes))") }
            if let unobservedCutoff, let nats = unobservedCutoff.nats, !(nats >= 0) {
                throw ValidationError("--unobserved-cutoff must be at least 0 nats, or 'exact' (got \(nats))")
            }
            if let ensemble, ensemble > 64 { throw ValidationError("--ensemble must be at most 64 (got \(ensemble))") }
            if !subwords, let given = [("--min-n", minN), ("--max-n", maxN), ("--buckets", buckets),
                                       ("--subword-sides", subwordSides.map { _ in 0 }),
                                       ("--subword-learning-rate", subwordLearningRate.map { _ in 0 }),
                                       ("--subword-combination", subwordCombination.map { _ in 0 }),
                                       ("--subword-own-rate", subwordOwnRate.map { _ in 0 })].first(where: { $0.1 != nil }) {
                throw ValidationError("\(given.0) applies to subword models: add --subwords")
            }
            if let problem = subwordScheme?.problem { throw ValidationError(problem) }
        }

        /// The subword scheme the options ask for (nil without --subwords).
        var subwordScheme: SubwordScheme? {
            guard subwords else { return nil }
            let d = SubwordScheme.fastTextDefault
            return SubwordScheme(minN: minN ?? d.minN, maxN: maxN ?? d.maxN, buckets: buckets ?? d.buckets)
        }

        /// Applies the options given on the command line to `config` (those not given keep its values).
        func apply(to config: inout TrainingConfiguration) {
            if let dim { config.dimension = dim }
            if let epochs { config.epochs = epochs }
            if let learningRate { config.learningRate = learningRate }
            if let optimizer { config.optimizer = optimizer }
            if let initialAccumulator { config.adagradInitialAccumulator = initialAccumulator }
            if let momentum { config.momentum = momentum }
            if let confidenceBase { config.confidenceBase = confidenceBase }
            if let confidenceScale { config.confidenceScale = confidenceScale }
            if let confidenceExponent { config.confidenceExponent = confidenceExponent }
            if let contextSmoothing { config.contextSmoothing = contextSmoothing }
            if let strata { config.strata = strata }
            if let threads { config.threads = threads }
            if let seed { config.seed = seed }
            if let ensemble { config.ensemble = ensemble }
            if let unobservedCutoff { config.unobservedCutoff = unobservedCutoff.nats }
            if let initialization { config.initialization = initialization }
            if let scheme = subwordScheme { config.subwords = scheme }
            if let subwordSides { config.subwordSides = subwordSides }
            if let subwordLearningRate { config.subwordLearningRate = subwordLearningRate }
            if let subwordCombination { config.subwordCombination = subwordCombination }
            if let subwordOwnRate { config.subwordOwnRate = subwordOwnRate }
        }

        func run() throws {
            kernel.relaunchIfSlow(quiet: outputOptions.quiet)
            if try MPILaunch.startedWithSeveralRanks() {
                #if MPI
                return try runAsRank()
                #endif
            }
            let quiet = outputOptions.quiet
            let progress = TerminalProgress(quiet: quiet)
            let stop = StopRequest.install()
            let modelDirectory = resume ?? output!
            try reportingErrors {
                let missing = FileReader.highestMissingAncestor(of: modelDirectory)
                do {
                    try train(modelDirectory: modelDirectory, progress: progress, stop: stop, quiet: quiet)
                } catch {
                    // A run that failed before it wrote anything leaves no empty directory behind.
                    if let missing { FileTree.removeEmptyDirectories(from: modelDirectory, upTo: missing) }
                    throw error
                }
            }
        }

        /// The training run of ``run()``, under the model directory's lock.
        private func train(modelDirectory: String, progress: TerminalProgress, stop: StopRequest, quiet: Bool) throws {
            try FileReader.createDirectory(OutputSibling.split(modelDirectory).parent)
            let lock = try OutputLock(output: modelDirectory)
            defer { lock.release() }
            let trainer: Trainer
            if let resume {
                trainer = try Trainer.resuming(modelDirectory: resume, blocksInMemory: streamShards ? false : nil,
                                               adjust: apply)
                try Trainer.prepareResumedDirectory(resume)
                if !quiet {
                    let p = trainer.position, c = trainer.config
                    let member = c.ensemble > 1 ? "member \(p.membersDone + 1) of \(c.ensemble), " : ""
                    let at = p.epochsDone == c.epochs && c.ensemble > 1
                        ? "the end of member \(p.membersDone + 1) of \(c.ensemble)"
                        : "\(member)epoch \(p.epochsDone + 1), wave \(p.wavesDone + 1) of \(c.epochs) epochs"
                    printError("resuming \(resume) at \(at)")
                }
            } else {
                try Trainer.prepareModelDirectory(modelDirectory, force: force)
                var config = TrainingConfiguration()
                config.threads = ProcessInfo.processInfo.activeProcessorCount
                apply(to: &config)
                trainer = try Trainer(prepDirectory: prepDirectory!, config: config,
                                      blocksInMemory: streamShards ? false : nil)
                if config.initialization == .spectral {
                    if !quiet {
                        printError("train: spectral start: randomized SVD of the positive PMI matrix (\(2 + 2 * SpectralStart.powerIterations) passes over the shards)")
                    }
                    try trainer.computeStartIfPending()
                    if let seconds = trainer.spectralStartSeconds, !quiet {
                        printError(String(format: "train: spectral start in %.1f s", seconds))
                    }
                }
            }
            if trainer.streamsBlocks && !quiet {
                printError("train: reading each wave's shards while the wave before trains (\(streamShards ? "--stream-shards" : "the decoded shards would take more than half the available memory"))")
            }
            if !quiet { printProjection(trainer) }
            let totalEpochs = trainer.config.epochs
            let members = trainer.config.ensemble
            let evaluation = try TrainingEvaluation(similarity: evalSimilarity, analogy: evalAnalogy,
                                                    logPath: modelDirectory + "/" + ModelDirectory.evaluationLog,
                                                    resuming: resume != nil)
            let policy = CheckpointPolicy(directory: modelDirectory, intervalSeconds: checkpointMinutes * 60,
                                          shouldStop: { stop.requested })
            let summary: TrainingSummary
            do {
                summary = try trainer.train(progress: progress.handler, checkpoints: policy) { record in
                    progress.finish()
                    let label = members > 1 ? "member \(record.member + 1)/\(members), epoch \(record.epoch)" : "epoch \(record.epoch)"
                    if progress.enabled {
                        printError(String(format: "%@: mean loss %.5f, %.1f s", label, record.meanLoss, record.seconds))
                    }
                    if let evaluation, record.epoch % evalEvery == 0 || record.epoch == totalEpochs {
                        for line in evaluation.run(trainer: trainer, label: label, x: record.member * totalEpochs + record.epoch)
                        where !quiet { printError(line) }
                    }
                }
            } catch let error as TrainingError {
                progress.finish()
                if case .interrupted = error {
                    printError("swivel: \(error)\nswivel: resume with: swivel train --resume \(modelDirectory)")
                    throw ExitCode(130)
                }
                throw error
            }
            progress.finish()
            if let evaluation, members > 1 {
                for line in evaluation.run(trainer: trainer, label: "ensemble of \(members)", x: members * totalEpochs,
                                           metricPrefix: "ensemble_") where !quiet { printError(line) }
            }
            try trainer.writeModel(to: modelDirectory, summary: summary)
            let c = trainer.config
            let epochText = members > 1 ? "\(c.epochs) epochs x \(members) members" : "\(c.epochs) epochs"
            print(String(format: "train: %d x %d, dim %d, %@ in %.1f s, %.1fM cells/s, final mean loss %@ (OpenBLAS %@, %d workers x %d BLAS threads)",
                         trainer.manifest.rows, trainer.manifest.columns, c.dimension, epochText, summary.seconds,
                         summary.cellsPerSecond / 1e6, summary.finalMeanLoss.map { String(format: "%.5f", $0) } ?? "n/a",
                         summary.blasCore, summary.workers, summary.blasThreads))
            if let warning = Self.divergenceWarning(summary, config: c) {
                printError(warning)
                throw ExitCode(1)
            }
        }
    }
}

extension Swivel.TrainCommand {
    /// Prints the projected training time before the first epoch and, past an hour, the options that would
    /// shorten it, with how much each saves.
    func printProjection(_ trainer: Trainer) {
        let p = trainer.projection()
        guard p.epochsLeft > 0 else { return }
        let c = trainer.config
        let left = p.cellsPerEpoch < p.matrixCells
            ? String(format: ", %.0f%% of them outside the rare corners", 100 * p.cellsPerEpoch / p.matrixCells) : ""
        let starts = p.startsLeft > 0 ? " and \(p.startsLeft) more spectral start\(p.startsLeft == 1 ? "" : "s")" : ""
        printError(String(format: "train: projected %@ for %.0f epochs of %d x %d cells%@ at %.1fM cells/s (measured)%@",
                          Self.duration(p.seconds), p.epochsLeft, trainer.manifest.rows, trainer.manifest.columns,
                          left, p.cellsPerSecond / 1e6, starts))
        guard p.seconds > 3600 else { return }
        var ways: [String] = []
        if c.ensemble > 1 { ways.append("--ensemble 1 (\(Self.duration(p.seconds / Double(c.ensemble))))") }
        if c.unobservedCutoff == nil {
            let cut = trainer.computedCellsPerEpoch(cutoff: .some(TrainingConfiguration.suggestedUnobservedCutoff))
            if cut < p.cellsPerEpoch {
                ways.append(String(format: "--unobserved-cutoff %g (%@)", Double(TrainingConfiguration.suggestedUnobservedCutoff),
                                   Self.duration(p.seconds * cut / p.cellsPerEpoch)))
            }
        }
        ways.append("fewer --epochs, or a smaller --max-vocab in swivel prep (time grows as its square)")
        printError("train: over an hour; to shorten it: " + ways.joined(separator: ", "))
    }

    /// The warning for a run whose finite loss exploded (``TrainingSummary/lossGrowth(factor:)``), or nil: one
    /// message for the single process and for rank 0 under mpirun.
    static func divergenceWarning(_ summary: TrainingSummary, config: TrainingConfiguration) -> String? {
        guard let growth = summary.lossGrowth() else { return nil }
        return String(format: "swivel: warning: training diverged: the mean loss per cell%@ ended at %.4g (lowest %.4g, epoch %d); the model was written, but lower --learning-rate (now %g) and train again",
                      config.ensemble > 1 ? " of member \(growth.member + 1)" : "", growth.last, growth.best,
                      growth.bestEpoch, Double(config.learningRate))
    }

    /// Seconds as "42 s", "12.5 min" or "3.1 h".
    static func duration(_ seconds: Double) -> String {
        seconds < 90 ? String(format: "%.0f s", seconds)
            : seconds < 5400 ? String(format: "%.1f min", seconds / 60) : String(format: "%.1f h", seconds / 3600)
    }
}

#if MPI
extension Swivel.TrainCommand {
    /// One rank of `mpirun -np p swivel train PREP --output MODEL ...` (or `--resume MODEL`): the stratified
    /// ring with p strata; rank 0 writes a checkpoint after every epoch and the model at the end. Every rank reads the prep directory (a shared file system, or identical
    /// copies at the same path) and decodes only the shards of its row group.
    func runAsRank() throws {
        let communicator = try MPICommunicator()
        let rank = communicator.rank
        do {
            if let strata, strata != communicator.size {
                throw SwivelCLIError.unsupportedUnderMPI("--strata \(strata) differs from the \(communicator.size) ranks mpirun started; leave it out")
            }
            if streamShards {
                throw SwivelCLIError.unsupportedUnderMPI("--stream-shards: under mpirun every rank keeps its row group's shards in memory; leave it out")
            }
            let modelDirectory = resume ?? output!
            // Rank 0 writes the checkpoints and the model: it holds the directory's lock for the whole run.
            let lock = rank == 0 ? try OutputLock(output: modelDirectory) : nil
            defer { lock?.release() }
            let trainer: Trainer
            if let resume {
                // A rank trains from blocks in memory (trainAsRank refuses a streaming trainer).
                trainer = try Trainer.resuming(modelDirectory: resume, blocksInMemory: true, adjust: apply)
                guard trainer.config.strata == communicator.size else {
                    throw SwivelCLIError.unsupportedUnderMPI("\(resume) was trained with \(trainer.config.strata) strata; resume it with mpirun -np \(trainer.config.strata) (or in one process with --strata \(trainer.config.strata))")
                }
                guard trainer.position.wavesDone == 0 else {
                    throw SwivelCLIError.unsupportedUnderMPI("\(resume) stopped inside an epoch; resume it in one process (swivel train --resume), MPI ranks resume at epoch boundaries")
                }
            } else {
                var config = TrainingConfiguration()
                config.threads = 1
                config.ensemble = 1   // ranks train one member (trainAsRank refuses more)
                apply(to: &config)
                if ensemble == nil && rank == 0 && !outputOptions.quiet {
                    printError("train: under mpirun the ranks train one model together, not the \(TrainingConfiguration().ensemble)-member ensemble of a single process (--ensemble 1); for an ensemble, run mpirun once per seed (--seed) or train in one process")
                }
                config.strata = communicator.size
                if rank == 0 {
                    try Trainer.prepareModelDirectory(modelDirectory, force: force)
                }
                trainer = try Trainer(prepDirectory: prepDirectory!, config: config, rowGroup: rank, of: communicator.size)
            }
            let config = trainer.config
            let policy = CheckpointPolicy(directory: modelDirectory, intervalSeconds: .infinity, shouldStop: { false })
            let progress = TerminalProgress(quiet: outputOptions.quiet || rank != 0)
            let summary = try trainer.trainAsRank(communicator, progress: progress.handler, checkpoints: policy)
            progress.finish()
            if rank == 0 {
                try trainer.writeModel(to: modelDirectory, summary: summary)
                print(String(format: "train: %d x %d, dim %d, %d epochs in %.1f s, %.1fM cells/s, final mean loss %@ (OpenBLAS %@, MPI: %d ranks x 1 BLAS thread)",
                             trainer.manifest.rows, trainer.manifest.columns, config.dimension, config.epochs, summary.seconds,
                             summary.cellsPerSecond / 1e6, summary.finalMeanLoss.map { String(format: "%.5f", $0) } ?? "n/a",
                             summary.blasCore, communicator.size))
                if let warning = Self.divergenceWarning(summary, config: config) {
                    printError(warning)
                    communicator.abort(code: 1)
                }
            }
        } catch {
            // One rank failing would leave the others waiting in MPI calls: report and end them all.
            printError("swivel: error (rank \(rank)): \(error)")
            communicator.abort(code: 1)
        }
        communicator.finish()
    }
}
#endif

extension OptimizerKind: ExpressibleByArgument {}
extension Initialization: ExpressibleByArgument {}
extension SubwordSides: ExpressibleByArgument {}
extension SubwordCombination: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

/// `--unobserved-cutoff`: a number of nats, or `exact` for every cell.
struct CutoffOption: ExpressibleByArgument {
    /// The cutoff, or nil for the exact computation.
    let nats: Float?

    init?(argument: String) {
        if argument == "exact" { nats = nil; return }
        guard let value = Float(argument) else { return nil }
        nats = value
    }
}

/// Errors of the command line itself.
enum SwivelCLIError: Error, CustomStringConvertible {
    case cannotWrite(path: String)
    /// An option or mode that a run under mpirun does not support (yet).
    case unsupportedUnderMPI(String)

    var description: String {
        switch self {
        case let .cannotWrite(path): return "\(path): cannot open for writing"
        case let .unsupportedUnderMPI(message): return message
        }
    }
}
