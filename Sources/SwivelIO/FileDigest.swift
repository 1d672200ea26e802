#if canImport(Glibc)
import Glibc
#endif

/// The size and CRC-32 of a file, recorded by a writer that lists the files it made (`model.json`), so that a
/// reader can tell a file of this write from one of another (a mixed directory after an interrupted copy).
public struct FileDigest: Codable, Equatable, Sendable {
    /// Size in bytes.
    public var bytes: Int64
    /// CRC-32 (zlib's polynomial) of the whole file.
    public var crc32: UInt32

    /// Creates a digest from known values.
    public init(bytes: Int64, crc32: UInt32) {
        self.bytes = bytes
        self.crc32 = crc32
    }

    /// Reads `path` once and digests it; throws ``FileError`` when it cannot be read.
    public init(of path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: systemErrorMessage()) }
        defer { close(fd) }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0, crc: UInt32 = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.ioFailed(path: path, reason: "read failed: \(systemErrorMessage())")
            }
            if n == 0 { break }
            crc = chunk.withUnsafeBytes { Zlib.crc32(UnsafeRawBufferPointer(rebasing: $0[0..<n]), initial: crc) }
            total += Int64(n)
        }
        bytes = total
        crc32 = crc
    }
}
