import Dispatch
import Foundation
import SwivelConcurrency
import SwivelIO
import SwivelText
#if canImport(Glibc)
import Glibc
#endif

/// Everything `swivel prep` needs to know.
public struct PrepConfiguration: Sendable {
    /// Corpus files and directories (`-` for stdin; gzip files are decompressed).
    public var inputs: [String]
    /// The prep directory to write.
    public var output: String
    /// Tokenizer settings.
    public var tokenizer = TokenizerOptions()
    /// Vocabulary rules (unless `vocabularyFile` is set).
    public var vocabularyRules = VocabularyRules()
    /// A vocabulary to use as is (one token per line, optional `<TAB>count`).
    public var vocabularyFile: String?
    /// Counting rule.
    public var counting = CountingOptions()
    /// Features per shard.
    public var shardSize = 4096
    /// Worker threads for tokenizing, counting and writing.
    public var threads = 1
    /// Memory for the corpus ids and the counts, in bytes; counts beyond it spill to disk.
    public var memoryBytes: Int64 = PrepConfiguration.defaultMemoryBytes
    /// Parent directory of the temporary files (nil: the output directory).
    public var temporaryDirectory: String?
    /// Replace the contents of a non-empty output directory.
    public var force = false
    /// The version string recorded in the manifest.
    public var version = "unknown"
    /// Tuning and tests: hash-table slots per worker instead of the memory plan; every full table then
    /// spills to disk.
    public var countingTableSlots: Int?
    /// Tests: read the corpus twice (as when its ids do not fit in memory) whatever its size.
    public var forceSecondPass = false
    /// Tests: bytes of partial blocks a rank of a prep across ranks may have in flight before it waits for
    /// the oldest send (default: a quarter of `memoryBytes`, at least 64 MiB).
    public var rankSendBudgetBytes: Int?
    /// Tuning and tests: the dense region of corpus counting (see ``CountingPlan/denseProduct``), instead of
    /// the memory plan; imported counts never use one.
    public var denseProduct: Int?

    /// Creates a configuration with defaults.
    public init(inputs: [String], output: String) {
        self.inputs = inputs
        self.output = output
    }

    /// Half the memory the kernel says is available, at least 1 GiB.
    public static var defaultMemoryBytes: Int64 {
        max(1 << 30, (SystemResources.availableMemoryBytes() ?? (4 << 30)) / 2)
    }

    /// Checks ranges; throws `PrepError.invalidOption` with a whole sentence.
    public func validate() throws {
        if inputs.isEmpty { throw PrepError.invalidOption("give at least one corpus file (or - for stdin)") }
        if counting.window < 1 || counting.window > 1000 {
            throw PrepError.invalidOption("--window must be between 1 and 1000 (got \(counting.window))")
        }
        if shardSize < 1 { throw PrepError.invalidOption("--shard-size must be at least 1 (got \(shardSize))") }
        if shardSize > 1 << 20 { throw PrepError.invalidOption("--shard-size must be at most 1048576 (got \(shardSize))") }
        if vocabularyRules.minCount < 1 { throw PrepError.invalidOption("--min-count must be at least 1 (got \(vocabularyRules.minCount))") }
        if let m = vocabularyRules.maxSize, m < 1 { throw PrepError.invalidOption("--max-vocab must be at least 1 (got \(m))") }
        if threads < 1 { throw PrepError.invalidOption("--threads must be at least 1 (got \(threads))") }
        if memoryBytes < 64 << 20 { throw PrepError.invalidOption("--memory must be at least 0.0625 GiB (64 MiB)") }
        if let t = counting.subsample, !(t > 0 && t < 1) { throw PrepError.invalidOption("--subsample must be between 0 and 1 (got \(t))") }
        if let m = tokenizer.maxTokenLength, m < 1 { throw PrepError.invalidOption("--max-token-length must be at least 1 (got \(m))") }
    }
}

/// What a prep run did, for the summary line and benchmarks.
public struct PrepSummary: Sendable {
    /// The manifest written.
    public var manifest: Manifest
    /// Seconds spent reading, tokenizing and choosing the vocabulary.
    public var vocabularySeconds: Double
    /// Seconds spent counting co-occurrences (spills included).
    public var countSeconds: Double
    /// Seconds spent merging counts and writing shards, marginals and manifest.
    public var writeSeconds: Double
    /// Input bytes read (after decompression).
    public var bytes: Int64
    /// Whether the corpus was read a second time (its ids did not fit in a quarter of the memory).
    public var rereadCorpus: Bool
    /// Sorted runs spilled to disk.
    public var spilledRuns: Int
    /// Bytes of spilled runs.
    public var spilledBytes: Int64
    /// Peak resident memory of the process at the end of each phase (vocabulary, counting, writing), in bytes.
    public var peakResidentBytes: [Int64] = []
    /// Entries of input directories that were not read (not regular files), for the CLI to report.
    public var skippedInputs: [DirectoryWalk.Skipped] = []
}

/// `swivel prep`: corpus -> vocabulary -> co-occurrence counts -> shard files, marginals and manifest.
///
/// Two passes in bounded memory. Pass 1 reads the inputs once (one thread reads and decompresses,
/// `threads` workers tokenize chunks of whole lines into per-worker token tables) and chooses the
/// vocabulary; the chunks' token ids are kept while they fit in a quarter of `memoryBytes`, otherwise the
/// inputs are read again (standard input from a copy in the temporary directory). Counting then runs on
/// all workers (``CooccurrenceCounter``), spilling to the temporary directory when its share of memory is
/// full, and the merged counts stream into shard files. The result is identical for every thread count
/// and memory limit.
public enum PrepPipeline {
    /// The temporary directory a prep run of this process uses under `parent` (`rank`: of a run across
    /// ranks, whose processes on different machines may share a process id).
    public static func temporaryDirectory(parent: String, rank: Int? = nil) -> String {
        parent + "/" + temporaryPrefix + "\(getpid())" + (rank.map { "-r\($0)" } ?? "")
    }

    /// The name of a temporary directory up to its process id.
    static let temporaryPrefix = ".swivel-prep-tmp-"

    /// Runs the whole prep and returns what it wrote.
    public static func run(_ config: PrepConfiguration, progress: ProgressHandler? = nil) throws -> PrepSummary {
        try config.validate()
        let inputs = try CorpusInputs.expand(config.inputs, excluding: [config.output])
        var summary = try withOutput(config) { temporary, config in
            try run(config, files: inputs.files, temporary: temporary, progress: progress)
        }
        summary.skippedInputs = inputs.skipped
        return summary
    }

    /// The lifecycle of every way of writing a prep directory (corpus, `--counts`, GloVe import, and each rank of
    /// a prep across `ranks`): takes the output's ``OutputLock`` (rank 0), checks the output, builds the new
    /// prep in a ``StagedDirectory`` beside it and runs `body` with a private temporary directory and a copy of
    /// `config` whose `output` is the staging directory; on success swaps the new prep in whole, on failure
    /// removes it. The old prep (with `--force`) stays complete and readable until the swap.
    static func withOutput(_ config: PrepConfiguration, ranks: RankCommunicator? = nil,
                           _ body: (_ temporary: String, _ config: PrepConfiguration) throws -> PrepSummary) throws -> PrepSummary {
        let ownsOutput = (ranks?.rank ?? 0) == 0
        var working = config
        working.output = StagedDirectory.stagingPath(for: config.output)
        var lock: OutputLock?
        var staged: StagedDirectory?
        defer {
            staged?.abandon()
            lock?.release()
        }
        if ownsOutput {
            try FileReader.createDirectory(OutputSibling.split(config.output).parent)
            lock = try OutputLock(output: config.output)
            try checkOutputDirectory(config.output, force: config.force)
            staged = try StagedDirectory(destination: config.output)
            // The ranks write shard files from the start of their merge.
            if ranks != nil { try FileReader.createDirectory(working.output + "/shards") }
        }
        try ranks?.barrier()
        if let parent = config.temporaryDirectory {
            guard FileReader.isDirectory(parent) else {
                throw FileError.cannotOpen(path: parent, reason: "the temporary directory does not exist")
            }
            FileTree.removeStaleTemporaries(in: parent, prefixes: [temporaryPrefix])
        }
        let temporary = temporaryDirectory(parent: config.temporaryDirectory ?? working.output, rank: ranks?.rank)
        try FileReader.createDirectory(temporary)
        defer { removeTemporaryDirectory(temporary) }
        // Refuse at once when the output or temporary directory is (nearly) full, rather than after counting;
        // spills and shard files check again before each write, with their own sizes.
        try SystemResources.requireDiskSpace(64 << 20, in: working.output, for: "shard files")
        try SystemResources.requireDiskSpace(64 << 20, in: temporary, for: "temporary counts")
        let summary = try body(temporary, working)
        removeTemporaryDirectory(temporary)
        try ranks?.barrier()   // every rank's temporary directory is gone from the staging directory
        try staged?.commit()
        return summary
    }

    /// The prep itself; with `ranks`, this process tokenizes and counts only the chunks `i` with
    /// `i mod ranks.size == ranks.rank` (see ``runAsRank(_:ranks:progress:)``).
    static func run(_ config: PrepConfiguration, files: [String], temporary: String,
                    progress: ProgressHandler?, ranks: RankCommunicator? = nil) throws -> PrepSummary {
        // 1. Read and tokenize in parallel; each worker interns into its own table.
        var start = monotonicSeconds()
        let workers = config.threads
        let tokenizer = Tokenizer(options: config.tokenizer)
        let stdinCopy = files.contains("-") ? temporary + "/stdin" : nil
        let reader = try CorpusChunkReader(inputs: files, copyStandardInput: stdinCopy)
        let stored = CorpusInputs.storedBytes(files).map(Double.init)
        let tables = ConcurrentSlots<TokenizedCorpus>(repeating: TokenizedCorpus(), count: workers)
        let idBudget = config.forceSecondPass ? -1 : config.memoryBytes / 4
        let kept = Locked<(ids: [Int: (worker: Int, ids: [Int32])], bytes: Int64, keeping: Bool)>(([:], 0, true))
        let tokensRead = Locked<Int64>(0)
        let readStart = monotonicSeconds()
        let share = ranks.map { (rank: $0.rank, size: $0.size) }
        let chunkCount = Locked<Int>(0)
        try ParallelChunks.run(reader, workers: workers, progress: {
            let tokens = tokensRead.withValue { $0 }
            let seconds = max(monotonicSeconds() - readStart, 1e-9)
            progress?(ProgressUpdate(phase: "vocabulary", done: Double(reader.storedBytesRead), total: stored, unit: "bytes",
                                     detail: String(format: "%.1fM tokens, %.1fM tokens/s, %.0f MB/s of text",
                                                    Double(tokens) / 1e6, Double(tokens) / seconds / 1e6,
                                                    Double(reader.bytesRead) / seconds / 1e6)))
        }) { worker, chunk in
            chunkCount.withValue { $0 = max($0, chunk.index + 1) }
            if let share, chunk.index % share.size != share.rank { return }
            var corpus = tables[worker]
            tables[worker] = TokenizedCorpus()
            corpus.ids = []
            corpus.keepsIDs = kept.withValue { $0.keeping }
            // Room for the chunk's ids up front: half its bytes holds every token (a token and its separator
            // take at least 2 bytes) and, for text, the line breaks too (a chunk of one-letter lines outgrows it
            // and the array grows as before). Appending through doublings copied the ids and touched about twice
            // their memory; reserved pages never written are never resident.
            if corpus.keepsIDs { corpus.ids.reserveCapacity(chunk.bytes.count / 2 + 1) }
            let before = corpus.tokenCount
            try tokenizer.scan(chunk, into: &corpus)
            tokensRead.withValue { $0 += corpus.tokenCount - before }
            let ids = corpus.ids
            corpus.ids = []
            tables[worker] = corpus
            if !ids.isEmpty {
                kept.withValue { state in
                    guard state.keeping else { return }
                    state.bytes += Int64(ids.count) * 4
                    if state.bytes > idBudget {
                        state = ([:], 0, false)
                    } else {
                        state.ids[chunk.index] = (worker, ids)
                    }
                }
            }
        }
        let byteCount = reader.bytesRead

        // 2. Vocabulary: merge the worker tables (counts are sums, so the order does not matter).
        var merged = TokenTable()
        var tokenCount: Int64 = 0
        for w in 0..<workers {
            let table = tables[w].table
            tokenCount += tables[w].tokenCount
            for id in 0..<table.count {
                table.bytes(of: id).withUnsafeBytes { _ = merged.intern($0, occurrences: table.occurrences(of: id)) }
            }
        }
        let localTokens = tokenCount
        let chooseVocabulary = { (merged: TokenTable, tokenCount: Int64) throws -> Vocabulary in
            guard tokenCount > 0 else { throw CorpusError.empty(paths: files) }
            if let file = config.vocabularyFile {
                return VocabularyBuilder.recount(try Vocabulary.read(from: file), from: merged)
            }
            return try VocabularyBuilder.build(from: merged, rules: config.vocabularyRules)
        }
        let vocabulary: Vocabulary
        let distinct: Int
        if let ranks {
            (vocabulary, tokenCount, distinct) = try RankExchange.vocabulary(merged, tokens: tokenCount,
                                                                              input: (byteCount, chunkCount.withValue { $0 }), ranks: ranks,
                                                                              choose: chooseVocabulary)
        } else {
            vocabulary = try chooseVocabulary(merged, tokenCount)
            distinct = merged.count
        }
        merged = TokenTable()
        let inVocabulary = vocabulary.counts.reduce(0, +)
        var vocabularyTable = TokenTable()
        for token in vocabulary.tokens {
            var t = token
            t.withUTF8 { _ = vocabularyTable.intern(UnsafeRawBufferPointer($0)) }
        }
        let subsampling = config.counting.subsample.map {
            Subsampling(vocabulary: vocabulary, total: tokenCount, threshold: $0, seed: config.counting.seed)
        }
        let vocabularySeconds = monotonicSeconds() - start
        var peaks = [SystemResources.peakResidentBytes() ?? 0]

        // 3. Count.
        start = monotonicSeconds()
        let layout = ShardLayout(featureCount: vocabulary.count, shardSize: config.shardSize)
        var keptState = kept.withValue { state -> (ids: [Int: (worker: Int, ids: [Int32])], bytes: Int64, keeping: Bool) in
            defer { state = ([:], 0, false) }
            return state
        }
        var plan = CountingPlan.forMemory(max(32 << 20, config.memoryBytes - keptState.bytes - (96 << 20)),
                                          workers: workers, rows: layout.featureCount,
                                          columns: layout.featureCount, temporaryDirectory: temporary)
        if let slots = config.countingTableSlots {
            plan.tableSlots = slots
            plan.memoryRunBytes = 0
        }
        if let dense = config.denseProduct { plan.denseProduct = dense }
        plan.sizeTables(forTokens: Int64(localTokens), window: config.counting.window)
        let counter = try CooccurrenceCounter(rows: layout, columns: layout,
                                              scale: CountScale(window: config.counting.window), plan: plan)
        let reportCount: (Int64) -> Void = { done in
            progress?(ProgressUpdate(phase: "counting", done: Double(done), total: Double(localTokens), unit: "tokens"))
        }
        var counted: Int64 = 0
        if keptState.keeping {
            // Token ids of every chunk are in memory: map them to vocabulary ids (in parallel), then count.
            let maps = (0..<workers).map { w -> [Int32] in
                let table = tables[w].table
                return (0..<table.count).map { id in
                    table.bytes(of: id).withUnsafeBytes { vocabularyTable.id(of: $0) ?? -1 }
                }
            }
            // A few chunks at a time (mapped in parallel, each in place: no fresh memory), each chunk's token ids
            // freed once counted.
            for w in 0..<workers { tables[w] = TokenizedCorpus() }
            let order = keptState.ids.keys.sorted()
            for batchStart in stride(from: 0, to: order.count, by: 2 * workers) {
                let batch = Array(order[batchStart..<min(order.count, batchStart + 2 * workers)])
                // Each chunk's ids leave the dictionary for their slot, so the slot holds the only reference.
                let mapped = ConcurrentSlots<[Int32]>(repeating: [], count: batch.count)
                let owners = batch.indices.map { i -> Int in
                    let (worker, ids) = keptState.ids.removeValue(forKey: batch[i])!
                    mapped[i] = ids
                    return worker
                }
                DispatchQueue.concurrentPerform(iterations: batch.count) { i in
                    var ids = mapped[i]
                    mapped[i] = []   // `ids` is now the only reference: mapped in place
                    Self.mapToVocabulary(&ids, map: maps[owners[i]], subsampling: subsampling.map { ($0, batch[i]) })
                    mapped[i] = ids
                }
                for i in 0..<batch.count {
                    try mapped[i].withUnsafeBufferPointer { try counter.count(ids: $0, options: config.counting) }
                    counted += Int64(mapped[i].count)
                    mapped[i] = []
                    reportCount(min(counted, localTokens))
                }
            }
        } else {
            // Read the corpus again, a batch of chunks at a time: tokenize in parallel, then count.
            for w in 0..<workers { tables[w] = TokenizedCorpus() }
            let again = try CorpusChunkReader(inputs: files.map { $0 == "-" ? stdinCopy! : $0 })
            var seen: Int64 = 0
            while true {
                var batch: [CorpusChunk] = []
                while batch.count < 2 * workers, let chunk = try again.next() {
                    if let ranks, chunk.index % ranks.size != ranks.rank { continue }
                    batch.append(chunk)
                }
                if batch.isEmpty { break }
                let ids = ConcurrentSlots<[Int32]>(repeating: [], count: batch.count)
                let seenTokens = ConcurrentSlots<Int64>(repeating: 0, count: batch.count)
                let failures = ConcurrentSlots<String?>(repeating: nil, count: batch.count)
                let table = vocabularyTable
                let chunks = batch
                DispatchQueue.concurrentPerform(iterations: chunks.count) { i in
                    var lookup = VocabularyLookup(table: table)
                    lookup.subsampling = subsampling.map { ($0, chunks[i].index) }
                    do { try tokenizer.scan(chunks[i], into: &lookup) } catch { failures[i] = "\(error)" }
                    ids[i] = lookup.ids
                    seenTokens[i] = lookup.tokenCount
                }
                if let failure = failures.values.compactMap({ $0 }).first { throw CountingError.failed(failure) }
                for i in 0..<batch.count {
                    try ids[i].withUnsafeBufferPointer { try counter.count(ids: $0, options: config.counting) }
                    seen += seenTokens[i]
                }
                reportCount(seen)
            }
        }
        let countSeconds = monotonicSeconds() - start
        peaks.append(SystemResources.peakResidentBytes() ?? 0)

        if let ranks {
            // Every block is merged and written by the rank that owns its row shard; rank 0 writes vocabularies,
            // marginals and the manifest and shares the manifest, so every rank returns the same summary.
            let start = monotonicSeconds()
            let result = try RankExchange.finish(counter: counter, layout: layout, output: config.output,
                                                 temporary: temporary, memoryBytes: config.memoryBytes,
                                                 sendBudgetBytes: config.rankSendBudgetBytes, ranks: ranks,
                                                 progress: progress)
            var summary: PrepSummary?
            if let result {
                summary = try writeMetadata(result, rows: layout, columns: layout, rowVocabulary: vocabulary,
                                            columnVocabulary: vocabulary, config: config, source: nil, tokens: tokenCount,
                                            inVocabulary: inVocabulary, distinct: distinct, bytes: byteCount,
                                            vocabularySeconds: vocabularySeconds, countSeconds: countSeconds,
                                            rereadCorpus: !keptState.keeping, writeStart: start, peaks: peaks)
            }
            let manifestJSON = try ranks.broadcastBytes(summary.map { Array(try $0.manifest.encoded()) } ?? [])
            let manifest = try JSONDecoder().decode(Manifest.self, from: Data(manifestJSON))
            peaks.append(SystemResources.peakResidentBytes() ?? 0)
            return PrepSummary(manifest: manifest, vocabularySeconds: vocabularySeconds, countSeconds: countSeconds,
                               writeSeconds: monotonicSeconds() - start, bytes: byteCount, rereadCorpus: !keptState.keeping,
                               spilledRuns: summary?.spilledRuns ?? 0, spilledBytes: summary?.spilledBytes ?? 0,
                               peakResidentBytes: peaks)
        }
        return try writeOutputs(counter: counter, rows: layout, columns: layout, rowVocabulary: vocabulary,
                                columnVocabulary: vocabulary, config: config, source: nil, tokens: tokenCount,
                                inVocabulary: inVocabulary, distinct: distinct, bytes: byteCount,
                                vocabularySeconds: vocabularySeconds, countSeconds: countSeconds,
                                rereadCorpus: !keptState.keeping, progress: progress, peaks: peaks)
    }

    /// Merges the counts into shard files, then writes vocabularies, marginals and (last) the manifest.
    static func writeOutputs(counter: CooccurrenceCounter, rows: ShardLayout, columns: ShardLayout,
                             rowVocabulary: Vocabulary, columnVocabulary: Vocabulary, config: PrepConfiguration,
                             source: String?, tokens: Int64, inVocabulary: Int64, distinct: Int, bytes: Int64,
                             vocabularySeconds: Double, countSeconds: Double, rereadCorpus: Bool,
                             progress: ProgressHandler?, peaks: [Int64]) throws -> PrepSummary {
        // `peaks`: peak RSS at the end of the vocabulary and counting phases; writing's is added at the end.
        let start = monotonicSeconds()
        let shardDirectory = config.output + "/shards"
        try FileReader.createDirectory(shardDirectory)
        let blockCount = rows.shardCount * columns.shardCount
        let result = try counter.finish(writingTo: shardDirectory) { written in
            progress?(ProgressUpdate(phase: "writing", done: Double(written), total: Double(blockCount), unit: "shards"))
        }
        return try writeMetadata(result, rows: rows, columns: columns, rowVocabulary: rowVocabulary,
                                 columnVocabulary: columnVocabulary, config: config, source: source, tokens: tokens,
                                 inVocabulary: inVocabulary, distinct: distinct, bytes: bytes,
                                 vocabularySeconds: vocabularySeconds, countSeconds: countSeconds,
                                 rereadCorpus: rereadCorpus, writeStart: start, peaks: peaks)
    }

    /// Writes vocabularies, marginals and (last) the manifest of shards already written.
    static func writeMetadata(_ result: CountResult, rows: ShardLayout, columns: ShardLayout,
                              rowVocabulary: Vocabulary, columnVocabulary: Vocabulary, config: PrepConfiguration,
                              source: String?, tokens: Int64, inVocabulary: Int64, distinct: Int, bytes: Int64,
                              vocabularySeconds: Double, countSeconds: Double, rereadCorpus: Bool,
                              writeStart start: Double, peaks: [Int64]) throws -> PrepSummary {
        var peaks = peaks
        guard result.total > 0 else {
            throw VocabularyError.empty(reason: "every count is zero or out of the vocabulary; nothing to train on")
        }
        let manifest = Manifest(
            writtenBy: config.version, rows: rows.featureCount, columns: columns.featureCount,
            shardSize: config.shardSize, rowShards: rows.shardCount, columnShards: columns.shardCount,
            total: result.total, nonzeros: result.nonzeros, window: source == nil ? config.counting.window : 0,
            selfWeight: source == nil ? config.counting.selfWeight : 0, tokenizer: config.tokenizer,
            vocabularyRules: config.vocabularyRules, vocabularyFile: config.vocabularyFile,
            inputs: config.inputs, tokens: tokens, inVocabularyTokens: inVocabulary,
            distinctTokens: distinct, shards: result.shards,
            subsample: source == nil ? config.counting.subsample : nil,
            subsampleSeed: source == nil && config.counting.subsample != nil ? config.counting.seed : nil, source: source)
        try rowVocabulary.write(to: config.output + "/" + manifest.rowVocabulary)
        try columnVocabulary.write(to: config.output + "/" + manifest.columnVocabulary)
        try MarginalsFile.write(result.rowSums, to: config.output + "/" + manifest.rowSums)
        try MarginalsFile.write(result.columnSums, to: config.output + "/" + manifest.columnSums)
        // The manifest goes last: a directory without one is an unfinished prep.
        try manifest.write(directory: config.output)
        peaks.append(SystemResources.peakResidentBytes() ?? 0)
        return PrepSummary(manifest: manifest, vocabularySeconds: vocabularySeconds, countSeconds: countSeconds,
                           writeSeconds: monotonicSeconds() - start, bytes: bytes, rereadCorpus: rereadCorpus,
                           spilledRuns: result.spilledRuns, spilledBytes: result.spilledBytes,
                           peakResidentBytes: peaks)
    }

    /// Maps a chunk's token-table ids to vocabulary ids in place, dropping out-of-vocabulary (and subsampled)
    /// tokens and lines left empty; `ids` shrinks to what is kept.
    static func mapToVocabulary(_ ids: inout [Int32], map: [Int32], subsampling: (Subsampling, chunk: Int)? = nil) {
        var kept = 0
        ids.withUnsafeMutableBufferPointer { ids in
            var lineHasToken = false
            var index = 0
            // Writes trail reads (`kept <= k`), so each id is read before its place is overwritten.
            for k in 0..<ids.count {
                let id = ids[k]
                if id < 0 {
                    if lineHasToken {
                        ids[kept] = TokenizedCorpus.lineBreak
                        kept += 1
                    }
                    lineHasToken = false
                } else {
                    let v = map[Int(id)]
                    index += 1
                    if v >= 0, let (s, chunk) = subsampling, !s.keeps(v, chunk: chunk, index: index - 1) { continue }
                    if v >= 0 {
                        ids[kept] = v
                        kept += 1
                        lineHasToken = true
                    }
                }
            }
        }
        ids.removeLast(ids.count - kept)
    }

    /// Removes a prep run's temporary directory and everything in it.
    public static func removeTemporaryDirectory(_ path: String) {
        if let names = try? FileReader.listDirectory(path) {
            for name in names {
                // Runs and partial blocks, and the directory of partial blocks of a prep across ranks.
                if FileReader.isDirectory(path + "/" + name) { removeTemporaryDirectory(path + "/" + name) } else { unlink(path + "/" + name) }
            }
        }
        rmdir(path)
    }

    /// Entries a prep writes into its output directory; `--force` replaces a directory holding only these.
    static let outputEntries: Set<String> = ["manifest.json", "shards", "row_vocab.txt", "col_vocab.txt",
                                             "row_sums.txt", "col_sums.txt"]

    /// Checks that `path` can receive a prep: absent, an empty directory, or (with `force`) a directory whose
    /// entries other than a prep's are files that the swap can carry over. Temporary files of killed runs are
    /// removed first.
    static func checkOutputDirectory(_ path: String, force: Bool) throws {
        guard FileReader.exists(path) else { return }
        guard FileReader.isDirectory(path) else {
            throw FileError.cannotOpen(path: path, reason: "exists and is not a directory")
        }
        FileTree.removeStaleTemporaries(in: path, prefixes: [temporaryPrefix])
        let entries = try FileReader.listDirectory(path)
        guard !entries.isEmpty else { return }
        guard force else { throw PrepError.outputNotEmpty(path: path, names: Array(entries.prefix(3))) }
        try StagedDirectory.checkCarriable(path, own: outputEntries)
        guard access(path, W_OK) == 0 else {
            throw FileError.cannotOpen(path: path, reason: "directory is not writable")
        }
    }
}
