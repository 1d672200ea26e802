import SwivelIO

/// Writes the bytes of version-3 shard files (exact units, see ``ShardFile``) one cell at a time, as the
/// counter's merge produces them: no block-wide column and unit arrays are built and read back.
///
/// Use: ``beginBlock()``; per row ``beginRow(maxCells:)``, ``add(column:units:)`` for its nonzeros in increasing
/// column order, ``endRow()``; then ``fileBytes(rowShard:columnShard:rows:columns:)``. The index section is
/// written by a ``ShardIndexWriter``, the values section beside it; both are reused from block to block, so a worker's encoder maps fresh memory only while its
/// largest block grows them. The bytes are exactly those of ``ShardFile/encode(_:units:unitsPerCount:)``.
struct ShardUnitsEncoder: ~Copyable {
    /// Units per count `U` written into every file.
    let unitsPerCount: UInt64
    /// The values with one-byte codes (``ShardFile/codedUnits(unitsPerCount:)``): value `coded[c]` is code `c`.
    let coded: [UInt64]
    /// Nonzeros added since ``beginBlock()``.
    var nonzeroCount: Int { index.nonzeroCount }

    /// Value -> code by open addressing over `codeSlots` slots (0 marks an empty slot; coded values are
    /// positive): at most 128 values in 1024 slots, so a value without a code almost always finds an empty
    /// slot at the first probe.
    private static let codeSlots = 1024
    /// `coded.count`, as the hot loop adds it.
    private let codedCount: UInt64
    private let codeValues = UnsafeMutablePointer<UInt64>.allocate(capacity: codeSlots)
    private let codeBytes = UnsafeMutablePointer<UInt8>.allocate(capacity: codeSlots)

    private var index = ShardIndexWriter()
    private var values = GrowingBytes()
    /// Every unit value of the block or-ed: codes past 2^63 units could wrap.
    private var high: UInt64 = 0

    /// An encoder for shards of `unitsPerCount` units per count (positive).
    init(unitsPerCount: UInt64) {
        precondition(unitsPerCount > 0)
        self.unitsPerCount = unitsPerCount
        coded = ShardFile.codedUnits(unitsPerCount: unitsPerCount)
        precondition(coded.count <= 128)
        codedCount = UInt64(coded.count)
        codeValues.initialize(repeating: 0, count: Self.codeSlots)
        codeBytes.initialize(repeating: 0, count: Self.codeSlots)
        for (code, value) in coded.enumerated() {
            var slot = Self.slot(of: value)
            while codeValues[slot] != 0 { slot = (slot + 1) & (Self.codeSlots - 1) }
            codeValues[slot] = value
            codeBytes[slot] = UInt8(code)
        }
    }

    deinit {
        codeValues.deallocate()
        codeBytes.deallocate()
    }

    @inline(__always)
    private static func slot(of value: UInt64) -> Int {
        Int(truncatingIfNeeded: (value &* 0x9E37_79B9_7F4A_7C15) >> 54)
    }

    /// The varint code of `units`: its one-byte code, or `units + coded.count`.
    @inline(__always)
    func code(of units: UInt64) -> UInt64 {
        var slot = Self.slot(of: units)
        while true {
            let value = codeValues[slot]
            if value == units && value != 0 { return UInt64(codeBytes[slot]) }
            if value == 0 { return units &+ codedCount }
            slot = (slot + 1) & (Self.codeSlots - 1)
        }
    }

    /// Starts a new block (forgets the previous one's rows).
    mutating func beginBlock() {
        index.reset()
        values.count = 0
        high = 0
    }

    /// Starts the next row, which will have at most `maxCells` nonzeros.
    @inline(__always)
    mutating func beginRow(maxCells: Int) {
        index.beginRow(maxCells: maxCells)
        values.reserve(values.count + 10 * maxCells)
    }

    /// Adds the row's next nonzero: local column `column` (greater than the previous one) with `units` (positive).
    @inline(__always)
    mutating func add(column: Int, units: UInt64) {
        index.add(column: column)
        high |= units
        UnsafeVarint.write(code(of: units), to: values.base, at: &values.count)
    }

    /// Ends the row: its count and gaps go to the index section.
    @inline(__always)
    mutating func endRow() {
        index.endRow()
    }

    /// The complete shard file of the block since ``beginBlock()``: header, then the compressed payload
    /// (units per count, the coded values, the index section, the values section).
    ///
    /// Throws ``ShardError/inconsistent(path:reason:)`` for a value of 2^63 units or more.
    func fileBytes(rowShard: Int, columnShard: Int, rows: Int, columns: Int) throws -> [UInt8] {
        guard high < 1 << 63 else {
            throw ShardError.inconsistent(path: ShardFile.fileName(rowShard: rowShard, columnShard: columnShard),
                                          reason: "a count of 2^63 units or more cannot be stored")
        }
        let capacity = 8 + 10 * (coded.count + 1) + index.bytes.count + values.count
        let payload = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            let out = buffer.baseAddress!
            var at = 0
            withUnsafeBytes(of: unitsPerCount.littleEndian) { field in
                for b in field { out[at] = b; at += 1 }
            }
            UnsafeVarint.write(UInt64(coded.count), to: out, at: &at)
            for value in coded { UnsafeVarint.write(value, to: out, at: &at) }
            (out + at).initialize(from: index.bytes.base, count: index.bytes.count)
            at += index.bytes.count
            (out + at).initialize(from: values.base, count: values.count)
            at += values.count
            count = at
        }
        return ShardFile.fileBytes(payload: payload, rowShard: rowShard, columnShard: columnShard, rows: rows,
                                   columns: columns, nonzeros: nonzeroCount)
    }
}

/// The index section of a shard file (see ``ShardFile``), row by row: a varint count of the row's nonzeros,
/// then the varint gaps between their local columns (the first from -1). A row's gaps wait in a scratch
/// buffer until ``endRow()`` knows its count. Shared by both kinds of shard payload.
struct ShardIndexWriter: ~Copyable {
    /// The section written so far.
    private(set) var bytes = GrowingBytes()
    /// Nonzeros of the rows ended since ``reset()``.
    private(set) var nonzeroCount = 0
    private var row = GrowingBytes()
    private var previousColumn = -1
    private var rowCells = 0

    /// Forgets every row (buffers kept for the next block).
    mutating func reset() {
        bytes.count = 0
        nonzeroCount = 0
    }

    /// Starts the next row, which will have at most `maxCells` nonzeros (room for them is made here).
    @inline(__always)
    mutating func beginRow(maxCells: Int) {
        row.count = 0
        row.reserve(5 * maxCells)
        bytes.reserve(bytes.count + 5 + 5 * maxCells)
        previousColumn = -1
        rowCells = 0
    }

    /// Adds the row's next nonzero's local column (greater than the previous one).
    @inline(__always)
    mutating func add(column: Int) {
        UnsafeVarint.write(UInt64(column - previousColumn), to: row.base, at: &row.count)
        previousColumn = column
        rowCells += 1
    }

    /// Ends the row: its count, then its gaps.
    @inline(__always)
    mutating func endRow() {
        UnsafeVarint.write(UInt64(rowCells), to: bytes.base, at: &bytes.count)
        (bytes.base + bytes.count).initialize(from: row.base, count: row.count)
        bytes.count += row.count
        nonzeroCount += rowCells
    }
}

/// A byte buffer that grows by doubling and is reused (the shard encoders' sections): `count` bytes written
/// at `base`; noncopyable, so its memory has one owner and is freed once.
struct GrowingBytes: ~Copyable {
    private(set) var base = UnsafeMutablePointer<UInt8>.allocate(capacity: 1 << 12)
    private(set) var capacity = 1 << 12
    var count = 0

    deinit { base.deallocate() }

    /// Makes room for at least `bytes` bytes in all, keeping the first `count`.
    @inline(__always)
    mutating func reserve(_ bytes: Int) {
        if bytes > capacity { grow(bytes) }
    }

    private mutating func grow(_ bytes: Int) {
        var newCapacity = capacity
        while newCapacity < bytes { newCapacity *= 2 }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.initialize(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }
}
