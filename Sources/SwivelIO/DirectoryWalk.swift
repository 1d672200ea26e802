#if canImport(Glibc)
import Glibc
#endif

/// The regular files under a directory, found without hanging or looping: FIFOs, devices and sockets are
/// skipped (reading a FIFO nobody writes blocks forever; `/dev/zero` never ends), symbolic links are followed
/// to regular files and directories, and a link back to a directory already being walked is skipped as a loop.
public struct DirectoryWalk: Sendable {
    /// An entry that was not taken, and why (one short phrase).
    public struct Skipped: Equatable, Sendable {
        /// The entry's path.
        public var path: String
        /// Why it was skipped ("a FIFO", "a symbolic link loop back to DIR", ...).
        public var reason: String

        /// Creates a record of a skipped entry.
        public init(path: String, reason: String) {
            self.path = path
            self.reason = reason
        }
    }

    /// Regular files, in byte order of their paths.
    public private(set) var files: [String] = []
    /// Entries that were not taken.
    public private(set) var skipped: [Skipped] = []

    /// Walks `directory` recursively. Names starting with `.` are skipped silently (hidden files, and the
    /// temporary files of swivel's own writers); so are the directories in `excluding` (an output directory
    /// inside an input directory). Throws ``FileError`` when `directory` itself cannot be listed.
    public init(_ directory: String, excluding: [String] = []) throws {
        let excluded = Set(excluding.compactMap(Self.identity))
        var ancestors: [(id: FileIdentity, path: String)] = []
        guard let root = Self.identity(directory) else {
            throw FileError.cannotOpen(path: directory, reason: systemErrorMessage())
        }
        ancestors.append((root, directory))
        try walk(directory, ancestors: &ancestors, excluded: excluded, isRoot: true)
    }

    /// Device and inode of a file or directory (links followed), or nil when it cannot be stat'ed.
    struct FileIdentity: Hashable { var device: UInt64; var inode: UInt64 }

    static func identity(_ path: String) -> FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    private mutating func walk(_ directory: String, ancestors: inout [(id: FileIdentity, path: String)],
                               excluded: Set<FileIdentity>, isRoot: Bool) throws {
        let names: [String]
        do {
            names = try FileReader.listDirectory(directory)
        } catch {
            if isRoot { throw error }
            skipped.append(Skipped(path: directory, reason: "a directory that cannot be listed"))
            return
        }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        for name in names.filter({ !$0.hasPrefix(".") }).sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            let path = base + "/" + name
            var info = stat()
            guard stat(path, &info) == 0 else {
                skipped.append(Skipped(path: path, reason: errno == ELOOP ? "a loop of symbolic links" : "a symbolic link to nothing"))
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                files.append(path)
            case S_IFDIR:
                let id = FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
                if excluded.contains(id) { continue }
                if let ancestor = ancestors.first(where: { $0.id == id }) {
                    skipped.append(Skipped(path: path, reason: "a symbolic link loop back to \(displayPath(ancestor.path))"))
                    continue
                }
                ancestors.append((id, path))
                try walk(path, ancestors: &ancestors, excluded: excluded, isRoot: false)
                ancestors.removeLast()
            case S_IFIFO: skipped.append(Skipped(path: path, reason: "a FIFO"))
            case S_IFCHR: skipped.append(Skipped(path: path, reason: "a character device"))
            case S_IFBLK: skipped.append(Skipped(path: path, reason: "a block device"))
            case S_IFSOCK: skipped.append(Skipped(path: path, reason: "a socket"))
            default: skipped.append(Skipped(path: path, reason: "not a regular file"))
            }
        }
    }
}
