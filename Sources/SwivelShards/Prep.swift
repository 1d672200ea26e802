import Dispatch
import Foundation
import SwivelIO
import SwivelText
#if canImport(Glibc)
import Glibc
#endif

/// Everything `swivel prep` needs to know.
public struct PrepConfiguration: Sendable {
    /// Corpus files (`-` for stdin; `.gz` files are decompressed).
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
    /// Worker threads for counting and writing.
    public var threads = 1
    /// Replace the contents of a non-empty output directory.
    public var force = false
    /// The version string recorded in the manifest.
    public var version = "unknown"

    /// Creates a configuration with defaults.
    public init(inputs: [String], output: String) {
        self.inputs = inputs
        self.output = output
    }

    /// Checks ranges; throws `PrepError.invalidOption` with a whole sentence.
    public func validate() throws {
        if inputs.isEmpty { throw PrepError.invalidOption("give at least one corpus file (or - for stdin)") }
        if counting.window < 1 { throw PrepError.invalidOption("--window must be at least 1 (got \(counting.window))") }
        if shardSize < 1 { throw PrepError.invalidOption("--shard-size must be at least 1 (got \(shardSize))") }
        if shardSize > 1 << 20 { throw PrepError.invalidOption("--shard-size must be at most 1048576 (got \(shardSize))") }
        if vocabularyRules.minCount < 1 { throw PrepError.invalidOption("--min-count must be at least 1 (got \(vocabularyRules.minCount))") }
        if let m = vocabularyRules.maxSize, m < 1 { throw PrepError.invalidOption("--max-vocab must be at least 1 (got \(m))") }
        if threads < 1 { throw PrepError.invalidOption("--threads must be at least 1 (got \(threads))") }
    }
}

/// What a prep run did, for the summary line.
public struct PrepSummary: Sendable {
    /// The manifest written.
    public var manifest: Manifest
    /// Seconds spent reading and tokenizing.
    public var readSeconds: Double
    /// Seconds spent counting co-occurrences.
    public var countSeconds: Double
    /// Seconds spent writing shards and marginals.
    public var writeSeconds: Double
    /// Input bytes read.
    public var bytes: Int64
}

/// `swivel prep`: corpus -> vocabulary -> co-occurrence counts -> shard files, marginals and manifest.
public enum Prep {
    /// Runs the whole prep and returns what it wrote.
    public static func run(_ config: PrepConfiguration, progress: ProgressHandler? = nil) throws -> PrepSummary {
        try config.validate()
        try prepareOutputDirectory(config.output, force: config.force)

        // 1. Read and tokenize.
        var start = monotonicSeconds()
        var corpus = TokenizedCorpus()
        let knownBytes = totalInputBytes(config.inputs)
        try Tokenizer(options: config.tokenizer).read(paths: config.inputs, into: &corpus) { bytes in
            progress?(ProgressUpdate(phase: "reading", done: Double(bytes), total: knownBytes, unit: "bytes"))
        }
        guard corpus.tokenCount > 0 else { throw CorpusError.empty(paths: config.inputs) }
        let readSeconds = monotonicSeconds() - start

        // 2. Vocabulary.
        let vocabulary: Vocabulary
        if let file = config.vocabularyFile {
            vocabulary = VocabularyBuilder.recount(try Vocabulary.read(from: file), from: corpus.table)
        } else {
            vocabulary = try VocabularyBuilder.build(from: corpus.table, rules: config.vocabularyRules)
        }
        let map = VocabularyBuilder.mapping(from: corpus.table, to: vocabulary)

        // 3. Map to vocabulary ids, dropping out-of-vocabulary tokens before windowing (as the reference does).
        start = monotonicSeconds()
        var ids = [Int32]()
        ids.reserveCapacity(corpus.ids.count)
        var inVocabulary: Int64 = 0
        for id in corpus.ids {
            if id == TokenizedCorpus.lineBreak {
                if let last = ids.last, last != TokenizedCorpus.lineBreak { ids.append(TokenizedCorpus.lineBreak) }
            } else {
                let v = map[Int(id)]
                if v >= 0 {
                    ids.append(v)
                    inVocabulary += 1
                }
            }
        }
        let distinct = corpus.table.count
        let tokenCount = corpus.tokenCount
        let byteCount = corpus.byteCount
        corpus = TokenizedCorpus()  // free the token table and raw ids

        // 4. Count.
        let layout = ShardLayout(featureCount: vocabulary.count, shardSize: config.shardSize)
        let counter = CooccurrenceCounter(options: config.counting, layout: layout)
        let blocks = counter.count(ids: ids, threads: config.threads) { fraction in
            progress?(ProgressUpdate(phase: "counting", done: fraction * Double(tokenCount),
                                     total: Double(tokenCount), unit: "tokens"))
        }
        ids = []
        let countSeconds = monotonicSeconds() - start

        // 5. Marginals and shard files; on failure, remove what this run wrote so no partial prep is left.
        do {
            return try write(blocks: blocks, layout: layout, vocabulary: vocabulary, config: config, tokenCount: tokenCount,
                             inVocabulary: inVocabulary, distinct: distinct, byteCount: byteCount,
                             readSeconds: readSeconds, countSeconds: countSeconds, progress: progress)
        } catch {
            removePartialOutput(config.output)
            throw error
        }
    }

    /// Removes the files a failed or interrupted prep may have written, temporary files included (never
    /// anything else), so that no partial prep directory is left behind.
    public static func removePartialOutput(_ output: String) {
        unlink(output + "/manifest.json")
        if let names = try? FileReader.listDirectory(output + "/shards") {
            for name in names where name.hasPrefix("shard-") || name.hasPrefix(".shard-") { unlink(output + "/shards/" + name) }
            rmdir(output + "/shards")
        }
        let written = ["row_vocab.txt", "col_vocab.txt", "row_sums.txt", "col_sums.txt", "manifest.json"]
        for name in written { unlink(output + "/" + name) }
        if let names = try? FileReader.listDirectory(output) {
            for name in names where written.contains(where: { name.hasPrefix(".\($0).tmp-") }) { unlink(output + "/" + name) }
        }
    }

    private static func write(blocks: [ShardBlock], layout: ShardLayout, vocabulary: Vocabulary, config: PrepConfiguration,
                              tokenCount: Int64, inVocabulary: Int64, distinct: Int, byteCount: Int64,
                              readSeconds: Double, countSeconds: Double, progress: ProgressHandler?) throws -> PrepSummary {
        // Marginals (exact sums of the stored counts, in a fixed order) and shard files.
        let start = monotonicSeconds()
        var rowSums = [Double](repeating: 0, count: layout.featureCount)
        var columnSums = [Double](repeating: 0, count: layout.featureCount)
        var shards: [ShardEntry] = []
        var nonzeros = 0
        for block in blocks {
            for localRow in 0..<block.rows {
                let row = layout.featureID(shard: block.rowShard, local: localRow)
                for k in Int(block.rowStart[localRow])..<Int(block.rowStart[localRow + 1]) {
                    let column = layout.featureID(shard: block.columnShard, local: Int(block.columns[k]))
                    let v = Double(block.values[k])
                    rowSums[row] += v
                    columnSums[column] += v
                }
            }
            shards.append(ShardEntry(file: ShardFile.fileName(rowShard: block.rowShard, columnShard: block.columnShard),
                                     row: block.rowShard, column: block.columnShard, nonzeros: block.nonzeroCount))
            nonzeros += block.nonzeroCount
        }
        let shardDirectory = config.output + "/shards"
        try FileReader.createDirectory(shardDirectory)
        let shardFiles = shards.map(\.file)
        let failures = ConcurrentSlots<String?>(repeating: nil, count: blocks.count)
        let written = ConcurrentSlots<Int>(repeating: 0, count: 1)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: config.threads) { worker in
            var b = worker
            while b < blocks.count {
                do {
                    try ShardFile.write(blocks[b], to: shardDirectory + "/" + shardFiles[b])
                } catch {
                    failures[b] = "\(error)"
                }
                lock.withLock {
                    written[0] += 1
                    progress?(ProgressUpdate(phase: "writing", done: Double(written[0]), total: Double(blocks.count), unit: "shards"))
                }
                b += config.threads
            }
        }
        if let failure = failures.values.compactMap({ $0 }).first {
            throw FileError.ioFailed(path: shardDirectory, reason: failure)
        }
        let manifest = Manifest(
            writtenBy: config.version, rows: vocabulary.count, columns: vocabulary.count,
            shardSize: config.shardSize, rowShards: layout.shardCount, columnShards: layout.shardCount,
            total: rowSums.reduce(0, +), nonzeros: nonzeros, window: config.counting.window,
            selfWeight: config.counting.selfWeight, tokenizer: config.tokenizer,
            vocabularyRules: config.vocabularyRules, vocabularyFile: config.vocabularyFile,
            inputs: config.inputs, tokens: tokenCount, inVocabularyTokens: inVocabulary,
            distinctTokens: distinct, shards: shards)
        try vocabulary.write(to: config.output + "/" + manifest.rowVocabulary)
        try vocabulary.write(to: config.output + "/" + manifest.columnVocabulary)
        try MarginalsFile.write(rowSums, to: config.output + "/" + manifest.rowSums)
        try MarginalsFile.write(columnSums, to: config.output + "/" + manifest.columnSums)
        // The manifest goes last: a directory without one is an unfinished prep.
        try manifest.write(directory: config.output)
        return PrepSummary(manifest: manifest, readSeconds: readSeconds, countSeconds: countSeconds,
                           writeSeconds: monotonicSeconds() - start, bytes: byteCount)
    }

    /// Creates `path`, or checks it is empty (or clears the files a previous prep wrote, with `force`).
    static func prepareOutputDirectory(_ path: String, force: Bool) throws {
        if FileReader.exists(path) && !FileReader.isDirectory(path) {
            throw FileError.cannotOpen(path: path, reason: "exists and is not a directory")
        }
        try FileReader.createDirectory(path)
        let entries = try FileReader.listDirectory(path)
        if !entries.isEmpty {
            guard force else { throw PrepError.outputNotEmpty(path: path) }
            // Remove the manifest first so that an interrupted clean-up never leaves a stale, valid-looking prep.
            unlink(path + "/manifest.json")
            if FileReader.isDirectory(path + "/shards") {
                for name in try FileReader.listDirectory(path + "/shards") where name.hasPrefix("shard-") {
                    unlink(path + "/shards/" + name)
                }
            }
        }
        guard access(path, W_OK) == 0 else {
            throw FileError.cannotOpen(path: path, reason: "directory is not writable")
        }
    }

    private static func totalInputBytes(_ inputs: [String]) -> Double? {
        var total: Double = 0
        for path in inputs {
            if path == "-" || path.hasSuffix(".gz") { return nil }
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            total += Double(info.st_size)
        }
        return total
    }
}
