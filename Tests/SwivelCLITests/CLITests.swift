import Foundation
import SwivelIO
import SwivelTestSupport
import Testing

/// The `swivel` binary built next to this test bundle.
private let swivel: String = {
    let directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    return directory.appendingPathComponent("swivel").path
}()

/// The repository's Fixtures directory.
private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path

@Suite(.serialized) struct CLITests {
    @Test func versionAndHelp() throws {
        let version = try TemporaryFile.run(swivel, ["--version"])
        #expect(version.status == 0 && version.stdout.hasPrefix("0."))
        for sub in ["prep", "train", "export", "nearest", "eval", "plot", "bench"] {
            let help = try TemporaryFile.run(swivel, [sub, "--help"])
            #expect(help.status == 0)
            #expect(help.stdout.contains("USAGE: swivel \(sub)"))
        }
    }

    @Test func subwordModelAnswersForUnseenWordsAndExportsAFastTextModel() throws {
        let prep = TemporaryFile.path(), model = TemporaryFile.path(), bin = TemporaryFile.path(".bin")
        let p = try TemporaryFile.run(swivel, ["prep", fixtures + "/planted-corpus.txt", "--output", prep,
                                               "--min-count", "1", "--shard-size", "16", "--window", "5", "--quiet"])
        #expect(p.status == 0, "\(p.stderr)")
        let t = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--dim", "16", "--epochs", "20",
                                               "--ensemble", "1", "--subwords", "--min-n", "2", "--max-n", "4",
                                               "--buckets", "5000", "--quiet"])
        #expect(t.status == 0, "\(t.stderr)")
        // g3w9 is not in the vocabulary: its vector comes from its n-grams ("<g3", "g3w", ...), near group 3's.
        let e = try TemporaryFile.run(swivel, ["export", model, "--output", bin, "--format", "fasttext"])
        #expect(e.status == 0 && e.stdout.contains("(fastText .bin)"), "\(e.stderr)")
        for source in [model, bin] {
            let n = try TemporaryFile.run(swivel, ["nearest", source, "g3w9", "--k", "2"])
            #expect(n.status == 0, "\(n.stderr)")
            let neighbours = n.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: " ")[0] }
            #expect(neighbours.count == 2 && neighbours.allSatisfy { $0.hasPrefix("g3w") }, "\(source): \(n.stdout)")
        }
        // eval scores the pairs with an unseen word apart, from the model and from the .bin alike.
        let similarity = try TemporaryFile.write("g1w0\tg1w9\t9\ng1w0\tg5w9\t1\ng2w3\tg2w4\t8\ng2w3\tg6w1\t2\n")
        for source in [model, bin] {
            let ev = try TemporaryFile.run(swivel, ["eval", source, "--similarity", similarity, "--json"])
            #expect(ev.status == 0, "\(ev.stderr)")
            let report = try JSONSerialization.jsonObject(with: Data(ev.stdout.utf8)) as! [String: Any]
            let sim = (report["similarity"] as! [[String: Any]])[0]
            #expect(sim["covered"] as? Int == 2)
            #expect((sim["everyPair"] as? [String: Any])?["covered"] as? Int == 4, "\(ev.stdout)")
            #expect((sim["unseenPairs"] as? [String: Any])?["covered"] as? Int == 2, "\(ev.stdout)")
        }
        // A word list: seen and unseen words, in the list's order.
        let words = try TemporaryFile.write("g3w9\ng1w0\n"), vectors = TemporaryFile.path(".txt")
        let w = try TemporaryFile.run(swivel, ["export", model, "--words", words, "--output", vectors])
        #expect(w.status == 0, "\(w.stderr)")
        let lines = try String(contentsOfFile: vectors, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3 && lines[0] == "2 16" && lines[1].hasPrefix("g3w9 ") && lines[2].hasPrefix("g1w0 "))
    }

    @Test func pipelineEndToEndOnTheFixtureCorpus() throws {
        let prep = TemporaryFile.path(), model = TemporaryFile.path(), vectors = TemporaryFile.path(".txt")
        let p = try TemporaryFile.run(swivel, ["prep", fixtures + "/planted-corpus.txt", "--output", prep,
                                               "--min-count", "1", "--shard-size", "16", "--window", "5"])
        #expect(p.status == 0, "\(p.stderr)")
        #expect(p.stdout.contains("vocabulary 48"))
        let t = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--dim", "16", "--epochs", "40",
                                               "--learning-rate", "0.5", "--seed", "3", "--quiet"])
        #expect(t.status == 0, "\(t.stderr)")
        #expect(t.stdout.contains("train: 48 x 48, dim 16, 40 epochs"))
        let e = try TemporaryFile.run(swivel, ["export", model, "--output", vectors])
        #expect(e.status == 0, "\(e.stderr)")
        let lines = try String(contentsOfFile: vectors, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 49 && lines[0] == "48 16")
        #expect(lines[1].split(separator: " ").count == 17)
        // Words g3w0 ... g3w5 were planted to co-occur: the nearest neighbour of g3w0 is a group mate,
        // both from the model directory and from the exported file.
        for source in [model, vectors] {
            let n = try TemporaryFile.run(swivel, ["nearest", source, "g3w0", "--k", "3"])
            #expect(n.status == 0, "\(n.stderr)")
            let neighbours = n.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: " ")[0] }
            #expect(neighbours.count == 3 && neighbours.allSatisfy { $0.hasPrefix("g3w") }, "\(n.stdout)")
        }
        // Evaluation, plots and formats on the same model.
        let similarity = try TemporaryFile.write("g1w0\tg1w1\t9\ng1w0\tg5w2\t1\ng2w3\tg2w4\t8\ng2w3\tg6w1\t2\nunknown\tg1w1\t5\n")
        let ev = try TemporaryFile.run(swivel, ["eval", model, "--similarity", similarity, "--json"])
        #expect(ev.status == 0, "\(ev.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(ev.stdout.utf8)) as! [String: Any]
        let sim = (report["similarity"] as! [[String: Any]])[0]
        #expect(sim["covered"] as? Int == 4 && sim["pairs"] as? Int == 5)
        #expect((sim["spearman"] as! Double) > 0.7)   // group mates are more similar than strangers
        let svg = TemporaryFile.path(".svg")
        let plot = try TemporaryFile.run(swivel, ["plot", model, "--output", svg, "--top", "48"])
        #expect(plot.status == 0, "\(plot.stderr)")
        let svgText = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(svgText.components(separatedBy: "<circle").count - 1 == 48 && svgText.contains("PC1 ("))
        let curves = try TemporaryFile.run(swivel, ["plot", "--training-log", model, "--output", svg])
        let curvesText = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(curves.status == 0 && curvesText.contains("<polyline"))
        for format in ["word2vec-binary", "glove", "npy", "bin"] {
            let file = TemporaryFile.path("." + format)
            let x = try TemporaryFile.run(swivel, ["export", model, "--output", file, "--format", format])
            #expect(x.status == 0, "\(x.stderr)")
            let n = try TemporaryFile.run(swivel, ["nearest", file, "g3w0", "--k", "3"])
            #expect(n.status == 0 && n.stdout.split(separator: "\n").dropFirst().allSatisfy { $0.contains("g3w") }, "\(format): \(n.stdout)")
        }
        // Refuses to overwrite the model without --force.
        let again = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--epochs", "1", "--quiet"])
        #expect(again.status == 1 && again.stderr.contains("already holds a model"))
    }

    @Test func errorsAreOneClearLine() throws {
        let missing = try TemporaryFile.run(swivel, ["prep", "/nonexistent/corpus.txt", "--output", TemporaryFile.path()])
        #expect(missing.status == 1)
        #expect(missing.stderr == "swivel: error: /nonexistent/corpus.txt: cannot read corpus: No such file or directory\n")
        let badOption = try TemporaryFile.run(swivel, ["prep", "x", "--output", "y", "--window", "0"])
        #expect(badOption.status != 0 && badOption.stderr.contains("--window must be at least 1 (got 0)"))
        let unknown = try TemporaryFile.run(swivel, ["train", "x", "--output", "y", "--bogus"])
        #expect(unknown.status != 0 && unknown.stderr.contains("Unknown option '--bogus'"))
        let notPrep = try TemporaryFile.run(swivel, ["train", TemporaryFile.directory, "--output", TemporaryFile.path(), "--quiet"])
        #expect(notPrep.status == 1 && notPrep.stderr.contains("no manifest.json"))
        let badUTF8 = try TemporaryFile.write([0x61, 0x20, 0xFF, 0x0A])
        let utf8 = try TemporaryFile.run(swivel, ["prep", badUTF8, "--output", TemporaryFile.path()])
        #expect(utf8.status == 1 && utf8.stderr.contains("invalid UTF-8 at byte offset 2"))
    }

    @Test func benchReportsKernelRatesAndFloorShare() throws {
        let r = try TemporaryFile.run(swivel, ["bench", "--block", "64", "--dim", "8", "--repeats", "1", "--threads", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("kernel: ") && r.stdout.contains("sgemm forward") && r.stdout.contains("% of it")
                && r.stdout.contains("loss pass alone 64x64"), "\(r.stdout)")
    }

    @Test func prepReadsStandardInput() throws {
        let prep = TemporaryFile.path()
        let r = try TemporaryFile.run(swivel, ["prep", "-", "--output", prep, "--min-count", "1", "--quiet"],
                                      stdin: "a b c\nb c d\n")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("prep: 6 tokens"))
    }

    @Test func interruptedPrepRemovesWhatItWrote() throws {
        // 3M tokens over 2,048 words in 32 x 32 shards: long enough to be interrupted while it writes shards.
        let lines = GeneratedCorpus.text(lines: 2000, wordsPerLine: 15, seed: 3) { _, draw in "w\(draw >> 20)" }
        let corpus = TemporaryFile.path()
        #expect(FileManager.default.createFile(atPath: corpus, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: corpus))
        for _ in 0..<100 { handle.write(Data(lines.utf8)) }
        try handle.close()
        let output = TemporaryFile.path()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: swivel)
        process.arguments = ["prep", corpus, "--output", output, "--min-count", "1", "--shard-size", "64",
                             "--threads", "1", "--quiet"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Interrupt it once it has written shard files (the last phase, into the staging directory beside the
        // output): they must go too, and the output must never appear.
        let staging = StagedDirectory.stagingPath(for: output)
        let shards = staging + "/shards"
        for _ in 0..<3000 where ((try? FileManager.default.contentsOfDirectory(atPath: shards)) ?? []).isEmpty {
            usleep(5_000)
        }
        let wroteShards = !((try? FileManager.default.contentsOfDirectory(atPath: shards)) ?? []).isEmpty
        let interruptedWhileRunning = process.isRunning
        kill(process.processIdentifier, SIGINT)
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(wroteShards && interruptedWhileRunning, "prep finished before the interrupt: make the corpus longer")
        #expect(process.terminationStatus == 130)
        #expect(message.contains("prep interrupted; the partial prep was removed"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(!FileManager.default.fileExists(atPath: staging))
    }

    @Test func featureCountsTrainRowAndColumnVectorsThatRecoverPlantedGroups() throws {
        // 240 users and 45 items in 3 groups: user u rates items of group u mod 3 (plus 10% noise).
        var state: UInt64 = 5
        func next(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33) % bound
        }
        var lines = ""
        for u in 0..<240 {
            for _ in 0..<25 {
                let item = next(10) == 0 ? next(45) : next(15) * 3 + u % 3
                lines += "user\(u)\titem\(item)\t\(1 + next(3))\n"
            }
        }
        let counts = try TemporaryFile.write(lines)
        let prep = TemporaryFile.path(), model = TemporaryFile.path()
        var r = try TemporaryFile.run(swivel, ["prep", "--counts", counts, "--output", prep, "--shard-size", "32", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("vocabulary 240 rows x 45 columns, 8x2 shards of 32"), "\(r.stdout)")
        r = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--dim", "8", "--epochs", "30", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        // Every item's 5 nearest items are of its group.
        r = try TemporaryFile.run(swivel, ["nearest", model, "--use", "col", "--k", "5", "item0", "item1", "item2"])
        #expect(r.status == 0, "\(r.stderr)")
        var query = -1
        var wrong = 0
        for line in r.stdout.split(separator: "\n") {
            if line.hasPrefix("item") { query = Int(line.dropFirst(4))!; continue }
            let neighbour = Int(line.split(separator: " ")[0].dropFirst(4))!
            if neighbour % 3 != query % 3 { wrong += 1 }
        }
        #expect(wrong == 0, "\(r.stdout)")
        r = try TemporaryFile.run(swivel, ["export", model, "--output", TemporaryFile.path(), "--vectors", "row"])
        #expect(r.status == 0 && r.stdout.contains("240 vectors"), "\(r.stdout)\(r.stderr)")
        r = try TemporaryFile.run(swivel, ["export", model, "--output", TemporaryFile.path()])
        #expect(r.status != 0 && r.stderr.contains("row and column vocabularies differ: use --vectors row or col"))
    }
}
