import Foundation
import SwivelIO
import Testing

/// A fresh path in the system's temporary directory.
private func scratch(_ name: String = "") -> String {
    NSTemporaryDirectory() + "swivel-io-\(getpid())-\(UUID().uuidString)" + name
}

@Suite struct OutputDirectoryTests {
    @Test func destinationsAreClassifiedWithoutTouchingThem() throws {
        let directory = scratch()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let file = directory + "/file", fifo = directory + "/fifo", link = directory + "/link", dangling = directory + "/dangling"
        try "x".write(toFile: file, atomically: false, encoding: .utf8)
        #expect(mkfifo(fifo, 0o644) == 0)
        #expect(symlink(file, link) == 0)
        #expect(symlink(directory + "/missing", dangling) == 0)
        #expect(try OutputDestination.of("-") == .standardOutput)
        #expect(try OutputDestination.of(directory + "/new") == .replace(target: directory + "/new"))
        #expect(try OutputDestination.of(file) == .replace(target: file))
        #expect(try OutputDestination.of(link) == .replace(target: URL(fileURLWithPath: file).resolvingSymlinksInPath().path))
        #expect(try OutputDestination.of(fifo) == .writeThrough(path: fifo))
        #expect(try OutputDestination.of("/dev/null") == .writeThrough(path: "/dev/null"))
        #expect(throws: FileError.self) { try OutputDestination.of(directory) }
        #expect(throws: FileError.self) { try OutputDestination.of(dangling) }
        // A FIFO nobody reads is an error at once, not a wait.
        #expect(throws: FileError.cannotOpen(path: fifo, reason: "is a FIFO that nothing reads")) { try AtomicFileWriter(path: fifo) }
    }

    @Test func aSecondLockOnTheSameOutputIsRefusedUntilReleased() throws {
        let output = scratch()
        let first = try OutputLock(output: output)
        #expect(throws: OutputError.inUse(path: output, process: getpid())) { try OutputLock(output: output) }
        first.release()
        #expect(!FileManager.default.fileExists(atPath: first.path))
        let second = try OutputLock(output: output + "/")   // the same output, written with a trailing slash
        #expect(second.path == first.path)
        second.release()
    }

    @Test func stagedDirectorySwapsWholeAndCarriesFilesAndLinks() throws {
        let destination = scratch()
        try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
        try "old".write(toFile: destination + "/data", atomically: false, encoding: .utf8)
        try "mine".write(toFile: destination + "/notes", atomically: false, encoding: .utf8)
        #expect(symlink("notes", destination + "/shortcut") == 0)
        let staged = try StagedDirectory(destination: destination)
        try "new".write(toFile: staged.staging + "/data", atomically: false, encoding: .utf8)
        // Until the commit, the destination is the old directory, whole.
        #expect(try String(contentsOfFile: destination + "/data", encoding: .utf8) == "old")
        try staged.commit()
        #expect(try String(contentsOfFile: destination + "/data", encoding: .utf8) == "new")
        #expect(try String(contentsOfFile: destination + "/notes", encoding: .utf8) == "mine")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: destination + "/shortcut") == "notes")
        #expect(!FileManager.default.fileExists(atPath: staged.staging))
        #expect(try FileManager.default.contentsOfDirectory(atPath: destination).sorted() == ["data", "notes", "shortcut"])

        // A directory of the user's cannot be carried: refused before any work.
        try FileManager.default.createDirectory(atPath: destination + "/keep", withIntermediateDirectories: true)
        #expect(throws: OutputError.foreignFiles(path: destination, names: ["keep"])) {
            try StagedDirectory.checkCarriable(destination, own: ["data"])
        }
        // An abandoned staging directory leaves the destination as it was.
        let abandoned = try StagedDirectory(destination: destination)
        try "other".write(toFile: abandoned.staging + "/data", atomically: false, encoding: .utf8)
        abandoned.abandon()
        #expect(try String(contentsOfFile: destination + "/data", encoding: .utf8) == "new")
        #expect(!FileManager.default.fileExists(atPath: abandoned.staging))
    }

    @Test func pairedFilesNeverMixOldAndNew() throws {
        let data = scratch(".npy")
        try AtomicFileWriter.write("old data", to: data)
        try AtomicFileWriter.write("old words", to: data + ".vocab")
        let newData = try AtomicFileWriter(path: data)
        try newData.write("new data")
        let newWords = try AtomicFileWriter(path: data + ".vocab")
        try newWords.write("new words")
        try AtomicFileWriter.commitPair(data: newData, companion: newWords)
        #expect(try String(contentsOfFile: data, encoding: .utf8) == "new data")
        #expect(try String(contentsOfFile: data + ".vocab", encoding: .utf8) == "new words")
    }

    @Test func walkTakesRegularFilesAndReportsTheRest() throws {
        let root = scratch()
        try FileManager.default.createDirectory(atPath: root + "/b/c", withIntermediateDirectories: true)
        for name in ["a.txt", "b/x.txt", "b/c/y.txt", ".hidden"] { try "t".write(toFile: root + "/" + name, atomically: false, encoding: .utf8) }
        #expect(mkfifo(root + "/pipe", 0o644) == 0)
        #expect(symlink("/dev/zero", root + "/b/zero") == 0)
        #expect(symlink("../..", root + "/b/c/up") == 0)
        #expect(symlink(root + "/a.txt", root + "/link.txt") == 0)
        let walk = try DirectoryWalk(root, excluding: [root + "/b/c"])
        #expect(walk.files == [root + "/a.txt", root + "/b/x.txt", root + "/link.txt"])
        #expect(walk.skipped.map(\.reason) == ["a character device", "a FIFO"])
        let whole = try DirectoryWalk(root)
        #expect(whole.files.contains(root + "/b/c/y.txt"))
        #expect(whole.skipped.contains(DirectoryWalk.Skipped(path: root + "/b/c/up", reason: "a symbolic link loop back to \(root)")))
    }

    @Test func staleTemporariesOfDeadProcessesOnly() throws {
        let directory = scratch()
        try FileManager.default.createDirectory(atPath: directory + "/.swivel-prep-tmp-4194305", withIntermediateDirectories: true)
        for name in [".vocab.txt.tmp-4194305", ".vocab.txt.tmp-\(getpid())", ".model.json.tmp-1", "keep.tmp-4194305"] {
            try "t".write(toFile: directory + "/" + name, atomically: false, encoding: .utf8)
        }
        // pid 4194305 is above Linux's pid_max; pid 1 (init) and this process are alive.
        let removed = FileTree.removeStaleTemporaries(in: directory, prefixes: [".swivel-prep-tmp-"])
        #expect(removed.sorted() == [".swivel-prep-tmp-4194305", ".vocab.txt.tmp-4194305"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
                == [".model.json.tmp-1", ".vocab.txt.tmp-\(getpid())", "keep.tmp-4194305"])
    }

    @Test func memoryBeyondTheMachineIsAnErrorNamingTheOption() {
        #expect(throws: ResourceError.self) { try SystemResources.requireMemory(Int64.max, for: "a test", hint: "lower --block") }
        #expect(SystemResources.bytes(1 << 40, times: 1 << 40) == Int64.max)
        #expect(SystemResources.bytes(3, times: 4) == 12)
        let message = "\(ResourceError.insufficientMemory(purpose: "x", needed: 3 << 30, available: 1 << 30, hint: "lower --dim"))"
        #expect(message == "not enough memory for x: about 3.0 GiB needed, 1.0 GiB available; lower --dim")
    }

    @Test func longPathsAreShortenedInMessages() {
        let long = "/" + String(repeating: "d", count: 300) + "/file.txt"
        let shown = displayPath(long)
        #expect(shown.utf8.count == 143 && shown.hasPrefix("/ddd") && shown.hasSuffix("/file.txt"))
        #expect(displayPath("/short/path") == "/short/path")
    }
}
