#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file and streaming reads with errors that name the file.
public enum FileReader {
    /// Reads the whole file at `path` into memory.
    public static func readAll(_ path: String) throws -> [UInt8] {
        var result = [UInt8]()
        try readChunks(path, sizeHint: { result.reserveCapacity($0) }) { result.append(contentsOf: $0) }
        return result
    }

    /// Reads the file at `path` from start to end in chunks of at most 1 MiB, handing each to `body`;
    /// `sizeHint` first receives the file's size on disk. Refuses a directory.
    public static func readChunks(_ path: String, sizeHint: (Int) -> Void = { _ in },
                                  _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: systemErrorMessage()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError.ioFailed(path: path, reason: systemErrorMessage()) }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw FileError.cannotOpen(path: path, reason: "is a directory")
        }
        sizeHint(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.ioFailed(path: path, reason: "read failed: \(systemErrorMessage())")
            }
            if n == 0 { break }
            try chunk.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
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
            if exists(prefix) && !isDirectory(prefix) {
                throw FileError.cannotOpen(path: path, reason: "cannot create directory: \(prefix) is not a directory")
            }
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

    /// The highest directory on the way to `path` (`path` itself included) that does not exist yet, or nil when
    /// `path` exists: what a failed run that created `path` must remove again.
    public static func highestMissingAncestor(of path: String) -> String? {
        guard !exists(path) else { return nil }
        var missing = path
        var current = OutputSibling.split(path).parent
        while current != "/" && current != "." && !exists(current) {
            missing = current
            current = OutputSibling.split(current).parent
        }
        return missing
    }
}
