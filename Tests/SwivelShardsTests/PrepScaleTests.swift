import Foundation
import SwivelIO
import SwivelTestSupport
import SwivelText
@testable import SwivelShards
import Testing

/// Every file of a prep directory except the manifest (which records the inputs as given), by name.
private func outputs(_ directory: String) throws -> [String: [UInt8]] {
    var files: [String: [UInt8]] = [:]
    for name in try FileReader.listDirectory(directory) where name != "manifest.json" && name != "shards" {
        files[name] = try FileReader.readAll(directory + "/" + name)
    }
    for name in try FileReader.listDirectory(directory + "/shards") {
        files["shards/" + name] = try FileReader.readAll(directory + "/shards/" + name)
    }
    return files
}

/// A Zipf-like pseudo-random corpus: `lines` lines over `words` words.
private func zipfText(lines: Int, words: Int, seed: UInt64) -> [String] {
    var state = seed
    return (0..<lines).map { line in
        var text = ""
        for _ in 0..<(3 + line % 29) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let u = Double(state >> 11) / Double(1 << 53)
            text += "w\(Int(pow(Double(words), u)) - 1) "
        }
        return text
    }
}

@Suite struct PrepScaleTests {
    @Test func threadsMemoryLimitsAndSecondPassGiveIdenticalShards() throws {
        // Three files in a nested directory, one empty and one without a final line feed.
        let root = TemporaryFile.path("-corpus")
        try FileManager.default.createDirectory(atPath: root + "/part", withIntermediateDirectories: true)
        let text = zipfText(lines: 500, words: 300, seed: 7)
        try (text[0..<200].joined(separator: "\n") + "\n").write(toFile: root + "/a.txt", atomically: false, encoding: .utf8)
        try "".write(toFile: root + "/empty.txt", atomically: false, encoding: .utf8)
        try text[200...].joined(separator: "\n").write(toFile: root + "/part/b.txt", atomically: false, encoding: .utf8)

        func prep(threads: Int, tableSlots: Int? = nil, dense: Int? = nil, secondPass: Bool = false) throws -> [String: [UInt8]] {
            var config = PrepConfiguration(inputs: [root], output: TemporaryFile.path())
            config.vocabularyRules = VocabularyRules(minCount: 2)
            config.shardSize = 40
            config.threads = threads
            config.countingTableSlots = tableSlots
            config.denseProduct = dense
            config.forceSecondPass = secondPass
            let summary = try PrepPipeline.run(config)
            if tableSlots != nil { #expect(summary.spilledRuns > 64, "the tiny table spills often") }
            #expect(summary.rereadCorpus == secondPass)
            let names = try FileReader.listDirectory(config.output)
            #expect(!names.contains { $0.hasPrefix(".") }, "no temporary file or directory is left: \(names)")
            return try outputs(config.output)
        }
        let baseline = try prep(threads: 1)
        let features = String(decoding: try #require(baseline["row_vocab.txt"]), as: UTF8.self).split(separator: "\n").count
        let shards = (features + 39) / 40
        #expect(shards >= 4 && baseline.count == 4 + shards * shards, "vocabularies, marginals and every shard")
        #expect(try prep(threads: 2) == baseline)
        #expect(try prep(threads: 4) == baseline)
        // Spilling to disk every 32 cells (hundreds of runs, multi-level merges), with and without a dense region.
        #expect(try prep(threads: 2, tableSlots: 64, dense: 0, secondPass: true) == baseline)
        #expect(try prep(threads: 3, tableSlots: 64, dense: 5000) == baseline)
    }

    @Test func aDirectoryOfThousandsOfFilesEqualsTheirConcatenation() throws {
        let root = TemporaryFile.path("-many")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let text = zipfText(lines: 2000, words: 100, seed: 11)
        for (i, line) in text.enumerated() {
            // Zero-padded names so that name order is line order; every other file lacks its final newline.
            try (line + (i % 2 == 0 ? "\n" : "")).write(toFile: root + String(format: "/%05d.txt", i), atomically: false, encoding: .utf8)
        }
        let single = try TemporaryFile.write(text.joined(separator: "\n") + "\n")
        func prep(_ input: String) throws -> [String: [UInt8]] {
            var config = PrepConfiguration(inputs: [input], output: TemporaryFile.path())
            config.shardSize = 8
            config.threads = 2
            _ = try PrepPipeline.run(config)
            return try outputs(config.output)
        }
        #expect(try prep(root) == prep(single))
    }

    @Test func badInputsGiveClearErrorsAndLeaveNothingBehind() throws {
        let good = try TemporaryFile.write(String(repeating: "a b c d\n", count: 50))
        let invalid = try TemporaryFile.write(Array("a b c\nd e \u{00E9}".utf8) + [0xFF, 0x0A])
        let plain = try TemporaryFile.write(zipfText(lines: 20000, words: 5000, seed: 3).joined(separator: "\n"))
        let gz = plain + ".gz"
        _ = try TemporaryFile.run("/bin/sh", ["-c", "gzip -c '\(plain)' > '\(gz).full' && head -c $(( $(stat -c %s '\(gz).full') / 2 )) '\(gz).full' > '\(gz)'"])
        for (inputs, expected) in [([good, invalid], "\(invalid): invalid UTF-8 at byte offset 12"),
                                   ([good, gz], "\(gz): cannot read corpus:")] {
            let output = TemporaryFile.path()
            var config = PrepConfiguration(inputs: inputs, output: output)
            config.threads = 2
            #expect {
                try PrepPipeline.run(config)
            } throws: { error in
                "\(error)".hasPrefix(expected) && !"\(error)".contains("\n")
            }
            #expect(!FileReader.exists(output) && !FileReader.exists(StagedDirectory.stagingPath(for: output)),
                    "a failed prep leaves nothing behind")
        }
    }

    @Test func aFiftyMegabyteLineWithoutNewlineIsReadInOnePiece() throws {
        // One 50 MB token (a pasted blob) between words, no final newline: dropped by --max-token-length.
        var bytes = Array("start of the line ".utf8)
        bytes += [UInt8](repeating: 0x78, count: 50 << 20)
        bytes += Array(" end of the line".utf8)
        let path = try TemporaryFile.write(bytes)
        var config = PrepConfiguration(inputs: [path], output: TemporaryFile.path())
        config.vocabularyRules = VocabularyRules(minCount: 1)
        config.tokenizer = TokenizerOptions(maxTokenLength: 100)
        config.threads = 2
        let summary = try PrepPipeline.run(config)
        #expect(summary.manifest.tokens == 8 && summary.manifest.rows == 5)   // start of the line end (+ of the line)
        #expect(summary.bytes == Int64(bytes.count))
    }

    @Test func subsamplingIsDeterministicAndThinsOnlyFrequentWords() throws {
        let path = try TemporaryFile.write(zipfText(lines: 400, words: 200, seed: 5).joined(separator: "\n"))
        func prep(threads: Int, subsample: Double?, secondPass: Bool = false) throws -> String {
            var config = PrepConfiguration(inputs: [path], output: TemporaryFile.path())
            config.vocabularyRules = VocabularyRules(minCount: 1)
            config.counting = CountingOptions(window: 5, subsample: subsample, seed: 9)
            config.threads = threads
            config.forceSecondPass = secondPass
            _ = try PrepPipeline.run(config)
            return config.output
        }
        let plain = try prep(threads: 1, subsample: nil)
        let thinned = try prep(threads: 1, subsample: 0.01)
        #expect(try outputs(prep(threads: 2, subsample: 0.01)) == outputs(thinned))
        #expect(try outputs(prep(threads: 3, subsample: 0.01, secondPass: true)) == outputs(thinned))
        // The vocabulary and its counts come from every occurrence; the co-occurrences of frequent words shrink.
        let vocabulary = try Vocabulary.read(from: thinned + "/row_vocab.txt")
        #expect(vocabulary == (try Vocabulary.read(from: plain + "/row_vocab.txt")))
        let total = Double(vocabulary.counts.reduce(0, +))
        let before = try MarginalsFile.read(from: plain + "/row_sums.txt", expected: vocabulary.count)
        let after = try MarginalsFile.read(from: thinned + "/row_sums.txt", expected: vocabulary.count)
        let top = 0
        let keep = min(1, (0.01 * total / Double(vocabulary.counts[top])).squareRoot() + 0.01 * total / Double(vocabulary.counts[top]))
        #expect(keep < 0.6 && after[top] < before[top] * (keep + 0.15), "the most frequent word keeps about \(keep) of its occurrences")
        #expect(after.reduce(0, +) < before.reduce(0, +))
    }
}

/// `mpirun -np p swivel prep` with threads standing in for ranks: each rank tokenizes and counts its share
/// of the chunks (one per file here), the owners of the row shards sum and write the blocks.
@Suite struct PrepAcrossRanksTests {
    @Test func ranksWriteTheSingleProcessPrepByteForByte() throws {
        // Seven files (so seven chunks, dealt round-robin to the ranks), one empty.
        let root = TemporaryFile.path("-ranks-corpus")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let text = zipfText(lines: 700, words: 400, seed: 11)
        for f in 0..<7 {
            let lines = f == 3 ? [] : text[(f * 100)..<((f + 1) * 100)]
            try (lines.joined(separator: "\n") + "\n").write(toFile: root + "/part-\(f).txt", atomically: false, encoding: .utf8)
        }
        func configuration(threads: Int, subsample: Double?) -> PrepConfiguration {
            var config = PrepConfiguration(inputs: [root], output: TemporaryFile.path())
            config.vocabularyRules = VocabularyRules(minCount: 2)
            config.shardSize = 50
            config.threads = threads
            config.counting = CountingOptions(window: 5, subsample: subsample, seed: 3)
            return config
        }
        for subsample in [nil, 0.01] {
            let single = configuration(threads: 1, subsample: subsample)
            let summary = try PrepPipeline.run(single)
            let expected = try outputs(single.output)
            let manifest = try FileReader.readAll(single.output + "/manifest.json")
            // The last case makes every send wait until its receiver takes it, with 1 byte of budget: each rank
            // then waits for each block it sends before going on, which deadlocks unless the exchange order is right.
            for (p, threads, secondPass, rendezvous) in [(2, 2, false, false), (3, 1, true, false), (3, 2, false, true)] {
                var config = configuration(threads: threads, subsample: subsample)
                config.forceSecondPass = secondPass
                if rendezvous { config.rankSendBudgetBytes = 1 }
                let ranks = ThreadRanks(size: p, rendezvousSends: rendezvous)
                let shared = config
                let results = ranks.run { rank in try PrepPipeline.runAsRank(shared, ranks: rank) }
                for result in results {
                    let rankSummary = try result.get()
                    #expect(rankSummary.manifest == summary.manifest)
                }
                #expect(try outputs(config.output) == expected, "p \(p), subsample \(String(describing: subsample))")
                #expect(try FileReader.readAll(config.output + "/manifest.json") == manifest)
                let names = try FileReader.listDirectory(config.output)
                #expect(!names.contains { $0.hasPrefix(".") }, "no temporary directory is left: \(names)")
            }
        }
    }

    @Test func ranksThatReadDifferentInputsAllStopWithOneError() throws {
        let root = TemporaryFile.path("-ranks-a")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try "a b c\nb c d\n".write(toFile: root + "/one.txt", atomically: false, encoding: .utf8)
        let other = TemporaryFile.path("-ranks-b")
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try "a b c\nb c d\n".write(toFile: other + "/one.txt", atomically: false, encoding: .utf8)
        try "c d e\n".write(toFile: other + "/two.txt", atomically: false, encoding: .utf8)
        let output = TemporaryFile.path()
        let results = ThreadRanks(size: 2).run { rank in
            var config = PrepConfiguration(inputs: [rank.rank == 0 ? root : other], output: output)
            config.vocabularyRules = VocabularyRules(minCount: 1)
            return try PrepPipeline.runAsRank(config, ranks: rank)
        }
        for result in results {
            #expect(throws: (any Error).self) { try result.get() }
            if case let .failure(error) = result {
                #expect("\(error)".contains("every rank must see the same input files"), "\(error)")
            }
        }
        #expect(!FileReader.exists(output + "/manifest.json"))
    }
}
