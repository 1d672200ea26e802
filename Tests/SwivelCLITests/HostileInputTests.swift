import Foundation
import SwivelIO
import SwivelTestSupport
import Testing

/// The `swivel` binary built next to this test bundle.
private let swivel = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    .deletingLastPathComponent().appendingPathComponent("swivel").path

/// A small prep directory and a model trained on it (seed `seed`, 2 epochs, one member, dimension 4).
private func smallModel(seed: Int = 1, prep existing: String? = nil) throws -> (prep: String, model: String) {
    var prep = existing ?? ""
    if existing == nil {
        let corpus = try TemporaryFile.write(String(repeating: "a b c d e f g h i j k l\nb c d a f e h g\n", count: 20))
        prep = TemporaryFile.path()
        let r = try TemporaryFile.run(swivel, ["prep", corpus, "--output", prep, "--min-count", "1", "--shard-size", "8", "--quiet"])
        precondition(r.status == 0, r.stderr)
    }
    let model = TemporaryFile.path()
    let r = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--dim", "4", "--epochs", "2",
                                           "--ensemble", "1", "--seed", String(seed), "--quiet"])
    precondition(r.status == 0, r.stderr)
    return (prep, model)
}

/// One test per class of the hostile-input report: each failed on the code before the fix.
@Suite struct HostileInputTests {
    /// Class 1: a writer never replaces what is not a regular file. A FIFO is written through (its reader gets
    /// the vectors and it stays a FIFO), a symbolic link is followed (the link stays, its file is replaced),
    /// `-` is standard output, a directory is refused.
    @Test func writersNeverReplaceFIFOsLinksOrDevices() throws {
        let (_, model) = try smallModel()
        let fifo = TemporaryFile.path()
        #expect(mkfifo(fifo, 0o644) == 0)
        // A reader on the FIFO, started first: swivel must open the FIFO, not replace it.
        let reader = Process()
        reader.executableURL = URL(fileURLWithPath: "/bin/cat")
        reader.arguments = [fifo]
        let received = Pipe()
        reader.standardOutput = received
        try reader.run()
        let viaFifo = try TemporaryFile.run(swivel, ["export", model, "--output", fifo])
        var info = stat()
        let stillFIFO = lstat(fifo, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO
        // A replaced FIFO is never opened for writing: end its reader instead of waiting for it forever.
        if !stillFIFO { kill(reader.processIdentifier, SIGKILL) }
        let text = String(decoding: received.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        reader.waitUntilExit()
        #expect(stillFIFO, "the FIFO was replaced")
        #expect(viaFifo.status == 0, "\(viaFifo.stderr)")
        #expect(text.hasPrefix("12 4\n"), "the FIFO's reader got: \(text.prefix(40))")

        let target = try TemporaryFile.write("old")
        let link = TemporaryFile.path()
        #expect(symlink(target, link) == 0)
        let viaLink = try TemporaryFile.run(swivel, ["export", model, "--output", link])
        #expect(viaLink.status == 0, "\(viaLink.stderr)")
        #expect(lstat(link, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK, "the link was replaced by a file")
        #expect(try String(contentsOfFile: target, encoding: .utf8).hasPrefix("12 4\n"))

        let toStdout = try TemporaryFile.run(swivel, ["export", model, "--output", "-"])
        #expect(toStdout.status == 0 && toStdout.stdout.hasPrefix("12 4\n") && toStdout.stdout.split(separator: "\n").count == 13,
                "\(toStdout.stdout.prefix(80)) \(toStdout.stderr)")
        let svg = try TemporaryFile.run(swivel, ["plot", model, "--output", "-", "--top", "5"])
        #expect(svg.status == 0 && svg.stdout.hasPrefix("<svg") || svg.stdout.hasPrefix("<?xml"), "\(svg.stderr)")

        let toDirectory = try TemporaryFile.run(swivel, ["export", model, "--output", TemporaryFile.directory])
        #expect(toDirectory.status == 1 && toDirectory.stderr.contains("is a directory"), "\(toDirectory.stderr)")
        let dangling = TemporaryFile.path()
        #expect(symlink(TemporaryFile.path(), dangling) == 0)
        let toDangling = try TemporaryFile.run(swivel, ["export", model, "--output", dangling])
        #expect(toDangling.status == 1 && toDangling.stderr.contains("symbolic link to a missing file"), "\(toDangling.stderr)")
    }

    /// Class 2: a directory walk takes regular files only. A FIFO and a link to /dev/zero inside an input
    /// directory once hung prep; a link back to the directory once looped. They are skipped and reported.
    @Test func directoryWalksSkipFIFOsDevicesAndLoops() throws {
        let corpus = TemporaryFile.path()
        try FileManager.default.createDirectory(atPath: corpus + "/sub", withIntermediateDirectories: true)
        try "a b c a b c\n".write(toFile: corpus + "/one.txt", atomically: true, encoding: .utf8)
        try "b c a b c a\n".write(toFile: corpus + "/sub/two.txt", atomically: true, encoding: .utf8)
        #expect(mkfifo(corpus + "/fifo", 0o644) == 0)
        #expect(symlink("/dev/zero", corpus + "/zero") == 0)
        #expect(symlink("..", corpus + "/sub/loop") == 0)
        let output = TemporaryFile.path()
        let r = try TemporaryFile.run("/usr/bin/timeout", ["60", swivel, "prep", corpus, "--output", output, "--min-count", "1"])
        #expect(r.status == 0, "exit \(r.status) (124: it hung): \(r.stderr)")
        #expect(r.stdout.contains("prep: 12 tokens"), "\(r.stdout)")
        #expect(r.stderr.contains("skipped 3 entries"), "\(r.stderr)")
        // An output directory inside the input directory is not read back as corpus.
        let inside = corpus + "/prep"
        let again = try TemporaryFile.run("/usr/bin/timeout", ["60", swivel, "prep", corpus, "--output", inside, "--min-count", "1"])
        #expect(again.status == 0 && again.stdout.contains("prep: 12 tokens"), "\(again.stdout) \(again.stderr)")
        let forced = try TemporaryFile.run("/usr/bin/timeout", ["60", swivel, "prep", corpus, "--output", inside, "--min-count", "1", "--force"])
        #expect(forced.status == 0 && forced.stdout.contains("prep: 12 tokens"), "\(forced.stdout) \(forced.stderr)")
    }

    /// Class 3: allocations sized by options are checked against the memory available first: a one-line error
    /// naming the bytes and the option, never the allocator's trap (status 134).
    @Test func oversizedAllocationsAreErrorsNotTraps() throws {
        let bench = try TemporaryFile.run(swivel, ["bench", "--block", "10000000"])
        #expect(bench.status == 1 && bench.stderr.contains("not enough memory") && bench.stderr.contains("--block"),
                "exit \(bench.status): \(bench.stderr)")
        // 16,000 distinct words at --dim 100,000: embeddings, optimizer state and their checkpoint copies alone
        // take 4 x 32,000 x 100,000 x 4 bytes = 51 GB, more than this kind of machine has.
        let corpus = try TemporaryFile.write((0..<16_000).map { "w\($0) w\(($0 + 1) % 16_000)" }.joined(separator: "\n") + "\n")
        let prep = TemporaryFile.path()
        let prepared = try TemporaryFile.run(swivel, ["prep", corpus, "--output", prep, "--min-count", "1", "--window", "1",
                                                      "--shard-size", "8192", "--quiet"])
        #expect(prepared.status == 0, "\(prepared.stderr)")
        // (Under a timeout: without the check, the allocations start and the run swaps or is killed.)
        let train = try TemporaryFile.run("/usr/bin/timeout", ["-s", "KILL", "60", swivel, "train", prep, "--output", TemporaryFile.path(),
                                                               "--dim", "100000", "--quiet"])
        #expect(train.status == 1 && train.stderr.contains("not enough memory") && train.stderr.contains("--dim"),
                "exit \(train.status): \(train.stderr)")
    }

    /// Class 4: a run holds its output's lock from start to end; a second run on the same output is refused,
    /// naming the process that holds it.
    @Test func secondRunOnTheSameOutputIsRefused() throws {
        let (prep, model) = try smallModel()
        let lock = try OutputLock(output: model)
        defer { lock.release() }
        let resumed = try TemporaryFile.run(swivel, ["train", "--resume", model, "--quiet"])
        #expect(resumed.status == 1 && resumed.stderr.contains("in use by another swivel run (process \(getpid()))"), "\(resumed.stderr)")
        let forced = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--force", "--quiet"])
        #expect(forced.status == 1 && forced.stderr.contains("in use by another swivel run"), "\(forced.stderr)")
        let prepLock = try OutputLock(output: prep)
        defer { prepLock.release() }
        let corpus = try TemporaryFile.write("a b a b\n")
        let again = try TemporaryFile.run(swivel, ["prep", corpus, "--output", prep, "--force", "--min-count", "1", "--quiet"])
        #expect(again.status == 1 && again.stderr.contains("in use by another swivel run"), "\(again.stderr)")
        #expect(FileManager.default.fileExists(atPath: prep + "/manifest.json"))
    }

    /// Class 5: a model is one unit. A directory mixing the files of two runs is refused by every reader, and a
    /// `prep --force` that fails leaves the old prep complete.
    @Test func mixedModelsAreRefusedAndForceNeverLeavesNothing() throws {
        let (prep, first) = try smallModel(seed: 1)
        let (_, second) = try smallModel(seed: 2, prep: prep)
        try FileManager.default.removeItem(atPath: first + "/col_embeddings.bin")
        try FileManager.default.copyItem(atPath: second + "/col_embeddings.bin", toPath: first + "/col_embeddings.bin")
        for arguments in [["export", first, "--output", TemporaryFile.path()], ["nearest", first, "a"]] {
            let r = try TemporaryFile.run(swivel, arguments)
            #expect(r.status == 1 && r.stderr.contains("mixes files of different runs"), "\(arguments[0]): \(r.stderr)")
        }
        let withoutInfo = try smallModel(seed: 3, prep: prep).model
        try FileManager.default.removeItem(atPath: withoutInfo + "/model.json")
        let incomplete = try TemporaryFile.run(swivel, ["export", withoutInfo, "--output", TemporaryFile.path()])
        #expect(incomplete.status == 1 && incomplete.stderr.contains("not a complete swivel model"), "\(incomplete.stderr)")

        let manifest = try String(contentsOfFile: prep + "/manifest.json", encoding: .utf8)
        let invalid = try TemporaryFile.write(Array("a b\n".utf8) + [0xFF, 0x0A])
        let failed = try TemporaryFile.run(swivel, ["prep", invalid, "--output", prep, "--force", "--min-count", "1", "--quiet"])
        #expect(failed.status == 1, "\(failed.stderr)")
        #expect(try String(contentsOfFile: prep + "/manifest.json", encoding: .utf8) == manifest, "the old prep was touched")
        let retrained = try TemporaryFile.run(swivel, ["train", prep, "--output", TemporaryFile.path(), "--dim", "4",
                                                       "--epochs", "1", "--ensemble", "1", "--quiet"])
        #expect(retrained.status == 0, "the old prep is no longer complete: \(retrained.stderr)")
    }

    /// Weak spots: temporary files of dead processes are removed and named files in the way are listed; a
    /// failed run leaves no empty output directory; a finite loss that explodes is a warning and exit 1.
    @Test func leftoversAreCleanedAndExplodingLossIsAnError() throws {
        let (prep, model) = try smallModel()
        // A dead process's temporary file (pid 2^22 + 1 is above Linux's default pid_max).
        let stale = model + "/.vocab.txt.tmp-4194305"
        try "partial".write(toFile: stale, atomically: false, encoding: .utf8)
        let forced = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--force", "--dim", "4",
                                                    "--epochs", "1", "--ensemble", "1", "--quiet"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(!FileManager.default.fileExists(atPath: stale))

        let corpus = try TemporaryFile.write("a b a b\n")
        let full = try TemporaryFile.run(swivel, ["prep", corpus, "--output", prep, "--min-count", "1", "--quiet"])
        #expect(full.status == 1 && full.stderr.contains("holds col_sums.txt, col_vocab.txt, manifest.json"), "\(full.stderr)")

        let nested = TemporaryFile.path() + "/a/b"
        let failed = try TemporaryFile.run(swivel, ["train", "/no/such/prep", "--output", nested, "--quiet"])
        #expect(failed.status == 1)
        #expect(!FileManager.default.fileExists(atPath: nested) && !FileManager.default.fileExists(atPath: (nested as NSString).deletingLastPathComponent))

        let exploding = try TemporaryFile.run(swivel, ["train", prep, "--output", TemporaryFile.path(), "--dim", "4", "--epochs", "6",
                                                       "--ensemble", "1", "--learning-rate", "1000000", "--quiet"])
        #expect(exploding.status == 1 && (exploding.stderr.contains("training diverged")), "exit \(exploding.status): \(exploding.stderr)")
    }
}
