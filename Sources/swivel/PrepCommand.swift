import ArgumentParser
import Foundation
import SwivelIO
import SwivelShards
import SwivelText
#if MPI
import SwivelMPI
#endif

extension UnicodeNormalization: ExpressibleByArgument {}

extension Swivel {
    struct PrepCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prep",
            abstract: "Count co-occurrences in a corpus and write them as shards.",
            discussion: """
                Tokens are runs of non-white-space bytes; every line is a context of its own. Out-of-vocabulary \
                tokens are removed before windowing; a pair at distance d adds 1/d to both of its cells and each \
                token adds 1 to its own diagonal cell. Input must be UTF-8; gzip files are decompressed; \
                directories are read recursively (files in name order, hidden ones skipped).

                Memory stays within --memory: counts that do not fit are spilled to sorted, compressed runs in \
                --temp-dir and merged at the end (at most 64 files open at once). Results are identical for \
                every --threads and --memory.

                Examples:
                  swivel prep corpus.txt --output prep/
                  swivel prep books/*.txt.gz --output prep/ --max-vocab 50000 --window 5
                  zcat big.txt.gz | swivel prep - --output prep/ --lowercase
                  swivel prep --counts user-item.tsv --output prep/ --shard-size 1024
                  swivel prep --glove-cooccurrence cooccurrence.bin --glove-vocab vocab.txt --output prep/
                """)

        @Argument(help: "Corpus files or directories (- for standard input; gzip is decompressed).")
        var corpus: [String] = []

        @Option(help: ArgumentHelp("Instead of a corpus: co-occurrence counts, lines row<TAB>column<TAB>count (rows and columns may be different kinds of features).", valueName: "file"))
        var counts: String?

        @Option(help: ArgumentHelp("Instead of a corpus: GloVe's binary cooccurrence file (with --glove-vocab).", valueName: "file"))
        var gloveCooccurrence: String?

        @Option(help: ArgumentHelp("GloVe's vocab.txt for --glove-cooccurrence.", valueName: "file"))
        var gloveVocab: String?

        @Option(name: .shortAndLong, help: "Directory to write the shards, vocabulary and manifest to.")
        var output: String

        @Option(parsing: .unconditional, help: "Drop tokens seen fewer times (default 5; 1 for --counts and --glove-cooccurrence, where it applies to each feature's total count).")
        var minCount: Int64?

        @Option(parsing: .unconditional, help: "Keep at most this many of the most frequent tokens.")
        var maxVocab: Int?

        @Option(help: "Use this vocabulary (one token per line, optional <TAB>count) instead of building one.")
        var vocab: String?

        @Option(parsing: .unconditional, help: "Count pairs up to this many tokens apart (a pair d tokens apart adds 1/d).")
        var window: Int = 15

        @Option(parsing: .unconditional, help: "Subsample frequent words as word2vec does: keep an occurrence with probability sqrt(t/f) + t/f (f: the word's share of the corpus), e.g. 1e-4. (default: off)")
        var subsample: Double?

        @Option(parsing: .unconditional, help: "Seed of --subsample.")
        var seed: UInt64 = 1

        @Option(parsing: .unconditional, help: "Features per shard (the block size of training).")
        var shardSize: Int = 4096

        @Flag(help: "Lower-case every token.")
        var lowercase = false

        @Option(help: "Unicode normalization of non-ASCII tokens: none, nfc or nfkc.")
        var normalize: UnicodeNormalization = .none

        @Flag(help: "Split punctuation and symbols off words (apostrophes and hyphens inside words stay).")
        var splitPunctuation = false

        @Option(parsing: .unconditional, help: "Drop tokens longer than this many bytes.")
        var maxTokenLength: Int?

        @Option(parsing: .unconditional, help: "Memory for counting, in GiB (default: half the available memory); the rest spills to disk.")
        var memory: Double?

        @Option(help: "Directory for temporary files (default: the output directory).")
        var tempDir: String?

        @Option(parsing: .unconditional, help: "Worker threads (default: all cores).")
        var threads: Int = ProcessInfo.processInfo.activeProcessorCount

        @Flag(help: "Replace the contents of a non-empty output directory.")
        var force = false

        @Flag(help: "Also print each phase's time, rate and peak memory.")
        var phases = false

        @OptionGroup var outputOptions: OutputOptions

        func validate() throws {
            if window < 1 { throw ValidationError("--window must be at least 1 (got \(window))") }
            if shardSize < 1 { throw ValidationError("--shard-size must be at least 1 (got \(shardSize))") }
            if let minCount, minCount < 1 { throw ValidationError("--min-count must be at least 1 (got \(minCount))") }
            let sources = (corpus.isEmpty ? 0 : 1) + (counts == nil ? 0 : 1) + (gloveCooccurrence == nil ? 0 : 1)
            if sources != 1 {
                throw ValidationError("give exactly one input: corpus files, --counts FILE, or --glove-cooccurrence FILE --glove-vocab FILE")
            }
            if (gloveCooccurrence == nil) != (gloveVocab == nil) {
                throw ValidationError("--glove-cooccurrence and --glove-vocab go together")
            }
            if let maxVocab, maxVocab < 1 { throw ValidationError("--max-vocab must be at least 1 (got \(maxVocab))") }
            if threads < 1 { throw ValidationError("--threads must be at least 1 (got \(threads))") }
            if let maxTokenLength, maxTokenLength < 1 {
                throw ValidationError("--max-token-length must be at least 1 (got \(maxTokenLength))")
            }
            if let memory, !(memory >= 0.0625) { throw ValidationError("--memory must be at least 0.0625 GiB (got \(memory))") }
            if let memory, memory > 1_000_000 { throw ValidationError("--memory must be at most 1000000 GiB (got \(memory))") }
            if let subsample, !(subsample > 0) { throw ValidationError("--subsample must be positive (got \(subsample))") }
            if let subsample, subsample >= 1 { throw ValidationError("--subsample must be less than 1 (got \(subsample))") }
            if window > 1000 { throw ValidationError("--window must be at most 1000 (got \(window))") }
            if counts != nil || gloveCooccurrence != nil {
                let corpusOnly = [("--vocab", vocab != nil), ("--subsample", subsample != nil), ("--lowercase", lowercase),
                                  ("--normalize", normalize != .none), ("--split-punctuation", splitPunctuation),
                                  ("--max-token-length", maxTokenLength != nil)]
                if let (name, _) = corpusOnly.first(where: { $0.1 }) {
                    throw ValidationError("\(name) applies to corpora; it has no effect with --counts or --glove-cooccurrence")
                }
            }
        }

        func run() throws {
            var config = PrepConfiguration(inputs: corpus.isEmpty ? [counts ?? gloveCooccurrence!] : corpus, output: output)
            config.tokenizer = TokenizerOptions(lowercase: lowercase, normalization: normalize,
                                                splitPunctuation: splitPunctuation, maxTokenLength: maxTokenLength)
            if let memory { config.memoryBytes = Int64(memory * Double(1 << 30)) }
            config.temporaryDirectory = tempDir
            let imported = counts != nil || gloveCooccurrence != nil
            config.vocabularyRules = VocabularyRules(minCount: minCount ?? (imported ? 1 : 5), maxSize: maxVocab)
            config.vocabularyFile = vocab
            config.counting = CountingOptions(window: window, subsample: subsample, seed: seed)
            config.shardSize = shardSize
            config.threads = threads
            config.force = force
            config.version = Swivel.version
            if try MPILaunch.startedWithSeveralRanks() {
                #if MPI
                return try runAsRank(config)
                #endif
            }
            let progress = TerminalProgress(quiet: outputOptions.quiet)
            let output = self.output
            removePartialPrepOnStop(progress: progress, output: output, ownsOutput: true,
                                    temporary: PrepPipeline.temporaryDirectory(parent: tempDir ?? StagedDirectory.stagingPath(for: output)))
            let start = Date()
            let missing = FileReader.highestMissingAncestor(of: output)
            let summary = try reportingErrors {
                defer { progress.finish() }
                do {
                    return try prepare(config, progress: progress)
                } catch {
                    // A failed prep leaves no directory behind that it created.
                    if let missing { FileTree.removeEmptyDirectories(from: output, upTo: missing) }
                    throw error
                }
            }
            report(summary, seconds: Date().timeIntervalSince(start))
        }

        /// The prep of ``run()`` from a corpus, a counts file or a GloVe co-occurrence file.
        private func prepare(_ config: PrepConfiguration, progress: TerminalProgress) throws -> PrepSummary {
            if let counts {
                return try CountsImport.runTriples(path: counts, config: config, progress: progress.handler)
            }
            if let gloveCooccurrence, let gloveVocab {
                return try CountsImport.runGlove(cooccurrence: gloveCooccurrence, vocabularyPath: gloveVocab,
                                                 config: config, progress: progress.handler)
            }
            return try PrepPipeline.run(config, progress: progress.handler)
        }

        /// On Ctrl-C or SIGTERM: removes this process's `temporary` directory and, when it `ownsOutput`, the new
        /// prep being built beside the output, then exits with status 130. Only once the temporary directory
        /// exists has the run taken the output's lock: before that, the staging directory may be another run's,
        /// and is never touched. The output itself (an older prep, with `--force`) is never touched either.
        func removePartialPrepOnStop(progress: TerminalProgress, output: String, ownsOutput: Bool, temporary: String) {
            StopRequest.install { _ in
                progress.finish()
                FileCreation.stopForCleanup()   // no worker creates a file after the removal below
                if FileReader.isDirectory(temporary) {
                    PrepPipeline.removeTemporaryDirectory(temporary)
                    if ownsOutput {
                        FileTree.remove(StagedDirectory.stagingPath(for: output))
                        StagedDirectory.recover(output)
                        printError("swivel: prep interrupted; the partial prep was removed\(FileReader.exists(output) ? " (\(output) is as it was)" : "")")
                    }
                } else if ownsOutput {
                    printError("swivel: prep interrupted before it wrote anything")
                }
                _exit(130)
            }
        }

        /// Prints the summary line (and the phases with `--phases`).
        func report(_ summary: PrepSummary, seconds: Double, ranks: Int? = nil) {
            if let first = summary.skippedInputs.first {
                let count = summary.skippedInputs.count
                printError("prep: skipped \(count) \(count == 1 ? "entry" : "entries") of the input directories that "
                           + "\(count == 1 ? "is" : "are") not regular files (\(displayPath(first.path)): \(first.reason)"
                           + (count > 1 ? "; ..." : "") + ")")
            }
            let m = summary.manifest
            let what = m.source == nil ? "prep: \(m.tokens) tokens (\(m.inVocabularyTokens) in vocabulary), vocabulary \(m.rows)"
                : "prep: \(m.tokens) \(m.source == "glove" ? "corpus tokens" : "count lines") (\(m.inVocabularyTokens) kept), vocabulary \(m.rows) rows x \(m.columns) columns"
            print(what + ", "
                + "\(m.rowShards)x\(m.columnShards) shards of \(m.shardSize), \(m.nonzeros) nonzeros, "
                + String(format: "%.1f s (vocabulary %.1f, counting %.1f, merging and writing %.1f), %.2fM tokens/s",
                         seconds, summary.vocabularySeconds, summary.countSeconds, summary.writeSeconds,
                         Double(m.tokens) / max(seconds, 1e-9) / 1e6)
                + (summary.spilledRuns > 0 ? ", \(summary.spilledRuns) runs spilled (\(summary.spilledBytes >> 20) MiB)" : "")
                + (summary.rereadCorpus ? ", corpus read twice" : "")
                + (ranks.map { ", MPI: \($0) ranks (rank 0's phases)" } ?? ""))
            if phases {
                let names = ["vocabulary", "counting", "merging and writing"]
                let seconds = [summary.vocabularySeconds, summary.countSeconds, summary.writeSeconds]
                for (i, name) in names.enumerated() {
                    print(String(format: "prep phase: %@ %.2f s, %.2fM tokens/s, peak RSS %@", name, seconds[i],
                                 Double(m.tokens) / max(seconds[i], 1e-9) / 1e6,
                                 i < summary.peakResidentBytes.count
                                     ? SystemResources.describe(bytes: summary.peakResidentBytes[i]) : "?"))
                }
            }
        }
    }
}

#if MPI
extension Swivel.PrepCommand {
    /// One rank of `mpirun -np p swivel prep CORPUS... --output DIR`: the ranks share the chunks of the
    /// corpus and write the prep directory a single process would (``SwivelShards/PrepPipeline/runAsRank(_:ranks:progress:)``).
    /// Inputs and the output directory must be at the same paths on every rank (a shared file system).
    func runAsRank(_ config: PrepConfiguration) throws {
        let communicator = try MPICommunicator()
        let rank = communicator.rank
        do {
            guard counts == nil && gloveCooccurrence == nil else {
                throw SwivelCLIError.unsupportedUnderMPI("--counts and --glove-cooccurrence run in one process; start swivel prep without mpirun for them")
            }
            let progress = TerminalProgress(quiet: outputOptions.quiet || rank != 0)
            // mpirun forwards Ctrl-C and SIGTERM to every rank: each removes its temporary directory, rank 0 the
            // partial output. A rank's temporary directory exists only after rank 0 claimed the output directory
            // (a failing rank makes mpirun signal the others, possibly before that).
            let output = config.output
            removePartialPrepOnStop(progress: progress, output: output, ownsOutput: rank == 0,
                                    temporary: PrepPipeline.temporaryDirectory(parent: config.temporaryDirectory ?? StagedDirectory.stagingPath(for: output),
                                                                                    rank: rank))
            let start = Date()
            let summary = try PrepPipeline.runAsRank(config, ranks: communicator, progress: progress.handler)
            progress.finish()
            if rank == 0 { report(summary, seconds: Date().timeIntervalSince(start), ranks: communicator.size) }
        } catch {
            // One rank failing would leave the others waiting in MPI calls: report and end them all.
            printError("swivel: error (rank \(rank)): \(error)")
            communicator.abort(code: 1)
        }
        communicator.finish()
    }
}
#endif
