import Foundation
import SwivelConcurrency
import SwivelIO
import SwivelText

/// Errors in co-occurrence count files given to `swivel prep --counts` or `--glove-cooccurrence`.
public enum CountsFileError: Error, CustomStringConvertible, Equatable {
    /// A line of a `--counts` file is not `row<TAB>column<TAB>count`.
    case malformedLine(path: String, line: Int, reason: String)
    /// A GloVe file does not have the expected layout.
    case malformedGlove(path: String, reason: String)

    /// One line naming the file (and line) and the problem.
    public var description: String {
        switch self {
        case let .malformedLine(path, line, reason): return "\(path):\(line): \(reason)"
        case let .malformedGlove(path, reason): return "\(path): \(reason)"
        }
    }
}

/// Shards from counts that were computed elsewhere: feature co-occurrence lists (items, users, graph
/// nodes: rows and columns may be different kinds with different vocabularies) and GloVe's
/// `cooccurrence.bin`, as the reference's `glove_to_shards.py` did.
///
/// Each input is read twice (vocabularies first, then counts, so memory holds only the vocabularies and
/// the counter); the counts go through the same bounded-memory ``CooccurrenceCounter`` as a corpus.
public enum CountsImport {
    /// `swivel prep --counts FILE`: lines `row_feature<TAB>column_feature<TAB>count` (count a non-negative
    /// decimal; repeated pairs add up; `.gz` is decompressed; `-` is stdin). The row and column vocabularies
    /// are the features sorted by their total count (descending, ties by bytes), cut by the rules.
    public static func runTriples(path: String, config: PrepConfiguration,
                                  progress: ProgressHandler? = nil) throws -> PrepSummary {
        try config.validate()
        let files = try CorpusInputs.expand([path]).files
        return try PrepPipeline.withOutput(config) { temporary, config in
            let copy = files.contains("-") ? temporary + "/stdin" : nil
            // Pass 1: features and their total counts.
            var start = monotonicSeconds()
            var rowTable = TokenTable(), columnTable = TokenTable()
            var rowTotals: [Double] = [], columnTotals: [Double] = []
            var lines = 0
            var bytes: Int64 = 0
            try forEachTriple(files: files, copyStandardInput: copy) { row, column, count, _ in
                let r = Int(rowTable.intern(row, occurrences: 0)), c = Int(columnTable.intern(column, occurrences: 0))
                if r == rowTotals.count { rowTotals.append(0) }
                if c == columnTotals.count { columnTotals.append(0) }
                rowTotals[r] += count
                columnTotals[c] += count
                lines += 1
            } bytes: { bytes = $0 }
            guard lines > 0 else { throw CorpusError.empty(paths: files) }
            let rowVocabulary = try vocabulary(rowTable, totals: rowTotals, rules: config.vocabularyRules, kind: "row")
            let columnVocabulary = try vocabulary(columnTable, totals: columnTotals, rules: config.vocabularyRules, kind: "column")
            let rowIDs = lookupTable(rowVocabulary), columnIDs = lookupTable(columnVocabulary)
            rowTable = TokenTable()
            columnTable = TokenTable()
            let vocabularySeconds = monotonicSeconds() - start
            var peaks = [SystemResources.peakResidentBytes() ?? 0]

            // Pass 2: counts.
            start = monotonicSeconds()
            let (counter, rows, columns) = try makeCounter(rows: rowVocabulary.count, columns: columnVocabulary.count,
                                                           config: config, temporary: temporary)
            var kept = 0
            let scale = counter.scale
            try forEachTriple(files: files.map { $0 == "-" ? copy! : $0 }, copyStandardInput: nil) { row, column, count, _ in
                guard let r = rowIDs.id(of: row), let c = columnIDs.id(of: column) else { return }
                try counter.add(row: Int(r), column: Int(c), units: scale.units(count))
                kept += 1
            } bytes: { done in
                progress?(ProgressUpdate(phase: "counting", done: Double(done), total: Double(bytes), unit: "bytes"))
            }
            let countSeconds = monotonicSeconds() - start
            peaks.append(SystemResources.peakResidentBytes() ?? 0)
            return try PrepPipeline.writeOutputs(counter: counter, rows: rows, columns: columns, rowVocabulary: rowVocabulary,
                                         columnVocabulary: columnVocabulary, config: config, source: "counts",
                                         tokens: Int64(lines), inVocabulary: Int64(kept),
                                         distinct: rowTotals.count + columnTotals.count, bytes: bytes,
                                         vocabularySeconds: vocabularySeconds, countSeconds: countSeconds,
                                         rereadCorpus: false, progress: progress, peaks: peaks)
        }
    }

    /// `swivel prep --glove-cooccurrence FILE --glove-vocab VOCAB`: GloVe's binary records (int32 word1,
    /// int32 word2, float64 count; ids 1-based into `vocab.txt`, whose lines are `word count`), kept as
    /// they are (GloVe's `cooccur` already writes both (i, j) and (j, i) for a symmetric window). The
    /// vocabulary rules cut GloVe's vocabulary (sorted by count, ties by bytes).
    public static func runGlove(cooccurrence: String, vocabularyPath: String, config: PrepConfiguration,
                                progress: ProgressHandler? = nil) throws -> PrepSummary {
        try config.validate()
        let (gloveTokens, gloveCounts) = try readGloveVocabulary(vocabularyPath)
        var info = stat()
        guard stat(cooccurrence, &info) == 0 else {
            throw FileError.cannotOpen(path: cooccurrence, reason: systemErrorMessage())
        }
        let size = Int64(info.st_size)
        guard size % 16 == 0 else {
            throw CountsFileError.malformedGlove(path: cooccurrence, reason: "size \(size) is not a multiple of 16 bytes (int32, int32, float64 records): not a GloVe cooccurrence file, or truncated")
        }
        return try PrepPipeline.withOutput(config) { temporary, config in
            var start = monotonicSeconds()
            var table = TokenTable()
            for token in gloveTokens { var t = token; t.withUTF8 { _ = table.intern(UnsafeRawBufferPointer($0)) } }
            for (id, count) in gloveCounts.enumerated() {
                table.bytes(of: id).withUnsafeBytes { _ = table.intern($0, occurrences: count - 1) }
            }
            let vocabulary = try VocabularyBuilder.build(from: table, rules: config.vocabularyRules)
            let ids = lookupTable(vocabulary)
            let map = gloveTokens.map { token -> Int32 in ids.id(of: token) ?? -1 }
            let vocabularySeconds = monotonicSeconds() - start
            var peaks = [SystemResources.peakResidentBytes() ?? 0]

            start = monotonicSeconds()
            let (counter, rows, columns) = try makeCounter(rows: vocabulary.count, columns: vocabulary.count,
                                                           config: config, temporary: temporary)
            let scale = counter.scale
            guard let file = fopen(cooccurrence, "rb") else {
                throw FileError.cannotOpen(path: cooccurrence, reason: systemErrorMessage())
            }
            defer { fclose(file) }
            var buffer = [UInt8](repeating: 0, count: 16 << 20)
            var record: Int64 = 0, kept: Int64 = 0
            while true {
                let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress!, 1, $0.count, file) }
                if ferror(file) != 0 {
                    throw FileError.ioFailed(path: cooccurrence, reason: "read failed: \(systemErrorMessage())")
                }
                if n == 0 { break }
                guard n % 16 == 0 else {
                    throw CountsFileError.malformedGlove(path: cooccurrence, reason: "ends in the middle of a record (truncated?)")
                }
                try buffer.withUnsafeBytes { raw in
                    for offset in stride(from: 0, to: n - n % 16, by: 16) {
                        let a = Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: Int32.self)))
                        let b = Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4, as: Int32.self)))
                        let value = Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)))
                        guard a >= 1, a <= map.count, b >= 1, b <= map.count else {
                            throw CountsFileError.malformedGlove(path: cooccurrence, reason: "record \(record) has word ids (\(a), \(b)) outside 1...\(map.count) (the size of \(vocabularyPath)): wrong vocabulary file?")
                        }
                        guard value.isFinite, value >= 0, value <= CountScale.maximumCount else {
                            throw CountsFileError.malformedGlove(path: cooccurrence, reason: "record \(record) has count \(value); counts must be finite, non-negative and at most 1e12")
                        }
                        record += 1
                        let r = map[a - 1], c = map[b - 1]
                        if r >= 0 && c >= 0 && value > 0 {
                            try counter.add(row: Int(r), column: Int(c), units: scale.units(value))
                            kept += 1
                        }
                    }
                }
                progress?(ProgressUpdate(phase: "counting", done: Double(record * 16), total: Double(size), unit: "bytes"))
            }
            let countSeconds = monotonicSeconds() - start
            peaks.append(SystemResources.peakResidentBytes() ?? 0)
            return try PrepPipeline.writeOutputs(counter: counter, rows: rows, columns: columns, rowVocabulary: vocabulary,
                                         columnVocabulary: vocabulary, config: config, source: "glove",
                                         tokens: gloveCounts.reduce(0, &+), inVocabulary: vocabulary.counts.reduce(0, +),
                                         distinct: gloveTokens.count, bytes: size,
                                         vocabularySeconds: vocabularySeconds, countSeconds: countSeconds,
                                         rereadCorpus: false, progress: progress, peaks: peaks)
        }
    }

    /// Reads GloVe's `vocab.txt`: `word count` lines, in id order.
    static func readGloveVocabulary(_ path: String) throws -> ([String], [Int64]) {
        let text = try FileReader.readText(path)
        var tokens: [String] = [], counts: [Int64] = []
        var seen = Set<String>()
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty && i > 0 { continue }
            let fields = line.split(separator: " ")
            guard fields.count == 2, let count = Int64(fields[1]), count >= 1 else {
                throw CountsFileError.malformedLine(path: path, line: i + 1, reason: "expected 'word count' (GloVe's vocab.txt)")
            }
            let token = String(fields[0])
            guard seen.insert(token).inserted else {
                throw CountsFileError.malformedLine(path: path, line: i + 1, reason: "duplicate word '\(token)'")
            }
            tokens.append(token)
            counts.append(count)
        }
        guard !tokens.isEmpty else { throw VocabularyError.empty(reason: "\(path) lists no word") }
        return (tokens, counts)
    }

    /// Features sorted by total count (descending), ties by bytes; `rules` applied to the rounded totals.
    static func vocabulary(_ table: TokenTable, totals: [Double], rules: VocabularyRules, kind: String) throws -> Vocabulary {
        var kept = (0..<table.count).filter { totals[$0] >= Double(rules.minCount) }
        kept.sort { a, b in
            if totals[a] != totals[b] { return totals[a] > totals[b] }
            return table.bytes(of: a).lexicographicallyPrecedes(table.bytes(of: b))
        }
        if let maxSize = rules.maxSize, kept.count > maxSize { kept.removeLast(kept.count - maxSize) }
        guard !kept.isEmpty else {
            throw VocabularyError.empty(reason: "no \(kind) feature has a total count of at least \(rules.minCount) (lower --min-count)")
        }
        return Vocabulary(tokens: kept.map { table.token($0) },
                          counts: kept.map { Int64(min(totals[$0], 9e18).rounded()) })
    }

    /// A table whose ids are the vocabulary's ids.
    static func lookupTable(_ vocabulary: Vocabulary) -> TokenTable {
        var table = TokenTable()
        for token in vocabulary.tokens { var t = token; t.withUTF8 { _ = table.intern(UnsafeRawBufferPointer($0)) } }
        return table
    }

    static func makeCounter(rows: Int, columns: Int, config: PrepConfiguration,
                            temporary: String) throws -> (CooccurrenceCounter, ShardLayout, ShardLayout) {
        let rowLayout = ShardLayout(featureCount: rows, shardSize: config.shardSize)
        let columnLayout = ShardLayout(featureCount: columns, shardSize: config.shardSize)
        var plan = CountingPlan.forMemory(max(32 << 20, config.memoryBytes - (96 << 20)), workers: config.threads,
                                          rows: rows, columns: columns, symmetric: false, temporaryDirectory: temporary)
        if let slots = config.countingTableSlots {
            plan.tableSlots = slots
            plan.memoryRunBytes = 0
        }
        let counter = try CooccurrenceCounter(rows: rowLayout, columns: columnLayout,
                                              scale: CountScale(externalCounts: ()), plan: plan)
        return (counter, rowLayout, columnLayout)
    }

    /// Calls `body(row, column, count, line)` for every line of the files, validating each line.
    static func forEachTriple(files: [String], copyStandardInput: String?,
                              _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, Double, Int) throws -> Void,
                              bytes: (Int64) -> Void) throws {
        let reader = try CorpusChunkReader(inputs: files, copyStandardInput: copyStandardInput)
        var line = 0
        var currentPath = ""
        while let chunk = try reader.next() {
            if chunk.path != currentPath { currentPath = chunk.path; line = 0 }
            try chunk.bytes.withUnsafeBytes { raw in
                var start = 0
                while start < raw.count {
                    let lineStart = start
                    var end = start
                    while end < raw.count && raw[end] != 0x0A { end += 1 }
                    line += 1
                    var text = UnsafeRawBufferPointer(rebasing: raw[start..<end])
                    if text.last == 0x0D { text = UnsafeRawBufferPointer(rebasing: text[0..<(text.count - 1)]) }
                    start = end + 1
                    if text.isEmpty { continue }
                    guard let tab1 = text.firstIndex(of: 0x09) else {
                        throw CountsFileError.malformedLine(path: chunk.path, line: line, reason: "expected row<TAB>column<TAB>count")
                    }
                    let rest = UnsafeRawBufferPointer(rebasing: text[(tab1 + 1)...])
                    guard let tab2 = rest.firstIndex(of: 0x09) else {
                        throw CountsFileError.malformedLine(path: chunk.path, line: line, reason: "expected row<TAB>column<TAB>count")
                    }
                    let row = UnsafeRawBufferPointer(rebasing: text[0..<tab1])
                    let column = UnsafeRawBufferPointer(rebasing: rest[0..<tab2])
                    let countText = String(decoding: UnsafeRawBufferPointer(rebasing: rest[(tab2 + 1)...]), as: UTF8.self)
                    guard !row.isEmpty, !column.isEmpty,
                          !row.contains(where: { $0 == 0x20 }), !column.contains(where: { $0 == 0x20 }) else {
                        throw CountsFileError.malformedLine(path: chunk.path, line: line, reason: "features must be non-empty and hold no spaces")
                    }
                    guard let count = Double(countText), count.isFinite, count >= 0 else {
                        throw CountsFileError.malformedLine(path: chunk.path, line: line, reason: "count '\(countText)' is not a non-negative number")
                    }
                    guard count <= CountScale.maximumCount else {
                        throw CountsFileError.malformedLine(path: chunk.path, line: line, reason: "count \(countText) is above the largest count swivel takes (1e12)")
                    }
                    if let bad = Tokenizer.firstInvalidUTF8(UnsafeRawBufferPointer(rebasing: text[0..<(tab1 + 1 + tab2)])) {
                        throw CorpusError.invalidUTF8(path: chunk.path, byteOffset: Int(chunk.offset) + lineStart + bad)
                    }
                    try body(row, column, count, line)
                }
            }
            bytes(reader.bytesRead)
        }
    }
}
