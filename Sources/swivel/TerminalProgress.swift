import ArgumentParser
import Foundation
import SwivelConcurrency
import SwivelIO

/// Shows progress on standard error: a live line (rate, ETA) on a terminal, nothing in pipes or with --quiet.
final class TerminalProgress: @unchecked Sendable {
    /// Whether progress is shown (stderr is a terminal and --quiet was not given).
    let enabled: Bool
    private let lock = NSLock()
    private var lastPrint: Double = 0
    private var phase = ""
    private var phaseStart: Double = 0
    /// `done` at the phase's first update: the rate counts only work done since (a resumed run starts part way).
    private var phaseStartDone: Double = 0
    private var shown = false

    /// A reporter that prints only when stderr is a terminal and `quiet` is false.
    init(quiet: Bool) {
        enabled = !quiet && isatty(2) != 0
    }

    /// The handler to pass to library code.
    var handler: ProgressHandler {
        { [self] update in self.report(update) }
    }

    private func report(_ update: ProgressUpdate) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let now = monotonicSeconds()
        let phaseKey = update.phase.split(separator: " ").first.map(String.init) ?? update.phase
        if phaseKey != phase {
            phase = phaseKey
            phaseStart = now
            phaseStartDone = update.done
            lastPrint = 0
        }
        let finished = update.total.map { update.done >= $0 } ?? false
        guard now - lastPrint >= 0.1 || finished else { return }
        lastPrint = now
        let elapsed = now - phaseStart
        let rate = elapsed > 0 ? (update.done - phaseStartDone) / elapsed : 0
        var line = "\(update.phase): \(Self.human(update.done))"
        if let total = update.total, total > 0 {
            line += "/\(Self.human(total)) \(update.unit) (\(Int(100 * update.done / total))%)"
        } else {
            line += " \(update.unit)"
        }
        line += ", \(Self.human(rate)) \(update.unit)/s"
        if let total = update.total, rate > 0, update.done < total {
            line += ", ETA \(Self.duration((total - update.done) / rate))"
        }
        if !update.detail.isEmpty { line += ", \(update.detail)" }
        FileHandle.standardError.write(("\r\u{1B}[K" + line).data(using: .utf8)!)
        shown = true
    }

    /// Ends the live line so that later output starts on a fresh line.
    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if shown { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
        shown = false
    }

    static func human(_ x: Double) -> String {
        switch x {
        case 1e9...: return String(format: "%.2fG", x / 1e9)
        case 1e6...: return String(format: "%.2fM", x / 1e6)
        case 1e4...: return String(format: "%.1fk", x / 1e3)
        default: return String(format: "%.0f", x)
        }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}

/// Prints a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write((message + "\n").data(using: .utf8)!)
}

/// Runs a library call, turning its typed errors into one line on stderr and exit status 1.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch {
        printError("swivel: error: \(shorteningLongWords("\(error)"))")
        throw ExitCode(1)
    }
}

/// `message` with every run of non-space characters longer than 160 bytes (a path a user pasted, a
/// generated name) shortened to its first 60 and last 80 bytes, so an error stays one readable line.
func shorteningLongWords(_ message: String) -> String {
    message.split(separator: " ", omittingEmptySubsequences: false).map { displayPath(String($0)) }.joined(separator: " ")
}
