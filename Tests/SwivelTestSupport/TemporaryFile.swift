import Foundation

/// Files in a per-process temporary directory, for tests.
public enum TemporaryFile {
    /// The directory, created on first use.
    public static let directory: String = {
        let path = NSTemporaryDirectory() + "swivel-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// A fresh path inside the temporary directory.
    public static func path(_ suffix: String = "") -> String { directory + "/" + UUID().uuidString + suffix }

    /// Writes `bytes` to a fresh file and returns its path.
    public static func write(_ bytes: [UInt8], suffix: String = "") throws -> String {
        let p = path(suffix)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    /// Writes `text` to a fresh file and returns its path.
    public static func write(_ text: String, suffix: String = "") throws -> String {
        try write(Array(text.utf8), suffix: suffix)
    }

    /// Runs a program and returns its exit status, standard output and standard error.
    public static func run(_ executable: String, _ arguments: [String], stdin: String? = nil,
                           environment: [String: String]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin.data(using: .utf8)!) }
        try input.fileHandleForWriting.close()
        // Drain stderr on another thread while reading stdout, so a chatty child never blocks on a full pipe.
        let errData = ErrorCollector()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData.data, as: UTF8.self))
    }
}

/// Holds the bytes read from a child's stderr by a background reader (joined with a DispatchGroup).
private final class ErrorCollector: @unchecked Sendable {
    var data = Data()
}

/// Seeded text corpora for tests that run the `swivel` binary.
public enum GeneratedCorpus {
    /// `lines` lines of `wordsPerLine` words; `word(line, draw)` names each word from its line index and a
    /// pseudo-random draw in `0..<2^31` (a 64-bit linear congruential generator started at `seed`).
    public static func text(lines: Int, wordsPerLine: Int, seed: UInt64, word: (Int, Int) -> String) -> String {
        var state = seed
        var text = ""
        for line in 0..<lines {
            var words: [String] = []
            for _ in 0..<wordsPerLine {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                words.append(word(line, Int(state >> 33)))
            }
            text += words.joined(separator: " ") + "\n"
        }
        return text
    }
}
