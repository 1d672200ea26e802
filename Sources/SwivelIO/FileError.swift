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
