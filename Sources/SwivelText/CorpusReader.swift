import CZlib
import Dispatch
import SwivelConcurrency
import SwivelIO
#if canImport(Glibc)
import Glibc
#endif

/// A piece of one input made of whole lines (the last piece of an input may lack its final line feed).
public struct CorpusChunk: Sendable {
    /// Position of the chunk in the whole corpus (0, 1, 2, ...).
    public let index: Int
    /// The input's name, for error messages.
    public let path: String
    /// Byte offset of the chunk in its (decompressed) input.
    public let offset: Int64
    /// The chunk's bytes.
    public let bytes: [UInt8]
}

/// The input files of a prep, and the entries of its input directories that were not taken.
public struct CorpusFiles: Sendable {
    /// Files to read, in order (`-` is standard input).
    public var files: [String] = []
    /// Directory entries that are not regular files (FIFOs, devices, sockets, links to nothing, loops).
    public var skipped: [DirectoryWalk.Skipped] = []
}

/// The corpus inputs a user named, expanded: directories become the files inside them.
public enum CorpusInputs {
    /// Expands `paths`: files as given (a named FIFO such as `<(zcat ...)` is read like a file), `-` for stdin,
    /// directories recursively through ``DirectoryWalk`` (regular files only, in byte order of their paths;
    /// names starting with `.` and the directories in `excluding` are skipped). Throws for paths that do not
    /// exist.
    public static func expand(_ paths: [String], excluding: [String] = []) throws -> CorpusFiles {
        var result = CorpusFiles()
        if paths.filter({ $0 == "-" }).count > 1 {
            throw CorpusError.unreadable(path: "-", reason: "standard input can be given only once")
        }
        for path in paths {
            if path == "-" { result.files.append(path); continue }
            guard FileReader.exists(path) else {
                throw CorpusError.unreadable(path: path, reason: systemErrorMessage(ENOENT))
            }
            if FileReader.isDirectory(path) {
                let walk: DirectoryWalk
                do {
                    walk = try DirectoryWalk(path, excluding: excluding)
                } catch {
                    throw CorpusError.unreadable(path: path, reason: "cannot list directory")
                }
                result.files += walk.files
                result.skipped += walk.skipped
            } else {
                result.files.append(path)
            }
        }
        return result
    }

    /// Total bytes of the inputs on disk (compressed size for `.gz`), or nil when stdin is among them.
    public static func storedBytes(_ files: [String]) -> Int64? {
        var total: Int64 = 0
        for path in files {
            if path == "-" { return nil }
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            total += Int64(info.st_size)
        }
        return total
    }
}

/// Reads inputs one after the other and cuts them into chunks of whole lines (about `chunkBytes` each).
///
/// Every input goes through zlib's `gzread`, so gzip files (whatever their name) are decompressed as they
/// stream and plain files pass through. `-` reads standard input; `copyStandardInput` keeps a copy of it
/// for a second pass.
public final class CorpusChunkReader {
    private let inputs: [String]
    private let chunkBytes: Int
    private var inputIndex = 0
    private var gz: gzFile?
    private var offset: Int64 = 0
    private var carry: [UInt8] = []
    private var scratch: [UInt8] = []
    private var chunkIndex = 0
    private var copy: Int32 = -1
    private let copyPath: String?
    /// Bytes read so far, over all inputs (after decompression).
    public private(set) var bytesRead: Int64 = 0
    /// Compressed bytes consumed so far (equal to `bytesRead` for plain inputs), for progress against file sizes.
    public private(set) var storedBytesRead: Int64 = 0
    private var storedBeforeCurrent: Int64 = 0

    /// Reads `inputs` (already expanded) in order.
    ///
    /// - Parameter copyStandardInput: if given, the bytes read from `-` are also written to this file.
    public init(inputs: [String], chunkBytes: Int = 4 << 20, copyStandardInput: String? = nil) throws {
        self.inputs = inputs
        self.chunkBytes = chunkBytes
        copyPath = copyStandardInput
    }

    deinit {
        if let gz { gzclose(gz) }
        if copy >= 0 { close(copy) }
    }

    /// The next chunk, or nil after the last input.
    public func next() throws -> CorpusChunk? {
        while inputIndex < inputs.count {
            let path = inputs[inputIndex]
            if gz == nil { try open(path) }
            var buffer = carry
            carry = []
            let start = offset - Int64(buffer.count)
            var atEnd = false
            // Read until the buffer holds a line feed past chunkBytes, or the input ends. Reads go through one
            // scratch buffer (no zero-filling per read); each read searches only its own bytes for a line feed,
            // so a line of any length costs linear time.
            while true {
                let want = max(chunkBytes - buffer.count, 1 << 20)
                if scratch.count < want { scratch = [UInt8](repeating: 0, count: want) }
                let n = scratch.withUnsafeMutableBytes { raw in
                    gzread(gz, raw.baseAddress!, UInt32(want))
                }
                var code: Int32 = 0
                // zlib names a stream it opened from a descriptor "<fd:N>: ..."; the error names the file instead.
                var message = gzerror(gz, &code).map { String(cString: $0) } ?? "read error"
                if message.hasPrefix("<fd:"), let colon = message.firstIndex(of: ">") {
                    message = String(message[message.index(after: colon)...].drop(while: { $0 == ":" || $0 == " " }))
                }
                if n < 0 || (code != Z_OK && code != Z_BUF_ERROR) {
                    throw CorpusError.unreadable(path: path, reason: message)
                }
                if n == 0 && code == Z_BUF_ERROR {
                    throw CorpusError.unreadable(path: path, reason: "the compressed stream ends early (truncated .gz file?)")
                }
                let read = Int(n)
                if read > 0 && copy >= 0 { try writeCopy(scratch, count: read) }
                offset += Int64(read)
                bytesRead += Int64(read)
                storedBytesRead = storedBeforeCurrent + Int64(gzoffset(gz))
                if read == 0 { atEnd = true; break }
                let searchFrom = buffer.count
                buffer.append(contentsOf: scratch[0..<read])
                if buffer.count >= chunkBytes, let last = buffer[searchFrom...].lastIndex(of: 0x0A) {
                    carry = Array(buffer[(last + 1)...])
                    buffer.removeLast(buffer.count - last - 1)
                    break
                }
            }
            if atEnd {
                if let gz { gzclose(gz) }
                gz = nil
                if copy >= 0 {
                    close(copy)
                    copy = -1
                }
                inputIndex += 1
            }
            if buffer.isEmpty { continue }
            defer { chunkIndex += 1 }
            return CorpusChunk(index: chunkIndex, path: path, offset: start, bytes: buffer)
        }
        return nil
    }

    private func open(_ path: String) throws {
        var fd: Int32
        if path == "-" {
            fd = dup(0)
            if let copyPath {
                copy = FileCreation.gate { Glibc.open(copyPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
                guard copy >= 0 else { throw FileError.cannotOpen(path: copyPath, reason: systemErrorMessage()) }
            }
        } else {
            if FileReader.isDirectory(path) { throw CorpusError.unreadable(path: path, reason: "is a directory") }
            fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        }
        guard fd >= 0 else { throw CorpusError.unreadable(path: path, reason: systemErrorMessage()) }
        guard let handle = gzdopen(fd, "rb") else {
            close(fd)
            throw CorpusError.unreadable(path: path, reason: "cannot start reading")
        }
        gzbuffer(handle, 1 << 20)
        gz = handle
        offset = 0
        if inputIndex > 0 {
            storedBeforeCurrent = storedBytesRead
        }
    }

    private func writeCopy(_ buffer: [UInt8], count: Int) throws {
        try buffer.withUnsafeBytes { raw in
            try writeFully(copy, UnsafeRawBufferPointer(rebasing: raw[0..<count]), path: copyPath ?? "-",
                           what: "cannot keep a copy of standard input")
        }
    }
}

/// Runs a body on every chunk of a reader with `workers` threads while the calling thread reads ahead.
public enum ParallelChunks {
    /// Calls `body(worker, chunk)` for every chunk; each worker index is used by one thread at a time.
    ///
    /// Errors: the error of the earliest failing chunk is thrown (reading stops at the first failure,
    /// so every chunk before it has been processed): the same error whatever the thread count.
    /// - Parameter progress: called on the reading thread after each chunk is read.
    public static func run(_ reader: CorpusChunkReader, workers: Int,
                           progress: (() -> Void)? = nil,
                           _ body: @escaping @Sendable (Int, CorpusChunk) throws -> Void) throws {
        let queue = Locked<[CorpusChunk?]>([])
        let items = DispatchSemaphore(value: 0)
        let room = DispatchSemaphore(value: 2 * workers)
        let failures = Locked<[(Int, Error)]>([])
        let group = DispatchGroup()
        for worker in 0..<workers {
            DispatchQueue.global().async(group: group) {
                while true {
                    items.wait()
                    let item = queue.withValue { $0.removeFirst() }
                    room.signal()
                    guard let chunk = item else { return }
                    do {
                        try body(worker, chunk)
                    } catch {
                        failures.withValue { $0.append((chunk.index, error)) }
                    }
                }
            }
        }
        var readError: Error?
        do {
            while failures.withValue({ $0.isEmpty }), let chunk = try reader.next() {
                room.wait()
                queue.withValue { $0.append(chunk) }
                items.signal()
                progress?()
            }
        } catch {
            readError = error
        }
        for _ in 0..<workers {
            room.wait()
            queue.withValue { $0.append(nil) }
            items.signal()
        }
        group.wait()
        if let first = failures.withValue({ $0.min(by: { $0.0 < $1.0 }) }) { throw first.1 }
        if let readError { throw readError }
    }
}
