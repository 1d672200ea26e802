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
        var total: Int64 = 0, crc: UInt32 = 0
        try FileReader.readChunks(path) { chunk in
            crc = Zlib.crc32(chunk, initial: crc)
            total += Int64(chunk.count)
        }
        bytes = total
        crc32 = crc
    }
}
