import CLinuxFiles
#if canImport(Glibc)
import Glibc
#endif

/// Why an output cannot be written as asked.
public enum OutputError: Error, CustomStringConvertible, Equatable {
    /// Another process holds the output's lock (its process id, when the lock file names one).
    case inUse(path: String, process: Int32?)
    /// `--force` would delete files that swivel did not write (the first few names).
    case foreignFiles(path: String, names: [String])

    /// A one-line message saying what to do.
    public var description: String {
        switch self {
        case let .inUse(path, process):
            return "\(displayPath(path)): in use by another swivel run\(process.map { " (process \($0))" } ?? ""); "
                + "wait for it to finish, or choose another output"
        case let .foreignFiles(path, names):
            return "\(displayPath(path)): holds entries swivel did not write and cannot keep in a new output "
                + "(\(names.joined(separator: ", ")): directories or special files); move them, or choose another output"
        }
    }
}

/// A path shortened for a one-line message: paths past 160 bytes keep their first 60 and last 80 bytes.
public func displayPath(_ path: String) -> String {
    let bytes = Array(path.utf8)
    guard bytes.count > 160 else { return path }
    return String(decoding: bytes.prefix(60), as: UTF8.self) + "..." + String(decoding: bytes.suffix(80), as: UTF8.self)
}

/// Paths of the hidden files swivel keeps beside an output `DIR`: `PARENT/.DIR.SUFFIX`.
public enum OutputSibling {
    /// `output` without trailing slashes, split into its parent directory and its name.
    public static func split(_ output: String) -> (parent: String, name: String) {
        var path = Substring(output)
        while path.count > 1 && path.hasSuffix("/") { path = path.dropLast() }
        guard let slash = path.lastIndex(of: "/") else { return (".", String(path)) }
        let parent = path[..<slash]
        return (parent.isEmpty ? "/" : String(parent), String(path[path.index(after: slash)...]))
    }

    /// The hidden sibling `PARENT/.NAME.suffix` of `output`.
    public static func path(of output: String, suffix: String) -> String {
        let (parent, name) = split(output)
        return (parent == "/" ? "" : parent) + "/.\(name).\(suffix)"
    }
}

/// An exclusive advisory lock (`flock`) on an output, held from a run's start to its end, so that two runs
/// never write the same prep or model directory. The lock file is `.NAME.swivel-lock` beside the output and
/// holds the owner's process id; it is removed on release (a killed run leaves it behind, harmlessly: the
/// kernel drops the lock with the process).
public final class OutputLock: @unchecked Sendable {
    /// The lock file.
    public let path: String
    private var descriptor: Int32 = -1

    /// Takes the lock of `output`; throws ``OutputError/inUse(path:process:)`` at once when another process
    /// holds it, and ``FileError`` when the lock file cannot be created.
    public init(output: String) throws {
        path = OutputSibling.path(of: output, suffix: "swivel-lock")
        // A lock file removed by its releasing owner between our open and our flock must not count: lock, then
        // check that the path still names the file locked, else try again.
        for _ in 0..<100 {
            let lockPath = path
            let fd = FileCreation.gate { open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
            guard fd >= 0 else {
                throw FileError.cannotOpen(path: path, reason: "cannot create the lock file: \(systemErrorMessage())")
            }
            if swivel_lock_exclusive_now(fd) != 0 {
                let code = errno
                let owner = Self.owner(fd)
                close(fd)
                if code == EWOULDBLOCK { throw OutputError.inUse(path: output, process: owner) }
                throw FileError.cannotOpen(path: path, reason: "cannot lock: \(systemErrorMessage(code))")
            }
            var held = stat(), named = stat()
            if fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_ino == named.st_ino && held.st_dev == named.st_dev {
                let text = Array("\(getpid())\n".utf8)
                _ = ftruncate(fd, 0)
                _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
                descriptor = fd
                return
            }
            close(fd)
        }
        throw FileError.cannotOpen(path: path, reason: "the lock file keeps changing; is another run starting and stopping?")
    }

    deinit { release() }

    /// Removes the lock file and drops the lock (idempotent).
    public func release() {
        guard descriptor >= 0 else { return }
        unlink(path)
        close(descriptor)
        descriptor = -1
    }

    /// The process id written in a lock file, if any.
    private static func owner(_ fd: Int32) -> Int32? {
        var bytes = [UInt8](repeating: 0, count: 32)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: bytes[0..<n], as: UTF8.self).trimmingWhitespace())
    }
}

extension String {
    /// The string without leading and trailing ASCII white space.
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}

/// A directory output built beside its destination and swapped in whole, so that a reader (or a killed run)
/// sees the old directory or the complete new one, never a mix and never neither.
///
/// The new directory is `.NAME.swivel-new` beside the destination. ``commit()`` exchanges it with the
/// destination in one `renameat2(RENAME_EXCHANGE)` (or, on a file system without it, two renames with the old
/// directory parked at `.NAME.swivel-old`), then removes the old one. The caller holds the output's
/// ``OutputLock``, so any staging directory found at the start is a killed run's and is removed.
public final class StagedDirectory {
    /// The directory the user named.
    public let destination: String
    /// Where the new contents are written until ``commit()``.
    public let staging: String
    private let old: String
    private var finished = false

    /// The staging path of `destination` (the same for every process, so MPI ranks can share it).
    public static func stagingPath(for destination: String) -> String {
        OutputSibling.path(of: resolved(destination), suffix: "swivel-new")
    }

    /// `destination`, or the directory it links to when it is a symbolic link to one: the new output is staged
    /// beside the real directory (on its file system) and replaces it, and the link stays a link.
    static func resolved(_ destination: String) -> String {
        var info = stat()
        guard lstat(destination, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK, FileReader.isDirectory(destination),
              let real = realpath(destination, nil) else { return destination }
        defer { free(real) }
        return String(cString: real)
    }

    /// Puts back an old output that a killed swap left parked at `.NAME.swivel-old` (on a file system without
    /// `RENAME_EXCHANGE`, between its two renames), and removes a parked one that was already replaced.
    public static func recover(_ destination: String) {
        let destination = resolved(destination)
        let old = OutputSibling.path(of: destination, suffix: "swivel-old")
        guard FileReader.exists(old) else { return }
        if !FileReader.exists(destination) && rename(old, destination) == 0 { return }
        FileTree.remove(old)
    }

    /// Checks the destination (absent, or a directory, or a link to one), puts back an output parked by a killed
    /// swap, removes a killed run's staging directory and creates an empty one. The caller holds the output's
    /// ``OutputLock``.
    public init(destination: String) throws {
        if FileReader.exists(destination) && !FileReader.isDirectory(destination) {
            throw FileError.cannotOpen(path: destination, reason: "exists and is not a directory")
        }
        self.destination = Self.resolved(destination)
        staging = Self.stagingPath(for: destination)
        old = OutputSibling.path(of: self.destination, suffix: "swivel-old")
        Self.recover(self.destination)
        FileTree.remove(staging)
        try FileReader.createDirectory(staging)
    }

    deinit { abandon() }

    /// Checks that every entry of `destination` that the new output does not write (names outside `own`) can
    /// be carried into it at ``commit()``: regular files and symbolic links can, directories and the rest
    /// cannot. Call it before the work, so that a run never fails at its end.
    public static func checkCarriable(_ destination: String, own: Set<String>) throws {
        guard FileReader.isDirectory(destination) else { return }
        var stuck: [String] = []
        for name in try FileReader.listDirectory(destination) where !own.contains(name) {
            var info = stat()
            guard lstat(destination + "/" + name, &info) == 0 else { continue }
            let kind = info.st_mode & S_IFMT
            if kind != S_IFREG && kind != S_IFLNK { stuck.append(name) }
        }
        if !stuck.isEmpty { throw OutputError.foreignFiles(path: destination, names: Array(stuck.prefix(3))) }
    }

    /// Swaps the staging directory in for the destination and removes what it replaced. Entries of the old
    /// directory that the new one lacks (a checkpoint, an evaluation log, files of the user's) are carried
    /// over first: hard links for files (nothing is copied or moved, so nothing can be lost), new links for
    /// symbolic links.
    public func commit() throws {
        guard !finished else { return }
        let staging = self.staging, destination = self.destination, old = self.old
        var info = stat()
        if FileReader.isDirectory(destination) {
            let fresh = Set(try FileReader.listDirectory(staging))
            // swivel's own temporary files (`.NAME.tmp-PID`) are never carried.
            for name in try FileReader.listDirectory(destination)
            where !fresh.contains(name) && !(name.hasPrefix(".") && FileTree.temporaryMarker(in: name) != nil) {
                let from = destination + "/" + name, to = staging + "/" + name
                guard lstat(from, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFREG:
                    guard FileCreation.gate({ link(from, to) }) == 0 else {
                        throw FileError.ioFailed(path: from, reason: "cannot keep it in the new output (link: \(systemErrorMessage()))")
                    }
                case S_IFLNK:
                    var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                    let n = readlink(from, &target, target.count - 1)
                    guard n >= 0, FileCreation.gate({ symlink(target, to) }) == 0 else {
                        throw FileError.ioFailed(path: from, reason: "cannot keep the symbolic link in the new output: \(systemErrorMessage())")
                    }
                default:
                    throw OutputError.foreignFiles(path: destination, names: [name])
                }
            }
        }
        if lstat(destination, &info) != 0 {
            guard FileCreation.gate({ rename(staging, destination) }) == 0 else {
                throw FileError.ioFailed(path: destination, reason: "cannot move the new output into place: \(systemErrorMessage())")
            }
        } else if FileCreation.gate({ swivel_exchange_paths(staging, destination) }) == 0 {
            FileTree.remove(staging)
        } else {
            guard FileCreation.gate({ rename(destination, old) }) == 0,
                  FileCreation.gate({ rename(staging, destination) }) == 0 else {
                throw FileError.ioFailed(path: destination, reason: "cannot move the new output into place: \(systemErrorMessage())")
            }
            FileTree.remove(old)
        }
        finished = true
        let parent = OutputSibling.split(destination).parent
        let fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 { _ = fsync(fd); close(fd) }
    }

    /// Removes the staging directory without touching the destination (idempotent).
    public func abandon() {
        guard !finished else { return }
        finished = true
        FileTree.remove(staging)
    }
}

/// Removal of whole trees, and of temporary files that killed processes left behind.
public enum FileTree {
    /// Removes `path` and, when it is a directory, everything under it; symbolic links are removed, never
    /// followed. Errors are ignored (what cannot be removed stays).
    public static func remove(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in (try? FileReader.listDirectory(path)) ?? [] { remove(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// The index just past the last `.tmp-` in `name`, if any.
    static func temporaryMarker(in name: String) -> String.Index? {
        let marker = Array(".tmp-".utf8)
        let bytes = Array(name.utf8)
        guard bytes.count > marker.count else { return nil }
        for start in stride(from: bytes.count - marker.count, through: 0, by: -1)
        where Array(bytes[start..<(start + marker.count)]) == marker {
            return name.utf8.index(name.utf8.startIndex, offsetBy: start + marker.count)
        }
        return nil
    }

    /// Removes `path` and its parents up to and including `top` while they are empty directories (a failed
    /// run's output directory, and the parents it created).
    public static func removeEmptyDirectories(from path: String, upTo top: String) {
        var current = path
        while true {
            if FileReader.exists(current) && rmdir(current) != 0 { return }
            if current == top { return }
            let parent = OutputSibling.split(current).parent
            if parent == current || parent == "/" || parent == "." { return }
            current = parent
        }
    }

    /// Whether process `pid` exists (a process of another user counts).
    public static func processIsAlive(_ pid: Int32) -> Bool {
        kill(pid, 0) == 0 || errno == EPERM
    }

    /// Removes the entries of `directory` that a process which no longer exists left behind: temporary files
    /// of ``AtomicFileWriter`` (`.NAME.tmp-PID`) and entries named `PREFIX` + PID (+ anything) for each of
    /// `prefixes`; returns their names. Nothing of a living process is touched.
    @discardableResult
    public static func removeStaleTemporaries(in directory: String, prefixes: [String] = []) -> [String] {
        var removed: [String] = []
        for name in (try? FileReader.listDirectory(directory)) ?? [] where name.hasPrefix(".") {
            var digits: Substring?
            if let prefix = prefixes.first(where: { name.hasPrefix($0) }) {
                digits = name.dropFirst(prefix.count).prefix(while: \.isNumber)
            } else if let marker = Self.temporaryMarker(in: name) {
                digits = name[marker...]
            }
            guard let digits, !digits.isEmpty, digits.allSatisfy(\.isNumber), let pid = Int32(digits),
                  pid != getpid(), !processIsAlive(pid) else { continue }
            remove(directory + "/" + name)
            removed.append(name)
        }
        return removed
    }
}
