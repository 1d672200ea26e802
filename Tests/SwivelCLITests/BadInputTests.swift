import Foundation
import SwivelTestSupport
import Testing

/// The `swivel` binary built next to this test bundle.
private let swivel = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    .deletingLastPathComponent().appendingPathComponent("swivel").path

/// Runs swivel and checks the outcome: a non-zero exit and exactly one `swivel: error:` line containing `expected`.
private func expectOneLineError(_ arguments: [String], _ expected: String, status: Int32 = 1,
                                sourceLocation: SourceLocation = #_sourceLocation) throws {
    let r = try TemporaryFile.run(swivel, arguments)
    #expect(r.status == status, "exit \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
    let lines = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("swivel: OpenBLAS chose") }
    #expect(lines.count == 1 && lines[0].contains(expected), "\(r.stderr)", sourceLocation: sourceLocation)
    #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump"), sourceLocation: sourceLocation)
}

/// A small valid corpus and its prep directory.
private func smallPrep(shardSize: Int = 8) throws -> (corpus: String, prep: String) {
    let corpus = try TemporaryFile.write(String(repeating: "a b c d e f g h i j k l\nb c d a f e h g\n", count: 20))
    let prep = TemporaryFile.path()
    let r = try TemporaryFile.run(swivel, ["prep", corpus, "--output", prep, "--min-count", "1",
                                           "--shard-size", String(shardSize), "--quiet"])
    precondition(r.status == 0, r.stderr)
    return (corpus, prep)
}

/// One test per row of the table of bad inputs in docs/bad-input.md.
@Suite struct BadInputTests {
    @Test func nonexistentPath() throws {
        try expectOneLineError(["prep", "/no/such/corpus.txt", "--output", TemporaryFile.path()],
                               "/no/such/corpus.txt: cannot read corpus: No such file or directory")
        try expectOneLineError(["train", "/no/such/prep", "--output", TemporaryFile.path()], "not a swivel prep directory")
        try expectOneLineError(["nearest", "/no/such/vectors.txt", "king"], "/no/such/vectors.txt: cannot open")
    }

    @Test func directoryWhereAFileIsExpected() throws {
        let corpus = try TemporaryFile.write("a b a b a b a b a b\n")
        try expectOneLineError(["prep", corpus, "--vocab", TemporaryFile.directory, "--output", TemporaryFile.path()],
                               "is a directory")
        try expectOneLineError(["eval", TemporaryFile.directory, "--similarity", TemporaryFile.directory],
                               "not a swivel model directory")
    }

    @Test func emptyCorpus() throws {
        let empty = try TemporaryFile.write("")
        try expectOneLineError(["prep", empty, "--output", TemporaryFile.path()], "the corpus holds no tokens")
    }

    @Test func noWordAboveMinCount() throws {
        let corpus = try TemporaryFile.write("a b c\n")
        try expectOneLineError(["prep", corpus, "--output", TemporaryFile.path()],
                               "no token occurs at least 5 times (lower --min-count)")
    }

    @Test func binaryGarbageAndInvalidUTF8() throws {
        var state: UInt64 = 1
        let garbage = (0..<5000).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        let path = try TemporaryFile.write(garbage)
        try expectOneLineError(["prep", path, "--output", TemporaryFile.path()], "invalid UTF-8 at byte offset")
        try expectOneLineError(["nearest", path, "x"], path)
        try expectOneLineError(["train", "--resume", TemporaryFile.directory], "no checkpoint to resume from")
    }

    @Test func hugeLineWithoutNewline() throws {
        // 12 MB in one line (three times the read chunk): read as one line, never a crash.
        let corpus = try TemporaryFile.write(String(repeating: "alpha beta gamma ", count: 700_000))
        let prep = TemporaryFile.path()
        let r = try TemporaryFile.run(swivel, ["prep", corpus, "--output", prep, "--quiet", "--window", "2"])
        #expect(r.status == 0 && r.stdout.contains("prep: 2100000 tokens"), "\(r.stderr)")
    }

    @Test func zeroOrNegativeOptions() throws {
        let (_, prep) = try smallPrep()
        for (arguments, message) in [
            (["prep", "x", "--output", "y", "--window", "0"], "--window must be at least 1 (got 0)"),
            (["prep", "x", "--output", "y", "--shard-size=-3"], "--shard-size must be at least 1 (got -3)"),
            (["prep", "x", "--output", "y", "--min-count", "0"], "--min-count must be at least 1 (got 0)"),
            (["train", prep, "--output", "y", "--dim", "0"], "--dim must be at least 1 (got 0)"),
            (["train", prep, "--output", "y", "--learning-rate=-1"], "--learning-rate must be positive (got -1.0)"),
            (["train", prep, "--output", "y", "--threads", "0"], "--threads must be at least 1 (got 0)"),
            (["nearest", "v", "w", "--k", "0"], "--k must be at least 1 (got 0)"),
        ] {
            let r = try TemporaryFile.run(swivel, arguments)
            #expect(r.status == 64 && r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
    }

    @Test func subwordOptionsAndExports() throws {
        let (_, prep) = try smallPrep()
        for (arguments, message) in [
            (["train", prep, "--output", "y", "--subwords", "--min-n", "5", "--max-n", "3"],
             "--min-n 5 and --max-n 3: need 1 <= min-n <= max-n (or --max-n 0 for no n-grams)"),
            (["train", prep, "--output", "y", "--subwords", "--buckets", "0"], "--buckets 0: must be 1 to 2147483647"),
            (["train", prep, "--output", "y", "--max-n", "4"], "--max-n applies to subword models: add --subwords"),
            (["export", "m", "--output", "o.bin", "--format", "fasttext", "--vectors", "concat"],
             "--format fasttext writes the whole model"),
        ] {
            let r = try TemporaryFile.run(swivel, arguments)
            #expect(r.status == 64 && r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
        // A word-level model: no fastText .bin, and a word list with an unseen word names the list and the word.
        let model = TemporaryFile.path()
        let trained = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--dim", "4", "--epochs", "1",
                                                     "--ensemble", "1", "--quiet"])
        try #require(trained.status == 0, "\(trained.stderr)")
        let output = TemporaryFile.path(".bin")
        try expectOneLineError(["export", model, "--output", output, "--format", "fasttext"],
                               "the fastText format needs a subword model's row or sum vectors (train with --subwords")
        #expect(!FileManager.default.fileExists(atPath: output))
        let words = try TemporaryFile.write("a\nzebra\n")
        try expectOneLineError(["export", model, "--output", output, "--words", words],
                               "\(words): 1 of 2 words are not in the vocabulary (a model trained with --subwords composes unseen words), e.g. 'zebra'")
    }

    @Test func nonFiniteBenchmarkScoresAndUndefinedCorrelations() throws {
        let (_, prep) = try smallPrep()
        let model = TemporaryFile.path()
        let t = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--dim", "4", "--epochs", "2",
                                               "--ensemble", "1", "--quiet"])
        #expect(t.status == 0, "\(t.stderr)")
        let nan = try TemporaryFile.write("a\tb\t9\nking queen nan\n")
        try expectOneLineError(["eval", model, "--similarity", nan], "\(nan):2: score 'nan' is not a finite number")
        // One set with a single covered pair (no correlation), one good set: the good one is still scored.
        let undefined = try TemporaryFile.write("a\tb\t9\na\tnowhere\t3\n")
        let good = try TemporaryFile.write("a\tb\t9\na\tc\t7\nd\te\t3\nf\tg\t1\n")
        let json = try TemporaryFile.run(swivel, ["eval", model, "--similarity", undefined, good, "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let sets = report?["similarity"] as? [[String: Any]] ?? []
        #expect(sets.count == 2, "\(json.stdout)")
        if sets.count == 2 {
            #expect(sets[0]["spearman"] is NSNull && sets[0]["pearson"] is NSNull
                    && sets[0]["undefinedReason"] as? String == "1 pair covered; needs 2", "\(sets[0])")
            #expect(sets[1]["spearman"] is Double && sets[1]["pearson"] is Double && sets[1]["undefinedReason"] == nil
                    && sets[1]["covered"] as? Int == 4, "\(sets[1])")
        }
        let text = try TemporaryFile.run(swivel, ["eval", model, "--similarity", undefined, good])
        let lines = text.stdout.split(separator: "\n")
        #expect(text.status == 0 && lines.count == 2, "\(text.stdout)\(text.stderr)")
        #expect(lines.first?.hasPrefix("\(undefined): spearman undefined (1 pair covered; needs 2)") == true, "\(text.stdout)")
        #expect(lines.last?.hasPrefix("\(good): spearman ") == true && lines.last?.contains("undefined") == false, "\(text.stdout)")
    }

    @Test func negativeNumbersReachValidation() throws {
        // Every option that takes a value, by subcommand: a numeric one maps to the message -5 must give (a
        // seed is unsigned, so the parser itself refuses it), any other to nil. A new option must be added here.
        let invalidSeed = "The value '-5' is invalid for '--seed <seed>'"
        let options: [(command: [String], options: [String: String?])] = [
            (["prep", "x", "--output", "y"], [
                "--output": nil, "--counts": nil, "--glove-cooccurrence": nil, "--glove-vocab": nil, "--vocab": nil,
                "--normalize": nil, "--temp-dir": nil,
                "--min-count": "--min-count must be at least 1 (got -5)",
                "--max-vocab": "--max-vocab must be at least 1 (got -5)",
                "--window": "--window must be at least 1 (got -5)",
                "--subsample": "--subsample must be positive (got -5.0)",
                "--seed": invalidSeed,
                "--shard-size": "--shard-size must be at least 1 (got -5)",
                "--max-token-length": "--max-token-length must be at least 1 (got -5)",
                "--memory": "--memory must be at least 0.0625 GiB (got -5.0)",
                "--threads": "--threads must be at least 1 (got -5)",
            ]),
            (["train", "x", "--output", "y"], [
                "--output": nil, "--resume": nil, "--optimizer": nil, "--eval-similarity": nil, "--eval-analogy": nil,
                "--dim": "--dim must be at least 1 (got -5)",
                "--epochs": "--epochs must be at least 0 (got -5)",
                "--learning-rate": "--learning-rate must be positive (got -5.0)",
                "--initial-accumulator": "--initial-accumulator must be positive (got -5.0)",
                "--momentum": "--momentum must be at least 0 (got -5.0)",
                "--confidence-base": "--confidence-base must be at least 0 (got -5.0)",
                "--confidence-scale": "--confidence-scale must be at least 0 (got -5.0)",
                "--confidence-exponent": "--confidence-exponent must be at least 0 (got -5.0)",
                "--strata": "--strata must be at least 1 (got -5)",
                "--context-smoothing": "--context-smoothing must be positive (got -5.0)",
                "--threads": "--threads must be at least 1 (got -5)",
                "--seed": invalidSeed,
                "--ensemble": "--ensemble must be at least 1 (got -5)",
                "--checkpoint-minutes": "--checkpoint-minutes must be positive (got -5.0)",
                "--eval-every": "--eval-every must be at least 1 (got -5)",
                "--unobserved-cutoff": "--unobserved-cutoff must be at least 0 nats, or 'exact' (got -5.0)",
                "--init": nil, "--subword-sides": nil, "--subword-combination": nil,
                // Without --subwords, the subword options are refused before their values are checked.
                "--min-n": "--min-n applies to subword models: add --subwords",
                "--max-n": "--max-n applies to subword models: add --subwords",
                "--buckets": "--buckets applies to subword models: add --subwords",
                "--subword-learning-rate": "--subword-learning-rate applies to subword models: add --subwords",
                "--subword-own-rate": "--subword-own-rate applies to subword models: add --subwords",
            ]),
            (["eval", "v", "--similarity", "s"], [
                "--similarity": nil, "--analogy": nil, "--vectors": nil, "--frequencies": nil, "--known-words": nil,
                "--restrict": "--restrict must be at least 0 (got -5)",
            ]),
            (["nearest", "v", "w"], ["--vectors": nil, "--k": "--k must be at least 1 (got -5)"]),
            (["plot", "v", "--output", "o.svg"], [
                "--output": nil, "--words": nil, "--vectors": nil, "--training-log": nil,
                "--top": "--top must be at least 2 (got -5)",
            ]),
            (["bench"], [
                "--block": "--block must be at least 8 (got -5)",
                "--dim": "--dim must be at least 1 (got -5)",
                "--threads": "--threads must be at least 1 (got -5)",
                "--density": "--density must be at least 0 (got -5.0)",
                "--repeats": "--repeats must be at least 1 (got -5)",
            ]),
            (["export", "m", "--output", "o"], ["--output": nil, "--format": nil, "--vectors": nil, "--words": nil]),
        ]
        for (command, table) in options {
            // The help lists every option that takes a value as "--name <value>" (or "-o, --name <value>").
            let help = try TemporaryFile.run(swivel, [command[0], "--help"]).stdout
            let listed = Set(help.split(separator: "\n").compactMap { line -> String? in
                let words = line.split(separator: " ")
                guard let at = words.firstIndex(where: { $0.hasPrefix("<") }), at > 0 else { return nil }
                return words[0..<at].map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ",")) }
                    .first { $0.hasPrefix("--") }
            })
            #expect(listed == Set(table.keys), "\(command[0]): options in help \(listed.sorted()), in the table \(table.keys.sorted())")
            for case let (option, message?) in table {
                let r = try TemporaryFile.run(swivel, command + [option, "-5"])
                #expect(r.status == 64 && r.stderr.contains(message) && !r.stderr.contains("Missing value"),
                        "\(command[0]) \(option) -5: exit \(r.status): \(r.stderr)")
            }
        }
    }

    @Test func shardSizeLargerThanTheVocabulary() throws {
        let (_, prep) = try smallPrep(shardSize: 100_000)
        let manifest = try String(contentsOfFile: prep + "/manifest.json", encoding: .utf8)
        #expect(manifest.contains("\"rowShards\" : 1"))
        let model = TemporaryFile.path()
        let r = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--dim", "4", "--epochs", "2", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func outputNotWritableOrHoldingAnotherModel() throws {
        let (corpus, prep) = try smallPrep()
        let file = try TemporaryFile.write("not a directory")
        try expectOneLineError(["prep", corpus, "--output", file + "/prep", "--min-count", "1"], "cannot create directory")
        try expectOneLineError(["prep", corpus, "--output", prep, "--min-count", "1"], "output directory is not empty")
        let model = TemporaryFile.path()
        _ = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--dim", "4", "--epochs", "1", "--quiet"])
        try expectOneLineError(["train", prep, "--output", model, "--dim", "4", "--quiet"], "already holds a model")
        try expectOneLineError(["export", model, "--output", file + "/vectors.txt"], "cannot open")
    }

    @Test func diskFullLeavesNoPartialOutput() throws {
        // An 8 KiB file-size limit makes the first large shard write fail as a full disk would.
        var text = ""
        for i in 0..<20000 { text += "w\(i % 3000) w\((i * 7) % 3000) w\((i * 13) % 3000)\n" }
        let corpus = try TemporaryFile.write(text)
        let prep = TemporaryFile.path()
        let r = try TemporaryFile.run("/bin/bash", ["-c", "ulimit -f 8; exec \"$0\" prep \"$1\" --output \"$2\" --min-count 1 --quiet",
                                                    swivel, corpus, prep])
        #expect(r.status == 1, "\(r.stderr)")
        #expect(r.stderr.contains("File too large"), "\(r.stderr)")
        let left = (try? FileManager.default.contentsOfDirectory(atPath: prep)) ?? []
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test func shardsFromAnotherShardSize() throws {
        // tensorflow/models#1407: shards of one prep mixed into another prep with a different shard size.
        let (corpus, prep) = try smallPrep(shardSize: 4)   // 3 shards of 4 words
        let other = TemporaryFile.path()
        _ = try TemporaryFile.run(swivel, ["prep", corpus, "--output", other, "--min-count", "1", "--shard-size", "6", "--quiet"])   // 2 shards of 6
        let name = "shard-0000-0000.swvs"
        try FileManager.default.removeItem(atPath: prep + "/shards/" + name)
        try FileManager.default.copyItem(atPath: other + "/shards/" + name, toPath: prep + "/shards/" + name)
        try expectOneLineError(["train", prep, "--output", TemporaryFile.path(), "--quiet"], "was it prepared with another shard size?")
    }

    @Test func truncatedOrBitFlippedFiles() throws {
        let (_, prep) = try smallPrep()
        let shard = prep + "/shards/shard-0001-0000.swvs"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: shard))
        try bytes.prefix(bytes.count - 7).write(to: URL(fileURLWithPath: shard))
        try expectOneLineError(["train", prep, "--output", TemporaryFile.path(), "--quiet"], "shard file is truncated")
        var flipped = bytes
        flipped[bytes.count - 3] ^= 1
        try flipped.write(to: URL(fileURLWithPath: shard))
        try expectOneLineError(["train", prep, "--output", TemporaryFile.path(), "--quiet"], "CRC-32 of the payload does not match")
        try "{\"format\": \"swivel-prep\"".write(toFile: prep + "/manifest.json", atomically: true, encoding: .utf8)
        try expectOneLineError(["train", prep, "--output", TemporaryFile.path(), "--quiet"], "not a valid swivel manifest")
    }
}
