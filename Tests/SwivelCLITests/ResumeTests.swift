import Foundation
import SwivelTestSupport
import Testing

/// The `swivel` binary built next to this test bundle.
private let swivel = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    .deletingLastPathComponent().appendingPathComponent("swivel").path

/// A prep directory over a generated corpus of 200 words in 5 x 5 blocks.
private func makePrep() throws -> String {
    let text = GeneratedCorpus.text(lines: 3000, wordsPerLine: 12, seed: 77) { line, draw in "w\((line % 20) * 10 + draw % 10)" }
    let corpus = try TemporaryFile.write(text)
    let prep = TemporaryFile.path()
    let r = try TemporaryFile.run(swivel, ["prep", corpus, "--output", prep, "--min-count", "1", "--shard-size", "40", "--quiet"])
    precondition(r.status == 0, r.stderr)
    return prep
}

private func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

@Suite(.serialized) struct ResumeTests {
    static let trainArguments = ["--dim", "24", "--epochs", "400", "--threads", "2", "--seed", "5", "--quiet"]

    @Test func killedRunResumesToTheSameVectors() throws {
        let prep = try makePrep()
        let reference = TemporaryFile.path()
        let started = Date()
        let full = try TemporaryFile.run(swivel, ["train", prep, "--output", reference] + Self.trainArguments)
        #expect(full.status == 0, "\(full.stderr)")
        let fullSeconds = Date().timeIntervalSince(started)

        // The same run, checkpointing every few milliseconds, killed with SIGKILL part-way.
        let model = TemporaryFile.path()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: swivel)
        process.arguments = ["train", prep, "--output", model, "--checkpoint-minutes", "0.0001"] + Self.trainArguments
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let checkpoint = model + "/checkpoint.swvc"
        while !FileManager.default.fileExists(atPath: checkpoint) && process.isRunning { usleep(5_000) }
        usleep(useconds_t(min(0.3, fullSeconds / 3) * 1e6))
        let killedWhileRunning = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(killedWhileRunning, "training finished before the kill (\(fullSeconds) s): make the run longer")
        #expect(!FileManager.default.fileExists(atPath: model + "/model.json"))

        let resumed = try TemporaryFile.run(swivel, ["train", "--resume", model])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming"))
        for file in ["row_embeddings.bin", "col_embeddings.bin"] {
            #expect(try bytes(reference + "/" + file) == bytes(model + "/" + file), "\(file) differs after resume")
        }
    }

    @Test func sigintWritesACheckpointAndSaysHowToResume() throws {
        let prep = try makePrep()
        let model = TemporaryFile.path()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: swivel)
        process.arguments = ["train", prep, "--output", model] + Self.trainArguments.filter { $0 != "--quiet" }
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        usleep(800_000)
        #expect(process.isRunning)
        kill(process.processIdentifier, SIGINT)
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        #expect(message.contains("resume with: swivel train --resume \(model)"), "\(message)")
        #expect(FileManager.default.fileExists(atPath: model + "/checkpoint.swvc"))
        // A plain train into the same directory refuses to clobber the interrupted run.
        let again = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--quiet"])
        #expect(again.status == 1 && again.stderr.contains("interrupted run"))
    }

    @Test func resumeRefusesChangedShardsSettingsAndDamagedCheckpoints() throws {
        let prep = try makePrep()
        let model = TemporaryFile.path()
        let r = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--dim", "8", "--epochs", "2", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let settings = try TemporaryFile.run(swivel, ["train", "--resume", model, "--dim", "16", "--learning-rate", "0.3"])
        #expect(settings.status == 1)
        #expect(settings.stderr.contains("--dim 16 given, the checkpoint has 8") && settings.stderr.contains("--learning-rate 0.3 given"))
        // A finished ensemble (the default: its members are averaged) cannot train longer; a one-member run can.
        let ensemble = try TemporaryFile.run(swivel, ["train", "--resume", model, "--epochs", "3", "--quiet"])
        #expect(ensemble.status == 1 && ensemble.stderr.contains("an ensemble trains longer only while its first member trains"),
                "\(ensemble.stderr)")
        let single = TemporaryFile.path()
        let one = try TemporaryFile.run(swivel, ["train", prep, "--output", single, "--dim", "8", "--epochs", "2",
                                                 "--ensemble", "1", "--quiet"])
        #expect(one.status == 0 && one.stdout.contains("2 epochs in"), "\(one.stderr)")
        let longer = try TemporaryFile.run(swivel, ["train", "--resume", single, "--epochs", "3", "--quiet"])
        #expect(longer.status == 0 && longer.stdout.contains("3 epochs in"), "\(longer.stderr)")
        // Marginals rewritten since the checkpoint change the prep's fingerprint.
        let sums = prep + "/row_sums.txt"
        let original = try String(contentsOfFile: sums, encoding: .utf8)
        var lines = original.split(separator: "\n").map(String.init)
        lines[0] = String(Double(lines[0])! + 1)
        try (lines.joined(separator: "\n") + "\n").write(toFile: sums, atomically: true, encoding: .utf8)
        let changed = try TemporaryFile.run(swivel, ["train", "--resume", single, "--epochs", "4"])
        #expect(changed.status == 1 && changed.stderr.contains("the shards differ"), "\(changed.stderr)")
        try original.write(toFile: sums, atomically: true, encoding: .utf8)
        // A damaged checkpoint is named, never trusted.
        var checkpoint = try bytes(single + "/checkpoint.swvc")
        checkpoint[checkpoint.count / 2] ^= 0x20
        try checkpoint.write(to: URL(fileURLWithPath: single + "/checkpoint.swvc"))
        let damaged = try TemporaryFile.run(swivel, ["train", "--resume", single, "--epochs", "4"])
        #expect(damaged.status == 1 && damaged.stderr.contains("checkpoint.swvc: CRC-32 does not match"), "\(damaged.stderr)")
        let missing = try TemporaryFile.run(swivel, ["train", "--resume", TemporaryFile.path()])
        #expect(missing.status == 1 && missing.stderr.contains("no checkpoint to resume from"))
    }

    @Test func resumeRefusesFewerEpochsThanTrainedAndAnEnsembleCutBelowItsMembers() throws {
        let prep = try makePrep()
        let model = TemporaryFile.path()
        let r = try TemporaryFile.run(swivel, ["train", prep, "--output", model, "--dim", "8", "--epochs", "4",
                                               "--ensemble", "1", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        let info = try bytes(model + "/model.json")
        let fewer = try TemporaryFile.run(swivel, ["train", "--resume", model, "--epochs", "1", "--quiet"])
        #expect(fewer.status == 1, "\(fewer.stdout)\(fewer.stderr)")
        #expect(fewer.stderr == "swivel: error: \(model): --epochs 1 is fewer than the 4 epochs this run has already trained; give --epochs 4 or more\n",
                "\(fewer.stderr)")
        #expect(try bytes(model + "/model.json") == info, "the refused run rewrote model.json")
        // A finished ensemble's checkpoint holds its last member before averaging: fewer members are refused too.
        let ensemble = TemporaryFile.path()
        let e = try TemporaryFile.run(swivel, ["train", prep, "--output", ensemble, "--dim", "8", "--epochs", "1",
                                               "--ensemble", "3", "--quiet"])
        #expect(e.status == 0, "\(e.stderr)")
        let cut = try TemporaryFile.run(swivel, ["train", "--resume", ensemble, "--ensemble", "2", "--quiet"])
        #expect(cut.status == 1 && cut.stderr.contains("--ensemble 2 given, the checkpoint has 3"), "\(cut.stderr)")
    }
}
