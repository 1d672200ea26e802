#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an output file's bytes go, decided from what is at its path before anything is written.
///
/// A path names a regular file (or nothing yet): the file is replaced atomically. A symbolic link is followed:
/// the file it points to is replaced and the link stays a link. An existing FIFO or character device (a pipe,
/// `/dev/null`, a terminal) and a link to an open descriptor (`/dev/stdout`, `/dev/fd/N`) are opened and
/// written through, never replaced. `-` is standard output. Directories, block devices, sockets and links to
/// nothing are refused with a message.
public enum OutputDestination: Equatable, Sendable {
    /// Standard output (the path `-`).
    case standardOutput
    /// An existing FIFO or character device, written in place.
    case writeThrough(path: String)
    /// A regular file to create or replace atomically: `target` is the path with symbolic links resolved.
    case replace(target: String)

    /// Classifies `path`; throws ``FileError/cannotOpen(path:reason:)`` for destinations that cannot be written
    /// without destroying something else.
    public static func of(_ path: String) throws -> OutputDestination {
        if path == "-" { return .standardOutput }
        var link = stat()
        guard lstat(path, &link) == 0 else {
            if errno == ENOENT { return .replace(target: path) }
            throw FileError.cannotOpen(path: path, reason: systemErrorMessage())
        }
        var info = link
        var target = path
        if (link.st_mode & S_IFMT) == S_IFLNK {
            // `/dev/stdout`, `/dev/fd/N` and the like name an open descriptor: write through it, whatever it is
            // (a file opened with `>>` must be appended to, not replaced).
            var linkText = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(path, &linkText, linkText.count - 1)
            if length > 0, String(decoding: linkText[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self).hasPrefix("/proc/") {
                return .writeThrough(path: path)
            }
            guard stat(path, &info) == 0 else {
                throw FileError.cannotOpen(path: path, reason: errno == ELOOP
                    ? "is a loop of symbolic links" : "is a symbolic link to a missing file; remove the link or point it at a file")
            }
            if (info.st_mode & S_IFMT) == S_IFREG {
                guard let resolved = realpath(path, nil) else {
                    throw FileError.cannotOpen(path: path, reason: "cannot resolve the symbolic link: \(systemErrorMessage())")
                }
                target = String(cString: resolved)
                free(resolved)
            }
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .replace(target: target)
        case S_IFIFO, S_IFCHR: return .writeThrough(path: path)
        case S_IFDIR: throw FileError.cannotOpen(path: path, reason: "is a directory; give a file name")
        case S_IFBLK: throw FileError.cannotOpen(path: path, reason: "is a block device; swivel does not write to block devices")
        case S_IFSOCK: throw FileError.cannotOpen(path: path, reason: "is a socket; swivel writes regular files, pipes and character devices")
        default: throw FileError.cannotOpen(path: path, reason: "is not a regular file")
        }
    }
}

/// Writes a file so that readers see either the old file or the complete new one, never a partial one.
///
/// For a regular destination, bytes go to a temporary file beside it (`.NAME.tmp-PID`, beside the file a
/// symbolic link points to); `commit()` flushes them to disk (fsync) and renames the temporary file over the
/// destination. Dropping the writer without committing removes the temporary file. Standard output (`-`) and
/// existing FIFOs and character devices are written through instead (see ``OutputDestination``).
public final class AtomicFileWriter {
    /// The destination path as given.
    public let path: String
    /// What the path named when the writer opened it.
    public let destination: OutputDestination
    /// The temporary file renamed over the destination at commit (nil when written through).
    private let temporaryPath: String?
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private var committed = false
    private static let bufferLimit = 1 << 20

    /// The prefix of a temporary file beside `name` (the process id follows).
    public static func temporaryPrefix(of name: String) -> String { ".\(name).tmp-" }

    /// Opens `path` for writing: a temporary file beside a regular destination, or the FIFO, device or
    /// standard output itself. A FIFO with no reader is an error, not a wait.
    public init(path: String) throws {
        self.path = path
        destination = try OutputDestination.of(path)
        switch destination {
        case .standardOutput:
            temporaryPath = nil
            descriptor = STDOUT_FILENO
        case let .writeThrough(device):
            temporaryPath = nil
            // A regular file behind a descriptor link (`> file`, `>> file`) is appended to, after what is there.
            var info = stat()
            let append = stat(device, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG ? O_APPEND : 0
            let fd = open(device, O_WRONLY | O_NONBLOCK | O_CLOEXEC | append)
            guard fd >= 0 else {
                throw FileError.cannotOpen(path: path, reason: errno == ENXIO ? "is a FIFO that nothing reads" : systemErrorMessage())
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            descriptor = fd
        case let .replace(target):
            let slash = target.lastIndex(of: "/")
            let directory = slash.map { String(target[..<$0]) } ?? "."
            let name = slash.map { String(target[target.index(after: $0)...]) } ?? target
            let temporary = "\(directory.isEmpty ? "" : directory)/\(Self.temporaryPrefix(of: name))\(getpid())"
            temporaryPath = temporary
            descriptor = FileCreation.gate { open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
            guard descriptor >= 0 else {
                throw FileError.cannotOpen(path: path, reason: systemErrorMessage())
            }
        }
        buffer.reserveCapacity(Self.bufferLimit)
    }

    deinit {
        if !committed {
            if descriptor > STDERR_FILENO { close(descriptor) }
            if let temporaryPath { unlink(temporaryPath) }
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

    /// Flushes the bytes; for a regular destination, fsyncs and renames the temporary file over it.
    public func commit() throws {
        try sync()
        try publish()
    }

    /// Writes two files that belong together (vectors and their `.vocab`) so that a reader never pairs a new
    /// one with an old one: both are synced, the old `data` file is removed, then `companion` and `data` are
    /// renamed into place in that order. A kill in between leaves `data` missing (an error on reading),
    /// never a mismatched pair.
    public static func commitPair(data: AtomicFileWriter, companion: AtomicFileWriter) throws {
        try data.sync()
        try companion.sync()
        if case let .replace(target) = data.destination { unlink(target) }
        try companion.publish()
        try data.publish()
    }

    /// Flushes the buffer and, for a regular destination, fsyncs and closes the temporary file.
    private func sync() throws {
        try flushBuffer()
        guard temporaryPath != nil, descriptor >= 0 else { return }
        guard fsync(descriptor) == 0 else { throw FileError.ioFailed(path: path, reason: systemErrorMessage()) }
        guard close(descriptor) == 0 else {
            descriptor = -1
            throw FileError.ioFailed(path: path, reason: systemErrorMessage())
        }
        descriptor = -1
    }

    /// Renames the synced temporary file over the destination (closes a written-through one).
    private func publish() throws {
        guard let temporaryPath else {
            if descriptor > STDERR_FILENO { close(descriptor) }
            descriptor = -1
            committed = true
            return
        }
        guard case let .replace(target) = destination,
              FileCreation.gate({ rename(temporaryPath, target) }) == 0 else {
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
