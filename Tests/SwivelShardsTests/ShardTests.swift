import Foundation
import SwivelIO
import SwivelTestSupport
import SwivelText
import Testing
@testable import SwivelShards

@Suite struct ShardLayoutTests {
    @Test func everyFeatureHasOneHomeForManySizes() {
        for v in 1...70 {
            for s in 1...(v + 3) {
                let layout = ShardLayout(featureCount: v, shardSize: s)
                var seen = [Bool](repeating: false, count: v)
                var total = 0
                for shard in 0..<layout.shardCount {
                    let size = layout.size(of: shard)
                    #expect(size <= s && size >= 1)
                    total += size
                    for local in 0..<size {
                        let id = layout.featureID(shard: shard, local: local)
                        #expect(id < v && !seen[id])
                        seen[id] = true
                        #expect(layout.shard(of: id) == shard && layout.localIndex(of: id) == local)
                    }
                }
                #expect(total == v, "V=\(v) s=\(s)")
                #expect(layout.shardCount == (v + s - 1) / s)
            }
        }
    }
}

/// A deterministic pseudo-random corpus: `lines` lines, line `i` of `length(i)` tokens, each `word` of the
/// next value of a linear congruential generator seeded with `seed`.
private func generatedText(seed: UInt64, lines: Int, length: (Int) -> Int, word: (UInt64) -> String) -> String {
    var state = seed
    var text = ""
    for line in 0..<lines {
        for _ in 0..<length(line) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            text += word(state) + " "
        }
        text += "\n"
    }
    return text
}

/// Appends `block`'s index section as every format version writes it: per row a varint count of its nonzeros,
/// then the varint gaps between its columns (the first from -1).
private func appendIndex(of block: ShardBlock, to payload: inout ByteWriter) {
    for row in 0..<block.rowCount {
        let start = Int(block.rowStart[row]), end = Int(block.rowStart[row + 1])
        payload.appendVarint(UInt64(end - start))
        var previous: Int32 = -1
        for k in start..<end {
            payload.appendVarint(UInt64(block.columnIndex[k] - previous))
            previous = block.columnIndex[k]
        }
    }
}

/// A shard file written by hand, as a build writing format `version` would: the header of `block`'s shape and
/// nonzero count around `payload`, compressed with zlib.
private func handWrittenShard(version: UInt32, of block: ShardBlock, payload: [UInt8]) throws -> [UInt8] {
    let compressed = try payload.withUnsafeBytes { try Zlib.compress($0, level: 1) }
    var header = ByteWriter()
    header.append(ShardFile.magic)
    for field in [version, UInt32(block.rowShard), UInt32(block.columnShard), UInt32(block.rowCount), UInt32(block.columnCount)] {
        header.append(field)
    }
    for field in [UInt64(block.nonzeroCount), UInt64(payload.count), UInt64(compressed.count)] { header.append(field) }
    header.append(Zlib.crc32(compressed))
    header.append(Zlib.crc32(header.bytes))
    header.append(compressed)
    return header.bytes
}

/// Counts a tiny corpus with the given vocabulary order and returns the dense matrix.
private func denseCounts(_ text: String, vocabulary: [String], window: Int, shardSize: Int, threads: Int,
                         tableSlots: Int = 1 << 16, denseProduct: Int = 0, carrySlotBits: Int = 20) throws -> [[Double]] {
    var corpus = TokenizedCorpus()
    try Tokenizer().tokenize(text, into: &corpus)
    let vocab = Vocabulary(tokens: vocabulary, counts: vocabulary.map { _ in 1 })
    let map = VocabularyBuilder.mapping(from: corpus.table, to: vocab)
    var ids: [Int32] = []
    for id in corpus.ids {
        if id == TokenizedCorpus.lineBreak { ids.append(-1) } else if map[Int(id)] >= 0 { ids.append(map[Int(id)]) }
    }
    let layout = ShardLayout(featureCount: vocabulary.count, shardSize: shardSize)
    let directory = TemporaryFile.path("-counts")
    try FileReader.createDirectory(directory)
    var plan = CountingPlan(workers: threads, tableSlots: tableSlots, denseProduct: denseProduct, temporaryDirectory: directory)
    plan.carrySlotBits = carrySlotBits
    let counter = try CooccurrenceCounter(rows: layout, columns: layout, scale: CountScale(window: window), plan: plan)
    try ids.withUnsafeBufferPointer { try counter.count(ids: $0, options: CountingOptions(window: window)) }
    let result = try counter.finish(writingTo: directory)
    let blocks = try result.shards.map { try ShardFile.read(from: directory + "/" + $0.file) }
    #expect(try FileReader.listDirectory(directory).count == result.shards.count, "no temporary run is left behind")
    var dense = [[Double]](repeating: [Double](repeating: 0, count: vocabulary.count), count: vocabulary.count)
    for block in blocks {
        for l in 0..<block.rowCount {
            for k in Int(block.rowStart[l])..<Int(block.rowStart[l + 1]) {
                let row = layout.featureID(shard: block.rowShard, local: l)
                let column = layout.featureID(shard: block.columnShard, local: Int(block.columnIndex[k]))
                dense[row][column] = Double(block.values[k])
            }
        }
    }
    return dense
}

@Suite struct CooccurrenceTests {
    @Test func handComputedCountsWithWindowEdgesLinesAndOOV() throws {
        // Vocabulary a, b, c; "x" is out of vocabulary and is removed before windowing, so in line 1
        // "a x b c" becomes "a b c". Window 2.
        // line 1: a b c      -> (a,b) d1: 1, (b,c) d1: 1, (a,c) d2: 0.5
        // line 2: c a        -> (c,a) d1: 1   (windows never cross from line 1 to line 2)
        // line 3: a a        -> (a,a) d1: 1 in both directions = 2 on the diagonal
        // diagonal: +1 per token: a 4, b 1, c 2
        let m = try denseCounts("a x b c\nc a\na a", vocabulary: ["a", "b", "c"], window: 2, shardSize: 2, threads: 1)
        let expected: [[Double]] = [
            [4 + 2, 1, 0.5 + 1],
            [1, 1, 1],
            [0.5 + 1, 1, 2],
        ]
        #expect(m == expected)
    }

    @Test func windowLimitsDistance() throws {
        let m = try denseCounts("a b c d", vocabulary: ["a", "b", "c", "d"], window: 2, shardSize: 4, threads: 1)
        #expect(m[0][3] == 0)     // distance 3 > window
        #expect(m[0][2] == 0.5)
        #expect(m[1][3] == 0.5)
        #expect(m[0][1] == 1)
    }

    @Test func countsAreSymmetricAndThreadCountDoesNotChangeThem() throws {
        // A deterministic pseudo-random corpus over 23 words.
        let text = generatedText(seed: 12345, lines: 200, length: { 5 + $0 % 17 }) { "w\(Int($0 >> 33) % 23)" }
        let vocab = (0..<23).map { "w\($0)" }
        let one = try denseCounts(text, vocabulary: vocab, window: 5, shardSize: 4, threads: 1)
        let three = try denseCounts(text, vocabulary: vocab, window: 5, shardSize: 4, threads: 3)
        #expect(one == three)
        for i in 0..<23 { for j in 0..<23 { #expect(one[i][j] == one[j][i]) } }
        // Spilling (64-slot tables spill every 32 cells: over a hundred runs, merged in levels because at most
        // 64 files may be open) and dense regions of any size give the same counts, bit for bit.
        for (threads, dense) in [(1, 0), (2, 7), (4, 23), (3, 100)] {
            let spilled = try denseCounts(text, vocabulary: vocab, window: 5, shardSize: 4, threads: threads,
                                          tableSlots: 64, denseProduct: dense)
            #expect(spilled == one, "threads \(threads), dense \(dense)")
        }
    }

    /// Dense cells hold 32 bits of units; sums past 2^32 carry. A long window (units of 2^-24, 2^24 per pair at
    /// distance 1) overflows an off-diagonal cell after 256 pairs and a diagonal one sooner: the counts must
    /// equal the hash tables' 64-bit sums exactly.
    @Test func denseCellsCarryPast32Bits() throws {
        let text = String(repeating: "a b a a b ", count: 300) + "\nb a\n"
        let tables = try denseCounts(text, vocabulary: ["a", "b"], window: 30, shardSize: 1, threads: 2, denseProduct: 0)
        for (threads, dense) in [(1, 4), (2, 4), (2, 1)] {
            #expect(try denseCounts(text, vocabulary: ["a", "b"], window: 30, shardSize: 1, threads: threads,
                                    denseProduct: dense) == tables, "threads \(threads), dense \(dense)")
        }
        // a and b meet 750 times at distance 1 alone: far past 2^32 units of 2^-24.
        #expect(tables[0][1] > 750 && tables[0][1] == tables[1][0])
        // 300 lines "a b": each of two workers counts 150 (2.5e9 units, under 2^32), their sum passes 2^32 only
        // when the workers' triangles are added.
        let lines = String(repeating: "a b\n", count: 300)
        for threads in [1, 2] {
            let counts = try denseCounts(lines, vocabulary: ["a", "b"], window: 30, shardSize: 1, threads: threads, denseProduct: 4)
            #expect(counts == [[300, 300], [300, 300]], "threads \(threads)")
        }
    }

    /// Windows up to 10 count in 16-bit dense cells (at most 5040 units an addition), which carry past 2^16
    /// units after about 26 pairs: thousands of carries, counted by cell and added to the tables while
    /// counting and at the end, must give the tables' 64-bit sums exactly, for any worker count.
    @Test func narrowDenseCellsCarryPast16Bits() throws {
        #expect(DenseTriangle.cellBytes(largestAddition: 2 * CountScale(window: 10).weights[1]) == 2)
        #expect(DenseTriangle.cellBytes(largestAddition: 2 * CountScale(window: 15).weights[1]) == 4)
        // Skewed: word k about twice as often as word k + 1, so a few cells carry many times.
        let text = generatedText(seed: 99, lines: 400, length: { 20 + $0 % 31 }) {
            "w\(min(7, (Int($0 >> 33) % 511 + 1).leadingZeroBitCount - 55))"
        }
        let vocab = (0..<8).map { "w\($0)" }
        for window in [10, 5] {
            let tables = try denseCounts(text, vocabulary: vocab, window: window, shardSize: 3, threads: 1, denseProduct: 0)
            #expect(tables[0][0] > 1000, "the most frequent pair carries many times")
            for (threads, dense) in [(1, 64), (2, 64), (3, 12), (2, 1)] {
                #expect(try denseCounts(text, vocabulary: vocab, window: window, shardSize: 3, threads: threads,
                                        denseProduct: dense) == tables, "window \(window), threads \(threads), dense \(dense)")
            }
            // Maps of 2 and 8 slots fill while counting: drained into the tables (and other workers' outboxes)
            // mid-batch, over and over.
            for (threads, bits) in [(1, 1), (2, 1), (3, 3)] {
                #expect(try denseCounts(text, vocabulary: vocab, window: window, shardSize: 3, threads: threads,
                                        denseProduct: 64, carrySlotBits: bits) == tables,
                        "window \(window), threads \(threads), carry slots 2^\(bits)")
            }
        }
    }

    /// The memory plan stays within its budget (dense triangles at most a quarter, tables of at most 2^21 slots),
    /// and tables start at full size exactly when tokens x window reaches 8 x slots x workers.
    @Test func countingPlanFitsItsBudgetAndSizesTablesForTheCorpus() {
        for gib in [0.25, 1.0, 4.0, 16.0] {
            let bytes = Int64(gib * Double(1 << 30))
            let plan = CountingPlan.forMemory(bytes, workers: 2, rows: 54_436, columns: 54_436, temporaryDirectory: "/tmp")
            let dense = Int64(CountingPlan.denseCells(product: plan.denseProduct, rows: 54_436, columns: 54_436)) * 4 * 2
            #expect(dense <= bytes / 4, "\(gib) GiB")
            #expect(plan.tableSlots <= 1 << 21 && plan.tableSlots.nonzeroBitCount == 1)
            // A table takes 24 bytes a slot while it doubles; the rest of a worker's share holds its sorted runs.
            #expect(dense + 2 * (Int64(plan.tableSlots) * 24 + plan.memoryRunBytes) <= bytes, "\(gib) GiB")
        }
        var plan = CountingPlan(workers: 2, tableSlots: 1 << 20, denseProduct: 0, temporaryDirectory: "/tmp")
        plan.sizeTables(forTokens: (8 << 20) * 2 / 10 - 1, window: 10)
        #expect(plan.initialTableSlots == 1 << 16)
        plan.sizeTables(forTokens: (8 << 20) * 2 / 10 + 1, window: 10)
        #expect(plan.initialTableSlots == 1 << 20)
    }

    @Test func weightsAreExactUnitsAndLongWindowsStillCount() {
        let scale = CountScale(window: 10)
        #expect(scale.scale == 2520)
        #expect((1...10).allSatisfy { scale.weights[$0] * UInt64($0) == 2520 })
        // 1/3 + 1/3 + 1/3 is exactly 1 in units, whatever the order.
        #expect(scale.float(scale.weights[3] * 3) == 1)
        #expect(CountScale(window: 18).scale == 12_252_240)   // lcm(1...18), exact
        // From window 19 on lcm(1...window) passes 2^24: rounded units, so that the dense region stays usable.
        #expect(CountScale(window: 20).scale == 1 << 24)
        let long = CountScale(window: 40)
        #expect(long.scale == 1 << 24)
        #expect(abs(Double(long.weights[37]) / Double(long.scale) - 1.0 / 37) < 3e-8)
    }

    @Test func radixSortOrdersKeysAndKeepsValues() {
        var state: UInt64 = 99
        var cells: [CountedCell] = (0..<5000).map { i in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return CountedCell(key: state >> UInt64(i % 3 == 0 ? 1 : 30), units: UInt64(i))
        }
        let expected = cells.sorted { $0.key < $1.key }
        var scratch = cells
        let sorted = cells.withUnsafeMutableBufferPointer { c in
            scratch.withUnsafeMutableBufferPointer { s in Array(RadixSort.sort(c, scratch: s)) }
        }
        #expect(sorted.map(\.key) == expected.map(\.key))
        #expect(Set(sorted.map(\.units)) == Set(0..<5000))
        for (a, b) in zip(sorted, expected) where a.key == b.key { #expect(a.units == b.units) }
    }

    @Test func memoryRunsGiveBackTheCellsTheyEncode() throws {
        // Sorted distinct keys with gaps of every varint length and units from 0 to 2^64 - 1.
        var state: UInt64 = 7
        var key: UInt64 = 0
        var cells: [CountedCell] = []
        for i in 0..<3000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            key += 1 + (state >> UInt64(20 + (i % 44)))   // gaps up to 2^44; the last key's gap is about 2^64
            cells.append(CountedCell(key: key, units: i % 97 == 0 ? .max : state >> UInt64(i % 64)))
        }
        cells.append(CountedCell(key: .max, units: 1))
        let run = cells.withUnsafeBufferPointer { MemoryRun($0) }
        #expect(run.byteCount <= cells.count * MemoryRun.maximumBytesPerCell)
        let cursor = CellCursor(run)
        var decoded: [CountedCell] = []
        while let cell = try cursor.peek() {
            decoded.append(cell)
            cursor.advance()
        }
        #expect(decoded == cells)
        let empty = [CountedCell]().withUnsafeBufferPointer { MemoryRun($0) }
        #expect(try CellCursor(empty).peek() == nil)
    }
}

@Suite struct ShardFileTests {
    private func sampleBlock() -> ShardBlock {
        ShardBlock(rowShard: 2, columnShard: 5, rowCount: 4, columnCount: 300,
                   rowStart: [0, 2, 2, 5, 6], columnIndex: [0, 299, 1, 128, 200, 7],
                   values: [1, 0.5, 3.25, 1e6, 0.1, 2])
    }

    @Test func roundTripsThroughAFile() throws {
        let path = TemporaryFile.path(".swvs")
        try ShardFile.write(sampleBlock(), to: path)
        #expect(try ShardFile.read(from: path) == sampleBlock())
    }

    @Test func unitsRoundTripToTheFloatsPrepComputes() throws {
        let scale = CountScale(window: 10)
        let units: [UInt64] = [2520, 1260, 8190, 2_520_000_000_000, 252, 5041]
        var block = sampleBlock()
        block.values = []
        let bytes = try ShardFile.encode(block, units: units, unitsPerCount: scale.scale)
        let decoded = try ShardFile.decode(bytes, path: "u")
        #expect(decoded.values == units.map { scale.float($0) })
        #expect(decoded.columnIndex == block.columnIndex && decoded.rowStart == block.rowStart)
        // Payload: 8-byte field, the coded values (a count, then varints), 4 row counts, 7 bytes of column
        // gaps (299 takes two), then one varint per value: a single co-occurrence (U/d units) is its code, one
        // byte; any other value is units + K.
        func size(_ v: UInt64) -> Int { v < 128 ? 1 : v < 16384 ? 2 : v < 1 << 21 ? 3 : v < 1 << 42 ? 6 : 10 }
        let coded = ShardFile.codedUnits(unitsPerCount: scale.scale)
        let k = UInt64(coded.count)
        let codesSection = size(k) + coded.reduce(0) { $0 + size($1) }
        let values = 1 + 1 + size(8190 + k) + size(2_520_000_000_000 + k) + 1 + size(5041 + k)
        let rawSize = bytes[36..<44].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(rawSize == 8 + codesSection + 4 + 7 + values)
    }

    /// The payload, byte by byte, of a small block: the sections in the documented order.
    @Test func unitsPayloadHasTheDocumentedLayout() throws {
        let scale = CountScale(window: 10)
        let coded = ShardFile.codedUnits(unitsPerCount: scale.scale)
        let k = UInt64(coded.count)
        // Row 0: columns 0 and 3 (U units, code 0; 7 units, uncoded); row 1: none; row 2: column 4 (U/2, code 1).
        let block = ShardBlock(rowShard: 1, columnShard: 0, rowCount: 3, columnCount: 5,
                               rowStart: [0, 2, 2, 3], columnIndex: [0, 3, 4], values: [])
        let bytes = try ShardFile.encode(block, units: [scale.scale, 7, scale.scale / 2], unitsPerCount: scale.scale)
        let compressedSize = bytes[44..<52].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let rawSize = bytes[36..<44].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        let payload = try bytes[60..<(60 + compressedSize)].withUnsafeBytes { try Zlib.decompress($0, size: rawSize) }
        func varint(_ v: UInt64) -> [UInt8] {
            var v = v, out: [UInt8] = []
            while v >= 0x80 { out.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
            return out + [UInt8(v)]
        }
        var expected = withUnsafeBytes(of: scale.scale.littleEndian) { Array($0) }
        expected += varint(k) + coded.flatMap(varint)
        expected += [2, 1, 3] + [0] + [1, 5]                   // index: count, gaps from -1, per row
        expected += [0] + varint(7 + k) + [1]                   // values: codes
        #expect(coded[0] == scale.scale && coded[1] == scale.scale / 2)
        #expect(payload == expected)
    }

    /// One encoder reused block after block (as the counter's merge does) writes what a fresh one writes.
    @Test func reusedEncoderWritesWhatAFreshOneWrites() throws {
        let scale = CountScale(window: 5)
        var encoder = ShardUnitsEncoder(unitsPerCount: scale.scale)
        var state: UInt64 = 3
        for (blockIndex, rows) in [300, 4, 0, 1000, 2].enumerated() {
            var rowStart: [Int32] = [0], columns: [Int32] = [], units: [UInt64] = []
            encoder.beginBlock()
            for _ in 0..<rows {
                encoder.beginRow(maxCells: 500)
                var column = -1
                while true {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    column += 1 + Int(state >> 58)
                    if column >= 500 || state >> 40 & 7 == 0 { break }
                    let u = state >> 33 & 1 == 0 ? scale.weights[1 + Int(state >> 20 & 3)] : 1 + (state >> 20 & 0xffff)
                    encoder.add(column: column, units: u)
                    columns.append(Int32(column))
                    units.append(u)
                }
                encoder.endRow()
                rowStart.append(Int32(columns.count))
            }
            let block = ShardBlock(rowShard: blockIndex, columnShard: 1, rowCount: rows, columnCount: 500,
                                   rowStart: rowStart, columnIndex: columns, values: [])
            let streamed = try encoder.fileBytes(rowShard: blockIndex, columnShard: 1, rows: rows, columns: 500)
            #expect(streamed == (try ShardFile.encode(block, units: units, unitsPerCount: scale.scale)))
            let decoded = try ShardFile.decodeUnits(streamed, path: "r")
            #expect(decoded.block.columnIndex == columns && decoded.units == units && decoded.block.rowStart == rowStart)
        }
    }

    /// Every weight of the windows people use (and the first 64 distances of any) has a one-byte code, so does
    /// every sum of two weights up to distance 10, and the codes are distinct values.
    @Test func singleAndPairCooccurrencesHaveCodes() {
        for window in [1, 2, 5, 10, 15, 20, 40, 64, 100] {
            let scale = CountScale(window: window)
            let coded = ShardFile.codedUnits(unitsPerCount: scale.scale)
            #expect(Set(coded).count == coded.count && coded.count <= 128)
            for d in 1...min(window, 64) { #expect(coded.contains(scale.weights[d]), "window \(window), d \(d)") }
            // Two co-occurrences up to 10 apart have codes too, as long as the 128 codes last.
            if coded.count < 128 {
                for d1 in 1...min(window, 10) {
                    for d2 in d1...min(window, 10) {
                        #expect(coded.contains(scale.weights[d1] + scale.weights[d2]), "window \(window), \(d1) + \(d2)")
                    }
                }
            }
        }
    }

    /// Coded and uncoded values round-trip exactly at every size a varint takes, next to the codes.
    @Test func unitCodesRoundTrip() throws {
        let scale = CountScale(window: 15)
        let coded = ShardFile.codedUnits(unitsPerCount: scale.scale)
        var units: [UInt64] = coded + [1, 2, 127, 128, 16383, 16384, 1 << 40, (1 << 63) - 1]
        units += coded.map { $0 + 1 } + coded.map { $0 - 1 }
        let block = ShardBlock(rowShard: 0, columnShard: 0, rowCount: 1, columnCount: units.count,
                               rowStart: [0, Int32(units.count)], columnIndex: (0..<Int32(units.count)).map { $0 }, values: [])
        let bytes = try ShardFile.encode(block, units: units, unitsPerCount: scale.scale)
        #expect(try ShardFile.decodeUnits(bytes, path: "c").units == units)
        #expect(throws: ShardError.self) {
            try ShardFile.encode(block, units: units.map { _ in 1 << 63 }, unitsPerCount: scale.scale)
        }
    }

    @Test func zeroUnitsAreRejected() throws {
        var block = sampleBlock()
        block.values = []
        let bytes = try ShardFile.encode(block, units: [1, 1, 0, 1, 1, 1], unitsPerCount: 2520)
        #expect(throws: ShardError.inconsistent(path: "z", reason: "count at nonzero 2 is zero")) {
            try ShardFile.decode(bytes, path: "z")
        }
    }

    /// Version 1 files (float32 values, no units field), as earlier builds wrote them, still read.
    @Test func readsVersionOneFiles() throws {
        let block = sampleBlock()
        var payload = ByteWriter()
        appendIndex(of: block, to: &payload)
        block.values.withUnsafeBytes { payload.append(contentsOf: $0) }
        let file = try handWrittenShard(version: 1, of: block, payload: payload.bytes)
        #expect(try ShardFile.decode(file, path: "v1") == block)
        var future = file
        future[8] = 4
        // The version is checked before the header CRC (which the edit also breaks): the error must name it.
        #expect(throws: ShardError.unsupportedVersion(path: "v4", version: 4)) { try ShardFile.decode(future, path: "v4") }
    }

    /// Version 2 files (units as plain varints, no codes section), as swivel 0.1 wrote them before format 3,
    /// still read.
    @Test func readsVersionTwoFiles() throws {
        var block = sampleBlock()
        block.values = []
        let units: [UInt64] = [2520, 1260, 8190, 2_520_000_000_000, 252, 5041]
        var payload = ByteWriter()
        payload.append(UInt64(2520))
        appendIndex(of: block, to: &payload)
        for u in units { payload.appendVarint(u) }
        let file = try handWrittenShard(version: 2, of: block, payload: payload.bytes)
        #expect(try ShardFile.decodeUnits(file, path: "v2").units == units)
    }

    /// Damaged codes sections of version 3 are one-line errors, not traps.
    @Test func damagedCodesSectionsAreRejected() throws {
        let empty = ShardBlock(rowShard: 0, columnShard: 0, rowCount: 1, columnCount: 1, rowStart: [0, 0], columnIndex: [], values: [])
        func file(_ payload: [UInt8]) throws -> [UInt8] { try handWrittenShard(version: 3, of: empty, payload: payload) }
        let units: [UInt8] = [0xC4, 0x09, 0, 0, 0, 0, 0, 0]   // 2520 units per count
        #expect(throws: ShardError.inconsistent(path: "k", reason: "codes section claims 1000 values")) {
            try ShardFile.decode(file(units + [0xE8, 0x07, 1, 0]), path: "k")
        }
        #expect(throws: ShardError.inconsistent(path: "e", reason: "codes section ends early")) {
            try ShardFile.decode(file(units + [2, 0x80, 0x80]), path: "e")
        }
        // The same file with a whole codes section and its one empty row reads.
        #expect(try ShardFile.decode(file(units + [1, 0x80, 0x01, 0]), path: "ok").nonzeroCount == 0)
    }

    @Test func roundTripsEmptyBlocksAndRows() throws {
        let block = ShardBlock(rowShard: 0, columnShard: 0, rowCount: 3, columnCount: 3,
                               rowStart: [0, 0, 0, 0], columnIndex: [], values: [])
        let bytes = try ShardFile.encode(block)
        #expect(try ShardFile.decode(bytes, path: "x") == block)
    }

    @Test func damagedFilesRaiseTypedErrors() throws {
        let good = try ShardFile.encode(sampleBlock())
        var flipped = good
        flipped[good.count - 3] ^= 0x10
        #expect(throws: ShardError.checksumMismatch(path: "f", part: "payload")) { try ShardFile.decode(flipped, path: "f") }
        var header = good
        header[20] ^= 0x01
        #expect(throws: ShardError.checksumMismatch(path: "f", part: "header")) { try ShardFile.decode(header, path: "f") }
        let truncated = Array(good.prefix(good.count - 5))
        #expect(throws: ShardError.truncated(path: "f", expected: good.count, found: good.count - 5)) {
            try ShardFile.decode(truncated, path: "f")
        }
        #expect(throws: ShardError.truncated(path: "f", expected: ShardFile.headerSize, found: 30)) {
            try ShardFile.decode(Array(good.prefix(30)), path: "f")
        }
        var magic = good
        magic[0] = UInt8(ascii: "X")
        #expect(throws: ShardError.badMagic(path: "f")) { try ShardFile.decode(magic, path: "f") }
        #expect(throws: ShardError.badMagic(path: "f")) { try ShardFile.decode(Array("hello world, not a shard at all: long enough to have a header......".utf8), path: "f") }
    }

    @Test func missingFileNamesThePath() throws {
        #expect(throws: FileError.self) { try ShardFile.read(from: "/nonexistent/shard.swvs") }
    }
}

@Suite struct PrepTests {
    @Test func writesAConsistentPrepDirectory() throws {
        let corpus = try TemporaryFile.write("the cat sat on the mat\nthe dog sat on the log\nthe cat and the dog\n")
        let output = TemporaryFile.path()
        var config = PrepConfiguration(inputs: [corpus], output: output)
        config.vocabularyRules = VocabularyRules(minCount: 2)
        config.shardSize = 2
        config.threads = 2
        let summary = try PrepPipeline.run(config)
        let manifest = try Manifest.read(directory: output)
        #expect(manifest == summary.manifest)
        // the:6, cat:2, dog:2, on:2, sat:2
        #expect(manifest.rows == 5 && manifest.rowShards == 3 && manifest.shards.count == 9)
        let vocabulary = try Vocabulary.read(from: output + "/row_vocab.txt")
        #expect(vocabulary.tokens == ["the", "cat", "dog", "on", "sat"])
        let rowSums = try MarginalsFile.read(from: output + "/row_sums.txt", expected: 5)
        let columnSums = try MarginalsFile.read(from: output + "/col_sums.txt", expected: 5)
        // Marginals are the exact sums of the counts (the shards store them rounded to Float).
        var recomputed = [Double](repeating: 0, count: 5)
        var nonzeros = 0
        for entry in manifest.shards {
            let block = try ShardFile.read(from: output + "/shards/" + entry.file)
            nonzeros += block.nonzeroCount
            for l in 0..<block.rowCount {
                for k in Int(block.rowStart[l])..<Int(block.rowStart[l + 1]) {
                    recomputed[manifest.rowLayout.featureID(shard: block.rowShard, local: l)] += Double(block.values[k])
                }
            }
        }
        for (r, exact) in zip(recomputed, rowSums) { #expect(abs(r - exact) <= 1e-6 * exact) }
        let handComputed: [Double] = [56.0 / 3, 22.0 / 3, 20.0 / 3, 23.0 / 3, 8]
        #expect(rowSums == handComputed)
        #expect(rowSums == columnSums)
        #expect(nonzeros == manifest.nonzeros)
        #expect(abs(manifest.total - rowSums.reduce(0, +)) < 1e-12 * manifest.total)
        #expect(manifest.tokens == 17 && manifest.inVocabularyTokens == 14)
    }

    @Test func refusesANonEmptyOutputWithoutForce() throws {
        let corpus = try TemporaryFile.write("a b a b a b a b a b\n")
        let output = TemporaryFile.path()
        var config = PrepConfiguration(inputs: [corpus], output: output)
        _ = try PrepPipeline.run(config)
        #expect(throws: PrepError.outputNotEmpty(path: output, names: ["col_sums.txt", "col_vocab.txt", "manifest.json"])) {
            try PrepPipeline.run(config)
        }
        config.force = true
        _ = try PrepPipeline.run(config)
    }

    @Test func noTokenAboveMinCountIsAClearError() throws {
        let corpus = try TemporaryFile.write("a b c\n")
        let config = PrepConfiguration(inputs: [corpus], output: TemporaryFile.path())
        #expect(throws: VocabularyError.self) { try PrepPipeline.run(config) }
    }

    @Test func emptyCorpusIsAClearError() throws {
        let corpus = try TemporaryFile.write(" \n\n")
        let config = PrepConfiguration(inputs: [corpus], output: TemporaryFile.path())
        #expect(throws: CorpusError.empty(paths: [corpus])) { try PrepPipeline.run(config) }
    }
}
