import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors from reading and writing files; each names the file and says what went wrong.
public enum FileError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened (missing, a directory, no permission); `reason` is the system's message.
    case cannotOpen(path: String, reason: String)
    /// A read or write failed part-way (disk full, I/O error).
    case ioFailed(path: String, reason: String)
    /// The file is not of the expected format, or is damaged.
    case corrupt(path: String, reason: String)
    /// The file system holding `path` has less free space than a step needs.
    case diskFull(path: String, purpose: String, needed: Int64, available: Int64)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "\(path): cannot open: \(reason)"
        case let .ioFailed(path, reason): return "\(path): \(reason)"
        case let .corrupt(path, reason): return "\(path): \(reason)"
        case let .diskFull(path, purpose, needed, available):
            return "\(path): not enough free disk space for \(purpose): about "
                + "\(SystemResources.describe(bytes: needed)) needed, \(SystemResources.describe(bytes: available)) free "
                + "(free some space, or choose another directory)"
        }
    }
}

/// Writes all of `bytes` to `descriptor`, retrying short writes and EINTR; on failure throws
/// `FileError.ioFailed` naming `path`, with `what` before the system's message.
public func writeFully(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String, what: String) throws {
    var offset = 0
    while offset < bytes.count {
        let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
        if written < 0 {
            if errno == EINTR { continue }
            throw FileError.ioFailed(path: path, reason: "\(what): \(systemErrorMessage())")
        }
        offset += written
    }
}

/// The system's message for the current `errno`.
public func systemErrorMessage(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}

/// Writes a file so that readers see either the old file or the complete new one, never a partial one.
///
/// Bytes go to a temporary file beside the destination (`.NAME.tmp-PID`); `commit()` flushes them to disk
/// (fsync) and renames the temporary file over the destination. Dropping the writer without committing
/// removes the temporary file.
public final class AtomicFileWriter {
    /// The destination path.
    public let path: String
    private let temporaryPath: String
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private var committed = false
    private static let bufferLimit = 1 << 20

    /// Opens a temporary file beside `path` for writing.
    public init(path: String) throws {
        self.path = path
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        temporaryPath = "\(directory)/.\(name).tmp-\(getpid())"
        let temporaryPath = self.temporaryPath
        descriptor = FileCreation.gate { open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        guard descriptor >= 0 else {
            throw FileError.cannotOpen(path: path, reason: systemErrorMessage())
        }
        buffer.reserveCapacity(Self.bufferLimit)
    }

    deinit {
        if !committed {
            if descriptor >= 0 { close(descriptor) }
            unlink(temporaryPath)
        }
    }

    /// Appends bytes.
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > Self.bufferLimit { try flushBuffer() }
        if bytes.count >= Self.bufferLimit {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    /// Appends bytes.
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Appends the UTF-8 bytes of `text`.
    public func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Appends the raw little-endian bytes of an array of trivial values (Float, UInt32, ...).
    public func writeRaw<T: BitwiseCopyable>(_ values: [T]) throws {
        try values.withUnsafeBytes { try write($0) }
    }

    /// Flushes, fsyncs and renames the temporary file over the destination.
    public func commit() throws {
        try flushBuffer()
        guard fsync(descriptor) == 0 else { throw FileError.ioFailed(path: path, reason: systemErrorMessage()) }
        guard close(descriptor) == 0 else {
            descriptor = -1
            throw FileError.ioFailed(path: path, reason: systemErrorMessage())
        }
        descriptor = -1
        guard FileCreation.gate({ rename(temporaryPath, path) }) == 0 else {
            throw FileError.ioFailed(path: path, reason: "cannot rename temporary file: \(systemErrorMessage())")
        }
        committed = true
    }

    private func flushBuffer() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        try writeFully(descriptor, bytes, path: path, what: "write failed")
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let writer = try AtomicFileWriter(path: path)
        try writer.write(bytes)
        try writer.commit()
    }

    /// Writes `text` to `path` atomically.
    public static func write(_ text: String, to path: String) throws {
        let writer = try AtomicFileWriter(path: path)
        try writer.write(text)
        try writer.commit()
    }
}

/// Whole-file and streaming reads with errors that name the file.
public enum FileReader {
    /// Reads the whole file at `path` into memory.
    public static func readAll(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: systemErrorMessage()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError.ioFailed(path: path, reason: systemErrorMessage()) }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw FileError.cannotOpen(path: path, reason: "is a directory")
        }
        var result = [UInt8]()
        result.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.ioFailed(path: path, reason: "read failed: \(systemErrorMessage())")
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// Reads the whole file at `path` as UTF-8 text.
    public static func readText(_ path: String) throws -> String {
        let bytes = try readAll(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FileError.corrupt(path: path, reason: "is not valid UTF-8 text")
        }
        return text
    }

    /// Whether `path` names an existing directory.
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether anything exists at `path`.
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// Creates `path` and its parents as needed (like `mkdir -p`).
    public static func createDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if !isDirectory(prefix) {
                let directory = prefix
                if FileCreation.gate({ mkdir(directory, 0o755) }) != 0 && errno != EEXIST {
                    throw FileError.cannotOpen(path: path, reason: "cannot create directory: \(systemErrorMessage())")
                }
            }
            prefix += "/"
        }
    }

    /// Names of the entries of directory `path` (without "." and ".."), sorted.
    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            throw FileError.cannotOpen(path: path, reason: systemErrorMessage())
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

/// Orders this process's file creation against the removal of a partial output on Ctrl-C or SIGTERM.
///
/// Worker threads keep writing while a signal handler removes what a run wrote; a file they create or rename
/// into place after the removal would be left behind. Every creation (`open` with `O_CREAT`, `rename`,
/// `mkdir`) of swivel's outputs and temporary files goes through ``gate(_:)``; a handler calls
/// ``stopForCleanup()`` first, after which no creation starts again (the threads that try wait until the
/// handler ends the process), then removes the files and exits.
public enum FileCreation {
    /// True once ``stopForCleanup()`` ran.
    private static let stopped = Mutex(false)

    /// Runs `body`, a system call that creates or renames a file or directory, unless file creation has
    /// stopped for good: then it waits until the process exits.
    @inline(__always)
    public static func gate<T>(_ body: () -> T) -> T {
        stopped.withLock { stopped in
            while stopped { pause() }
            return body()
        }
    }

    /// Waits for a creation in progress, then stops every later one. The caller must end the process
    /// (`_exit`) once it has cleaned up: threads that try to create a file wait forever.
    public static func stopForCleanup() {
        stopped.withLock { $0 = true }
    }
}
