import Foundation
import SwivelIO
import SwivelTestSupport
import SwivelText
@testable import SwivelShards
import Testing

/// The whole matrix of a prep directory as `[row token: [column token: count]]`.
private func matrix(_ directory: String) throws -> [String: [String: Float]] {
    let manifest = try Manifest.read(directory: directory)
    let rows = try Vocabulary.read(from: directory + "/row_vocab.txt").tokens
    let columns = try Vocabulary.read(from: directory + "/col_vocab.txt").tokens
    var result: [String: [String: Float]] = [:]
    for entry in manifest.shards {
        let block = try ShardFile.read(from: directory + "/shards/" + entry.file)
        for l in 0..<block.rowCount {
            for k in Int(block.rowStart[l])..<Int(block.rowStart[l + 1]) {
                let r = rows[manifest.rowLayout.featureID(shard: block.rowShard, local: l)]
                let c = columns[manifest.columnLayout.featureID(shard: block.columnShard, local: Int(block.columnIndex[k]))]
                result[r, default: [:]][c] = block.values[k]
            }
        }
    }
    return result
}

@Suite struct CountsImportTests {
    @Test func featureCountsKeepTheirOwnRowAndColumnVocabularies() throws {
        // Totals: rows u1 3.25, u2 1.625, u4 1, u3 0.5 (below min-count 1); columns i1 4.75, i2 1, i9 0.5, i7 0.125.
        let path = try TemporaryFile.write("u1\ti1\t2\nu2\ti1\t1.5\r\nu1\ti2\t1\n\nu1\ti1\t0.25\nu3\ti9\t0.5\nu2\ti7\t0.125\nu4\ti1\t1\nu2\ti2\t0\nu4\ti2\t1e-9")
        var outputs: [[String: [String: Float]]] = []
        for threads in [1, 2] {
            var config = PrepConfiguration(inputs: [path], output: TemporaryFile.path())
            config.vocabularyRules = VocabularyRules(minCount: 1)
            config.shardSize = 2
            config.threads = threads
            config.countingTableSlots = threads == 2 ? 64 : nil   // the second run spills every 32 cells
            let summary = try CountsImport.runTriples(path: path, config: config)
            let m = summary.manifest
            #expect(m.rows == 3 && m.columns == 2 && m.rowShards == 2 && m.columnShards == 1 && m.source == "counts")
            #expect(m.tokens == 9 && m.inVocabularyTokens == 7)
            #expect(try Vocabulary.read(from: config.output + "/row_vocab.txt").tokens == ["u1", "u2", "u4"])
            #expect(try Vocabulary.read(from: config.output + "/col_vocab.txt").tokens == ["i1", "i2"])
            #expect(try MarginalsFile.read(from: config.output + "/row_sums.txt", expected: 3) == [3.25, 1.5, 1])
            #expect(try MarginalsFile.read(from: config.output + "/col_sums.txt", expected: 2) == [4.75, 1])
            outputs.append(try matrix(config.output))
        }
        // Zero counts (and counts below 2^-21, which round to zero) make no cell; shards hold positive counts only.
        #expect(outputs[0] == ["u1": ["i1": 2.25, "i2": 1], "u2": ["i1": 1.5], "u4": ["i1": 1]])
        #expect(outputs[1] == outputs[0])
    }

    @Test func malformedCountLinesNameFileAndLine() throws {
        for (text, reason) in [("a\tb\t1\na\tb\n", ":2: expected row<TAB>column<TAB>count"),
                               ("a\tb\t-1\n", ":1: count '-1' is not a non-negative number"),
                               ("a\tb\tlots\n", ":1: count 'lots' is not a non-negative number"),
                               ("a\tb\t1\n\tb\t1\n", ":2: features must be non-empty")] {
            let path = try TemporaryFile.write(text)
            let config = PrepConfiguration(inputs: [path], output: TemporaryFile.path())
            #expect { try CountsImport.runTriples(path: path, config: config) } throws: { "\($0)" == path + reason || "\($0)".hasPrefix(path + reason) }
            #expect(!FileReader.exists(config.output) && !FileReader.exists(StagedDirectory.stagingPath(for: config.output)))
        }
    }

    @Test func gloveCooccurrenceImportsWithItsVocabulary() throws {
        let vocabulary = try TemporaryFile.write("the 10\ncat 5\nsat 2\n")
        var bytes = ByteWriter()
        for (a, b, v) in [(1, 2, 1.5), (2, 1, 1.5), (1, 1, 0.5), (3, 2, 2.0), (2, 3, 2.0)] as [(Int32, Int32, Double)] {
            bytes.append(a)
            bytes.append(b)
            bytes.append(v.bitPattern)
        }
        let cooccurrence = try TemporaryFile.write(bytes.bytes)
        var config = PrepConfiguration(inputs: [cooccurrence], output: TemporaryFile.path())
        config.vocabularyRules = VocabularyRules(minCount: 1, maxSize: 2)
        config.shardSize = 1
        let summary = try CountsImport.runGlove(cooccurrence: cooccurrence, vocabularyPath: vocabulary, config: config)
        #expect(summary.manifest.rows == 2 && summary.manifest.columns == 2 && summary.manifest.shards.count == 4)
        // "sat" is cut by --max-vocab 2, so its records are dropped.
        #expect(try matrix(config.output) == ["the": ["cat": 1.5, "the": 0.5], "cat": ["the": 1.5]])

        let broken = try TemporaryFile.write(Array(bytes.bytes.dropLast(3)))
        config.output = TemporaryFile.path()
        #expect { try CountsImport.runGlove(cooccurrence: broken, vocabularyPath: vocabulary, config: config) } throws: {
            "\($0)".contains("is not a multiple of 16 bytes")
        }
        let shortVocabulary = try TemporaryFile.write("the 10\ncat 5\n")
        #expect { try CountsImport.runGlove(cooccurrence: cooccurrence, vocabularyPath: shortVocabulary, config: config) } throws: {
            "\($0)".contains("record 3 has word ids (3, 2) outside 1...2")
        }
    }

    @Test func zeroUnitsNeverBecomeStoredCells() throws {
        // One row, 20 columns in one shard, every cell in the hash table: a zero add must leave no cell.
        let directory = TemporaryFile.path("-zero")
        try FileReader.createDirectory(directory)
        let rows = ShardLayout(featureCount: 1, shardSize: 32), columns = ShardLayout(featureCount: 20, shardSize: 32)
        let plan = CountingPlan(workers: 1, tableSlots: 64, denseProduct: 0, temporaryDirectory: directory)
        let counter = try CooccurrenceCounter(rows: rows, columns: columns, scale: CountScale(externalCounts: ()), plan: plan)
        try counter.add(row: 0, column: 5, units: 0)
        try counter.add(row: 0, column: 7, units: 1 << 20)
        let result = try counter.finish(writingTo: directory)
        let block = try ShardFile.read(from: directory + "/" + result.shards[0].file)
        #expect(block.columnIndex == [7] && block.values == [1])
    }
}
