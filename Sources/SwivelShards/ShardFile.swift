import SwivelIO

/// Errors reading a shard file; each names the file and what is wrong with it.
public enum ShardError: Error, CustomStringConvertible, Equatable {
    /// The file does not start with the shard magic bytes.
    case badMagic(path: String)
    /// The file was written by a format version this build does not read.
    case unsupportedVersion(path: String, version: UInt32)
    /// The file is shorter than its header says.
    case truncated(path: String, expected: Int, found: Int)
    /// A checksum does not match: the file is damaged.
    case checksumMismatch(path: String, part: String)
    /// The contents contradict the header or the manifest.
    case inconsistent(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badMagic(path): return "\(path): not a swivel shard file (bad magic bytes)"
        case let .unsupportedVersion(path, version):
            return "\(path): shard format version \(version) is not supported (this build reads versions 1 to \(ShardFile.formatVersion))"
        case let .truncated(path, expected, found):
            return "\(path): shard file is truncated (expected \(expected) bytes, found \(found))"
        case let .checksumMismatch(path, part): return "\(path): CRC-32 of the \(part) does not match: the file is damaged"
        case let .inconsistent(path, reason): return "\(path): \(reason)"
        }
    }
}

/// One block of the co-occurrence matrix: the nonzero cells of (row shard x column shard), in CSR form.
///
/// Shapes: `rowStart` has `rowCount + 1` entries; row `l`'s cells are `columnIndex[rowStart[l]..<rowStart[l+1]]`
/// (strictly increasing local column indices) with counts `values[...]` (positive floats).
public struct ShardBlock: Equatable, Sendable {
    /// Row shard index.
    public var rowShard: Int
    /// Column shard index.
    public var columnShard: Int
    /// Number of rows (features in the row shard).
    public var rowCount: Int
    /// Number of columns (features in the column shard).
    public var columnCount: Int
    /// CSR row offsets, `rowCount + 1` entries, `rowStart[0] == 0`, non-decreasing.
    public var rowStart: [Int32]
    /// Local column index of each nonzero, row by row.
    public var columnIndex: [Int32]
    /// Co-occurrence count of each nonzero (empty when the counts travel as exact units beside the block: handed
    /// to ``ShardFile/encode(_:units:unitsPerCount:)`` or returned by ``ShardFile/decodeUnits(_:path:)``).
    public var values: [Float]

    /// Creates a block; the arrays must satisfy the CSR invariants above.
    public init(rowShard: Int, columnShard: Int, rowCount: Int, columnCount: Int,
                rowStart: [Int32], columnIndex: [Int32], values: [Float]) {
        self.rowShard = rowShard
        self.columnShard = columnShard
        self.rowCount = rowCount
        self.columnCount = columnCount
        self.rowStart = rowStart
        self.columnIndex = columnIndex
        self.values = values
    }

    /// Number of nonzero cells.
    public var nonzeroCount: Int { columnIndex.count }
}

/// Reads and writes shard files: one compressed block of the co-occurrence matrix.
///
/// Byte layout (all integers little-endian):
/// ```
/// offset size  field
///  0      8    magic "SWVSHARD"
///  8      4    format version (3; versions 1 and 2 are still read)
/// 12      4    row shard index
/// 16      4    column shard index
/// 20      4    rows (features in the row shard)
/// 24      4    columns (features in the column shard)
/// 28      8    nonzero count
/// 36      8    payload size before compression
/// 44      8    payload size compressed
/// 52      4    CRC-32 of the compressed payload
/// 56      4    CRC-32 of bytes 0..<56
/// 60      ...  zlib-compressed payload
/// ```
/// Version 3 payload (zlib format, Huffman coding only: faster than string matching and about as small on
/// these varint streams; written by ``HuffmanDeflate``, read by zlib):
/// ```
/// 8 bytes  units per count U (UInt64); 0 means the values are stored as float32
/// codes    U > 0 only: a varint K, then K varints: the unit values that have one-byte codes (distinct)
/// index    for each row in order, a varint count of its nonzeros followed by the varint gaps between
///          successive local column indices (the first gap is from -1, so it is `column + 1`)
/// values   U > 0: one varint code per nonzero: a code c < K stands for the K values' c-th, c >= K for
///          c - K units (count = Float(units / U), exactly the float prep computes); U == 0: `nonzero
///          count` float32
/// ```
/// The coded values are a window's single co-occurrences, U/d units for a pair d apart, and sums of two (see
/// ``codedUnits(unitsPerCount:)``): about four fifths of a text corpus's cells, 2-3 bytes as units, one byte
/// as a code, which takes about a quarter off a text corpus's payload (docs/benchmarks.md, "Shard format 3").
/// Version 2 (written before) is version 3 without the codes section (every value is a varint of units);
/// version 1 has no `U` field, the same index section, float32 values, and zlib level 1.
public enum ShardFile {
    /// The magic bytes that open every shard file.
    public static let magic: [UInt8] = Array("SWVSHARD".utf8)
    /// The format version written by this build.
    public static let formatVersion: UInt32 = 3
    /// Size of the fixed header in bytes.
    public static let headerSize = 60

    /// File name of block (row, column), e.g. `shard-0003-0012.swvs`.
    public static func fileName(rowShard: Int, columnShard: Int) -> String {
        func pad(_ v: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, 4 - s.count)) + s
        }
        return "shard-\(pad(rowShard))-\(pad(columnShard)).swvs"
    }

    /// Most distances whose single co-occurrence value gets a one-byte code.
    static let codedDistances = 64
    /// Most distance of either pair in the two-co-occurrence values that get one-byte codes.
    static let codedPairDistances = 10

    /// The unit values a shard with `unitsPerCount` units per count codes in one byte (distinct, positive, at
    /// most 128): a single co-occurrence, w(d) = U/d rounded to the nearest unit as ``CountScale`` rounds a
    /// window's weights, for d = 1, 2, ..., 64 (every weight of the windows people use), then two,
    /// w(d1) + w(d2) for d1 <= d2 <= 10: together about four fifths of a text corpus's cells
    /// (docs/benchmarks.md, "Shard format 3").
    public static func codedUnits(unitsPerCount: UInt64) -> [UInt64] {
        // U/d rounded half up, without forming 2U (any U is accepted).
        func weight(_ d: UInt64) -> UInt64 { unitsPerCount / d + (2 * (unitsPerCount % d) >= d ? 1 : 0) }
        var values: [UInt64] = []
        func add(_ value: UInt64) {
            if value > 0 && values.count < 128 && !values.contains(value) { values.append(value) }
        }
        for d in 1...UInt64(codedDistances) { add(weight(d)) }
        for d1 in 1...UInt64(codedPairDistances) {
            for d2 in d1...UInt64(codedPairDistances) {
                let (sum, overflow) = weight(d1).addingReportingOverflow(weight(d2))
                if !overflow { add(sum) }
            }
        }
        return values
    }

    /// Encodes `block` as the bytes of a shard file, values as float32.
    public static func encode(_ block: ShardBlock) throws -> [UInt8] {
        try encode(block, units: nil, unitsPerCount: 0)
    }

    /// Encodes `block` as the bytes of a shard file, its values given exactly as `units` (one positive
    /// integer per nonzero; a shard reader sees `Float(Double(units[k]) / Double(unitsPerCount))`, and
    /// `block.values` may be left empty): about half the bytes of float32 before compression, and faster to
    /// compress. Throws for a value of 2^63 units or more (its code could wrap).
    public static func encode(_ block: ShardBlock, units: [UInt64]?, unitsPerCount: UInt64) throws -> [UInt8] {
        precondition(units == nil ? block.values.count == block.columnIndex.count
                                  : (units!.count == block.columnIndex.count && unitsPerCount > 0))
        if let units {
            var encoder = ShardUnitsEncoder(unitsPerCount: unitsPerCount)
            encoder.beginBlock()
            block.rowStart.withUnsafeBufferPointer { rowStart in
                block.columnIndex.withUnsafeBufferPointer { columns in
                    units.withUnsafeBufferPointer { units in
                        for row in 0..<block.rowCount {
                            let start = Int(rowStart[row]), end = Int(rowStart[row + 1])
                            encoder.beginRow(maxCells: end - start)
                            for k in start..<end { encoder.add(column: Int(columns[k]), units: units[k]) }
                            encoder.endRow()
                        }
                    }
                }
            }
            return try encoder.fileBytes(rowShard: block.rowShard, columnShard: block.columnShard, rows: block.rowCount,
                                         columns: block.columnCount)
        }
        // Float32 counts: a zero units field, the index section, the floats.
        var index = ShardIndexWriter()
        block.rowStart.withUnsafeBufferPointer { rowStart in
            block.columnIndex.withUnsafeBufferPointer { columns in
                for row in 0..<block.rowCount {
                    let start = Int(rowStart[row]), end = Int(rowStart[row + 1])
                    index.beginRow(maxCells: end - start)
                    for k in start..<end { index.add(column: Int(columns[k])) }
                    index.endRow()
                }
            }
        }
        let nonzeros = block.columnIndex.count
        var bytes = [UInt8](repeating: 0, count: 8)
        bytes.append(contentsOf: UnsafeBufferPointer(start: index.bytes.base, count: index.bytes.count))
        block.values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        return fileBytes(payload: bytes, rowShard: block.rowShard, columnShard: block.columnShard, rows: block.rowCount,
                         columns: block.columnCount, nonzeros: nonzeros)
    }

    /// A whole shard file: the header (see the layout above) and `payload` compressed.
    static func fileBytes(payload: [UInt8], rowShard: Int, columnShard: Int, rows: Int, columns: Int,
                          nonzeros: Int) -> [UInt8] {
        let compressed = payload.withUnsafeBytes { HuffmanDeflate.compress($0) }
        var header = ByteWriter(capacity: headerSize + compressed.count)
        header.append(magic)
        header.append(formatVersion)
        header.append(UInt32(rowShard))
        header.append(UInt32(columnShard))
        header.append(UInt32(rows))
        header.append(UInt32(columns))
        header.append(UInt64(nonzeros))
        header.append(UInt64(payload.count))
        header.append(UInt64(compressed.count))
        header.append(Zlib.crc32(compressed))
        header.append(Zlib.crc32(header.bytes))
        header.append(compressed)
        return header.bytes
    }

    /// Writes `block` to `path` atomically.
    public static func write(_ block: ShardBlock, to path: String) throws {
        try AtomicFileWriter.write(try encode(block), to: path)
    }

    /// Writes `block` to `path` atomically with its values as exact `units` (see ``encode(_:units:unitsPerCount:)``).
    public static func write(_ block: ShardBlock, units: [UInt64], unitsPerCount: UInt64, to path: String) throws {
        try AtomicFileWriter.write(try encode(block, units: units, unitsPerCount: unitsPerCount), to: path)
    }

    /// Reads and validates the shard file at `path`.
    public static func read(from path: String) throws -> ShardBlock {
        try decode(try FileReader.readAll(path), path: path)
    }

    /// Decodes and validates the bytes of a shard file; `path` is used in error messages only.
    public static func decode(_ bytes: [UInt8], path: String) throws -> ShardBlock {
        try decode(bytes, path: path, wantUnits: false).block
    }

    /// Decodes a shard file written with exact units (``encode(_:units:unitsPerCount:)``): the block (its
    /// `values` left empty), the units and the units per count. Throws for a file with float32 counts.
    public static func decodeUnits(_ bytes: [UInt8], path: String) throws -> (block: ShardBlock, units: [UInt64], unitsPerCount: UInt64) {
        let decoded = try decode(bytes, path: path, wantUnits: true)
        guard let units = decoded.units else {
            throw ShardError.inconsistent(path: path, reason: "holds float32 counts, not exact units")
        }
        return (decoded.block, units, decoded.unitsPerCount)
    }

    /// The fields of a shard file's header that place its block.
    public struct Header: Equatable, Sendable {
        /// Row shard index.
        public var rowShard: Int
        /// Column shard index.
        public var columnShard: Int
        /// Rows in the block.
        public var rowCount: Int
        /// Columns in the block.
        public var columnCount: Int
        /// Nonzero cells.
        public var nonzeros: UInt64

        /// Creates a header description.
        public init(rowShard: Int, columnShard: Int, rowCount: Int, columnCount: Int, nonzeros: UInt64) {
            self.rowShard = rowShard
            self.columnShard = columnShard
            self.rowCount = rowCount
            self.columnCount = columnCount
            self.nonzeros = nonzeros
        }
    }

    /// Checks a shard file's first ``headerSize`` bytes without reading its payload: magic, version, the header
    /// CRC, and that the file is exactly the header and the compressed payload it announces (`fileSize` bytes).
    /// A trainer checks every shard this way before its first epoch, so that a damaged file is found at once.
    public static func header(_ bytes: [UInt8], fileSize: Int, path: String) throws -> Header {
        try bytes.withUnsafeBytes { try storedHeader($0, fileSize: fileSize, path: path).placement }
    }

    /// Every field of a shard file's header, as stored.
    struct StoredHeader {
        var version: UInt32
        var placement: Header
        var rawSize: UInt64
        var compressedSize: UInt64
        var payloadCRC: UInt32
    }

    /// Reads and checks the header at the start of `raw` (magic, version, header CRC, and a file of exactly
    /// `fileSize` bytes holding the header and the compressed payload it announces).
    static func storedHeader(_ raw: UnsafeRawBufferPointer, fileSize: Int, path: String) throws -> StoredHeader {
        guard raw.count >= headerSize else {
            if raw.count >= 8 && !raw.prefix(8).elementsEqual(magic) { throw ShardError.badMagic(path: path) }
            throw ShardError.truncated(path: path, expected: headerSize, found: raw.count)
        }
        guard raw.prefix(8).elementsEqual(magic) else { throw ShardError.badMagic(path: path) }
        var reader = ByteReader(raw, offset: 8)
        let version = try reader.read(UInt32.self)
        guard (1...formatVersion).contains(version) else { throw ShardError.unsupportedVersion(path: path, version: version) }
        let rowShard = Int(try reader.read(UInt32.self))
        let columnShard = Int(try reader.read(UInt32.self))
        let rows = Int(try reader.read(UInt32.self))
        let columns = Int(try reader.read(UInt32.self))
        let nonzeros = try reader.read(UInt64.self)
        let rawSize = try reader.read(UInt64.self)
        let compressedSize = try reader.read(UInt64.self)
        let payloadCRC = try reader.read(UInt32.self)
        let headerCRC = try reader.read(UInt32.self)
        guard Zlib.crc32(UnsafeRawBufferPointer(rebasing: raw[0..<56])) == headerCRC else {
            throw ShardError.checksumMismatch(path: path, part: "header")
        }
        guard compressedSize == UInt64(max(fileSize - headerSize, 0)) else {
            // A damaged size may be near 2^64: the expected length saturates instead of overflowing.
            let expected = compressedSize > UInt64(Int.max - headerSize) ? Int.max : headerSize + Int(compressedSize)
            if expected > fileSize { throw ShardError.truncated(path: path, expected: expected, found: fileSize) }
            throw ShardError.inconsistent(path: path, reason: "\(fileSize - expected) unexpected bytes after the payload")
        }
        return StoredHeader(version: version, placement: Header(rowShard: rowShard, columnShard: columnShard, rowCount: rows,
                                                                columnCount: columns, nonzeros: nonzeros),
                            rawSize: rawSize, compressedSize: compressedSize, payloadCRC: payloadCRC)
    }

    private static func decode(_ bytes: [UInt8], path: String, wantUnits: Bool) throws -> (block: ShardBlock, units: [UInt64]?, unitsPerCount: UInt64) {
        try bytes.withUnsafeBytes { raw in
            do {
                let stored = try storedHeader(raw, fileSize: raw.count, path: path)
                let version = stored.version
                let rowShard = stored.placement.rowShard, columnShard = stored.placement.columnShard
                let rows = stored.placement.rowCount, columnCount = stored.placement.columnCount
                let nonzeros = stored.placement.nonzeros
                let rawSize = stored.rawSize, compressedSize = stored.compressedSize, payloadCRC = stored.payloadCRC
                let compressed = UnsafeRawBufferPointer(rebasing: raw[headerSize...])
                guard Zlib.crc32(compressed) == payloadCRC else {
                    throw ShardError.checksumMismatch(path: path, part: "payload")
                }
                // Sizes are bounded by what the header can describe sanely before allocating anything.
                // zlib cannot expand data more than about 1032:1, so a payload claiming more is damaged; checking
                // that first bounds every allocation below by the file's own size.
                // Every nonzero takes at least 4 bytes (version 1's float) or 2 (a gap and a value), every row 1;
                // divided, not multiplied, so that a damaged count cannot overflow.
                let bytesPerNonzero: UInt64 = version == 1 ? 4 : 2
                let fixedBytes = UInt64(rows) + (version == 1 ? 0 : 8)
                guard rawSize <= compressedSize * 1100 + 64,
                      nonzeros <= UInt64(rows) * UInt64(columnCount),
                      rawSize >= fixedBytes, nonzeros <= (rawSize - fixedBytes) / bytesPerNonzero else {
                    throw ShardError.inconsistent(path: path, reason: "header sizes are impossible (rows \(rows), columns \(columnCount), nonzeros \(nonzeros))")
                }
                let payload: [UInt8]
                do {
                    payload = try Zlib.decompress(compressed, size: Int(rawSize))
                } catch {
                    throw ShardError.inconsistent(path: path, reason: "payload does not decompress: \(error)")
                }
                return try decodePayload(payload, version: version, path: path, rowShard: rowShard, columnShard: columnShard,
                                         rows: rows, columnCount: columnCount, nonzeros: Int(nonzeros), wantUnits: wantUnits)
            } catch is ByteReader.OutOfBounds {
                throw ShardError.truncated(path: path, expected: headerSize, found: raw.count)
            }
        }
    }

    private static func decodePayload(_ payload: [UInt8], version: UInt32, path: String, rowShard: Int, columnShard: Int,
                                      rows: Int, columnCount: Int, nonzeros: Int,
                                      wantUnits: Bool) throws -> (block: ShardBlock, units: [UInt64]?, unitsPerCount: UInt64) {
        var rowStart = [Int32](repeating: 0, count: rows + 1)
        var columns = [Int32](repeating: 0, count: nonzeros)
        var values = [Float]()
        var keptUnits: [UInt64]? = nil
        var unitsPerCount: UInt64 = 0
        var coded: [UInt64] = []   // version 3: the values of codes 0 ..< coded.count
        try payload.withUnsafeBytes { raw in
            // Version 1: the index section is everything before the float32 values. Versions 2 and 3: it follows
            // the units-per-count field (version 3: and the codes section) and ends where its rows end.
            var reader: ByteReader
            if version == 1 {
                reader = ByteReader(UnsafeRawBufferPointer(rebasing: raw[0..<(payload.count - nonzeros * 4)]))
            } else {
                reader = ByteReader(raw)
                do { unitsPerCount = try reader.read(UInt64.self) } catch {
                    throw ShardError.inconsistent(path: path, reason: "payload ends before its units field")
                }
                if version >= 3 && unitsPerCount > 0 {
                    do {
                        let count = try reader.readVarint()
                        guard count <= UInt64(reader.remaining) else {
                            throw ShardError.inconsistent(path: path, reason: "codes section claims \(count) values")
                        }
                        coded = try (0..<Int(count)).map { _ in try reader.readVarint() }
                    } catch is ByteReader.OutOfBounds {
                        throw ShardError.inconsistent(path: path, reason: "codes section ends early")
                    }
                }
            }
            var k = 0
            do {
                for row in 0..<rows {
                    let n = try reader.readVarint()
                    guard n <= UInt64(nonzeros - k) else {
                        throw ShardError.inconsistent(path: path, reason: "row \(row) claims more nonzeros than the header")
                    }
                    var column: Int64 = -1
                    for _ in 0..<Int(n) {
                        let gap = try reader.readVarint()
                        guard gap >= 1, gap <= UInt64(columnCount) else {
                            throw ShardError.inconsistent(path: path, reason: "bad column gap \(gap) in row \(row)")
                        }
                        column += Int64(gap)
                        guard column < Int64(columnCount) else {
                            throw ShardError.inconsistent(path: path, reason: "column \(column) out of range in row \(row)")
                        }
                        columns[k] = Int32(column)
                        k += 1
                    }
                    rowStart[row + 1] = Int32(k)
                }
            } catch is ByteReader.OutOfBounds {
                throw ShardError.inconsistent(path: path, reason: "index section ends early")
            }
            guard k == nonzeros else {
                throw ShardError.inconsistent(path: path, reason: "index section holds \(k) nonzeros, header says \(nonzeros)")
            }
            if version == 1 || unitsPerCount == 0 {
                let valueStart = version == 1 ? payload.count - nonzeros * 4 : reader.offset
                guard (version == 1 && reader.remaining == 0) || (version != 1 && payload.count - valueStart == nonzeros * 4) else {
                    throw ShardError.inconsistent(path: path, reason: "value section has the wrong size for \(nonzeros) float32 counts")
                }
                values = [Float](repeating: 0, count: nonzeros)
                values.withUnsafeMutableBytes { out in
                    out.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[valueStart...]))
                }
            } else {
                let scale = Double(unitsPerCount)
                if wantUnits { keptUnits = [UInt64](repeating: 0, count: nonzeros) } else { values = [Float](repeating: 0, count: nonzeros) }
                let codedCount = UInt64(coded.count)
                do {
                    for k in 0..<nonzeros {
                        let code = try reader.readVarint()
                        let units = code < codedCount ? coded[Int(code)] : code - codedCount
                        guard units > 0 else {
                            throw ShardError.inconsistent(path: path, reason: "count at nonzero \(k) is zero")
                        }
                        if wantUnits { keptUnits![k] = units } else { values[k] = Float(Double(units) / scale) }
                    }
                } catch is ByteReader.OutOfBounds {
                    throw ShardError.inconsistent(path: path, reason: "value section ends early")
                }
                guard reader.remaining == 0 else {
                    throw ShardError.inconsistent(path: path, reason: "\(reader.remaining) unexpected bytes after the counts")
                }
            }
        }
        for (k, v) in values.enumerated() where !(v > 0 && v.isFinite) {
            throw ShardError.inconsistent(path: path, reason: "count \(v) at nonzero \(k) is not a positive finite number")
        }
        return (ShardBlock(rowShard: rowShard, columnShard: columnShard, rowCount: rows, columnCount: columnCount,
                           rowStart: rowStart, columnIndex: columns, values: values), keptUnits, unitsPerCount)
    }
}
