import SwivelIO
import SwivelLinearAlgebra

/// Errors reading vectors; each names the file and what is wrong.
public enum EmbeddingError: Error, CustomStringConvertible, Equatable {
    /// The file is not of the expected format.
    case badFormat(path: String, reason: String)
    /// A checksum does not match: the file is damaged.
    case checksumMismatch(path: String)
    /// The file is shorter than its header says.
    case truncated(path: String, expected: Int, found: Int)
    /// Two files of one model disagree (e.g. vocabulary size and matrix rows).
    case mismatch(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badFormat(path, reason): return "\(path): \(reason)"
        case let .checksumMismatch(path): return "\(path): CRC-32 does not match: the file is damaged"
        case let .truncated(path, expected, found):
            return "\(path): file is truncated (expected \(expected) bytes, found \(found))"
        case let .mismatch(path, reason): return "\(path): \(reason)"
        }
    }
}

/// Reads and writes one embedding matrix in swivel's binary format.
///
/// Byte layout (little-endian):
/// ```
/// offset size  field
///  0      8    magic "SWVEMBED"
///  8      4    format version (1)
/// 12      4    reserved, 0
/// 16      8    rows (features)
/// 24      8    dimension
/// 32      4    CRC-32 of the payload
/// 36      4    CRC-32 of bytes 0..<36
/// 40      ...  rows x dimension float32, row-major
/// ```
public enum EmbeddingMatrixFile {
    /// Magic bytes.
    public static let magic: [UInt8] = Array("SWVEMBED".utf8)
    /// Format version written by this build.
    public static let formatVersion: UInt32 = 1
    /// Header size in bytes.
    public static let headerSize = 40

    /// Writes `matrix` to `path` atomically.
    public static func write(_ matrix: Matrix, to path: String) throws {
        var header = ByteWriter(capacity: headerSize)
        header.append(magic)
        header.append(formatVersion)
        header.append(UInt32(0))
        header.append(UInt64(matrix.rows))
        header.append(UInt64(matrix.columns))
        header.append(matrix.values.withUnsafeBytes { Zlib.crc32($0) })
        header.append(Zlib.crc32(header.bytes))
        let writer = try AtomicFileWriter(path: path)
        try writer.write(header.bytes)
        try writer.writeRaw(matrix.values)
        try writer.commit()
    }

    /// Reads and validates the matrix at `path`.
    public static func read(from path: String) throws -> Matrix {
        let bytes = try FileReader.readAll(path)
        return try bytes.withUnsafeBytes { raw in
            guard raw.count >= 8, raw.prefix(8).elementsEqual(magic) else {
                throw EmbeddingError.badFormat(path: path, reason: "not a swivel embedding file (bad magic bytes)")
            }
            guard raw.count >= headerSize else {
                throw EmbeddingError.truncated(path: path, expected: headerSize, found: raw.count)
            }
            var reader = ByteReader(raw, offset: 8)
            let version = try reader.read(UInt32.self)
            guard version == formatVersion else {
                throw EmbeddingError.badFormat(path: path, reason: "embedding format version \(version) is not supported")
            }
            _ = try reader.read(UInt32.self)
            let rows = try reader.read(UInt64.self)
            let dim = try reader.read(UInt64.self)
            let payloadCRC = try reader.read(UInt32.self)
            let headerCRC = try reader.read(UInt32.self)
            guard Zlib.crc32(UnsafeRawBufferPointer(rebasing: raw[0..<36])) == headerCRC else {
                throw EmbeddingError.checksumMismatch(path: path)
            }
            guard rows < (1 << 32), dim < (1 << 20) else {
                throw EmbeddingError.badFormat(path: path, reason: "impossible shape \(rows) x \(dim)")
            }
            let expected = headerSize + Int(rows * dim) * 4
            guard raw.count >= expected else { throw EmbeddingError.truncated(path: path, expected: expected, found: raw.count) }
            guard raw.count == expected else {
                throw EmbeddingError.badFormat(path: path, reason: "\(raw.count - expected) unexpected bytes after the vectors")
            }
            let payload = UnsafeRawBufferPointer(rebasing: raw[headerSize...])
            guard Zlib.crc32(payload) == payloadCRC else { throw EmbeddingError.checksumMismatch(path: path) }
            var values = [Float](repeating: 0, count: Int(rows * dim))
            values.withUnsafeMutableBytes { $0.copyMemory(from: payload) }
            return Matrix(rows: Int(rows), columns: Int(dim), values: values)
        }
    }
}
