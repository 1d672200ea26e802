import SwivelIO
#if canImport(Glibc)
import Glibc
#endif

/// A source of cells in strictly increasing key order, for the k-way merge.
public protocol CellSource: AnyObject {
    /// The next cell, or nil at the end.
    func next() throws -> CountedCell?
}

/// A sorted run of cells spilled to a temporary file, written once and read once.
///
/// Layout: magic `SWVRUN01`, then frames of `[raw size u32][compressed size u32][CRC-32 u32][zlib bytes]`,
/// each frame holding up to 256 KiB of `varint(key - previous key) varint(units)` pairs (the first key of
/// a frame relative to 0), and a final frame of raw size 0. A run is private to one prep and removed with
/// its temporary directory; the checksums catch a failing disk, not an attacker. Frames are Huffman-coded by
/// ``HuffmanDeflate``, which is faster than zlib's level 1 for a few percent more bytes (docs/benchmarks.md).
public enum SpillRun {
    static let magic: [UInt8] = Array("SWVRUN01".utf8)
    static let frameBytes = 256 << 10

    /// Writes `cells` (sorted, distinct keys) to a new file at `path`, checking free space first.
    ///
    /// - Returns: the bytes written.
    @discardableResult
    public static func write(_ cells: UnsafeBufferPointer<CountedCell>, to path: String, directory: String) throws -> Int64 {
        var index = 0
        return try writeRun(to: path, directory: directory, expectedCells: cells.count) {
            defer { index += 1 }
            return index < cells.count ? cells[index] : nil
        }
    }

    /// Merges `sources` into one run file at `path` (summing equal keys).
    @discardableResult
    public static func merge(_ sources: [CellSource], to path: String, directory: String, expectedCells: Int) throws -> Int64 {
        let merger = CellMerger(sources)
        return try writeRun(to: path, directory: directory, expectedCells: expectedCells) { try merger.next() }
    }

    /// Writes the cells `next` yields (sorted, distinct keys) as a run file, checking free space first.
    private static func writeRun(to path: String, directory: String, expectedCells: Int,
                                 next: () throws -> CountedCell?) throws -> Int64 {
        // Varints of sorted keys and weights take about 4-6 bytes a cell before compression.
        try SystemResources.requireDiskSpace(Int64(expectedCells) * 6 + (16 << 20), in: directory, for: "temporary counts")
        let writer = try RunFileWriter(path: path)
        try writer.append(magic)
        var frame = ByteWriter(capacity: frameBytes + 32)
        var previous: UInt64 = 0
        while let cell = try next() {
            frame.appendVarint(cell.key &- previous)
            frame.appendVarint(cell.units)
            previous = cell.key
            if frame.bytes.count >= frameBytes {
                try writer.appendFrame(frame.bytes)
                frame = ByteWriter(capacity: frameBytes + 32)
                previous = 0
            }
        }
        if !frame.bytes.isEmpty { try writer.appendFrame(frame.bytes) }
        try writer.appendFrame([])
        return try writer.close()
    }
}

/// Appends frames to a run file through a plain file descriptor.
final class RunFileWriter {
    let path: String
    private var fd: Int32
    private var written: Int64 = 0

    init(path: String) throws {
        self.path = path
        fd = FileCreation.gate { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: systemErrorMessage()) }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    func append(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeFully(fd, $0, path: path, what: "cannot write temporary counts") }
        written += Int64(bytes.count)
    }

    func appendFrame(_ raw: [UInt8]) throws {
        let compressed = raw.withUnsafeBytes { HuffmanDeflate.compress($0) }
        var header = ByteWriter(capacity: 12)
        header.append(UInt32(raw.count))
        header.append(UInt32(compressed.count))
        header.append(Zlib.crc32(compressed))
        try append(header.bytes + compressed)
    }

    func close() throws -> Int64 {
        let result = Glibc.close(fd)
        fd = -1
        if result != 0 { throw FileError.ioFailed(path: path, reason: "cannot write temporary counts: \(systemErrorMessage())") }
        return written
    }
}

/// Reads a run file frame by frame (one frame in memory at a time).
public final class SpillRunReader: CellSource {
    private let path: String
    private var fd: Int32
    private var cells: [CountedCell] = []
    private var index = 0
    private var finished = false

    /// Opens `path` and checks its magic bytes.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: systemErrorMessage()) }
        let magic = try readExactly(8)
        guard magic == SpillRun.magic else { throw FileError.corrupt(path: path, reason: "not a swivel run file") }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    public func next() throws -> CountedCell? {
        while index == cells.count {
            if finished { return nil }
            try readFrame()
        }
        defer { index += 1 }
        return cells[index]
    }

    /// The remaining cells of the current frame, or of the next one; nil at the end of the run.
    public func nextFrame() throws -> [CountedCell]? {
        while index == cells.count {
            if finished { return nil }
            try readFrame()
        }
        let rest = index == 0 ? cells : Array(cells[index...])
        index = cells.count
        return rest
    }

    private func readFrame() throws {
        let header = try readExactly(12)
        let (rawSize, compressedSize, crc) = try header.withUnsafeBytes { raw -> (Int, Int, UInt32) in
            var reader = ByteReader(raw)
            return (Int(try reader.read(UInt32.self)), Int(try reader.read(UInt32.self)), try reader.read(UInt32.self))
        }
        guard rawSize <= SpillRun.frameBytes + 32, compressedSize <= rawSize * 2 + 1024 else {
            throw FileError.corrupt(path: path, reason: "temporary counts are damaged (frame size)")
        }
        let compressed = try readExactly(compressedSize)
        guard Zlib.crc32(compressed) == crc else {
            throw FileError.corrupt(path: path, reason: "temporary counts are damaged (CRC mismatch; is the disk failing?)")
        }
        cells.removeAll(keepingCapacity: true)
        index = 0
        if rawSize == 0 {
            finished = true
            close(fd)
            fd = -1
            return
        }
        let raw = try compressed.withUnsafeBytes { try Zlib.decompress($0, size: rawSize) }
        try raw.withUnsafeBytes { bytes in
            var reader = ByteReader(bytes)
            var key: UInt64 = 0
            while reader.remaining > 0 {
                key &+= try reader.readVarint()
                cells.append(CountedCell(key: key, units: try reader.readVarint()))
            }
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var offset = 0
        try bytes.withUnsafeMutableBytes { raw in
            while offset < count {
                let n = read(fd, raw.baseAddress! + offset, count - offset)
                if n < 0 && errno == EINTR { continue }
                if n < 0 { throw FileError.ioFailed(path: path, reason: "cannot read temporary counts: \(systemErrorMessage())") }
                if n == 0 { throw FileError.corrupt(path: path, reason: "temporary counts are truncated") }
                offset += n
            }
        }
        return bytes
    }
}

/// A k-way merge of sorted cell sources that sums the units of equal keys; a binary heap over the sources.
public final class CellMerger: CellSource {
    private let sources: [CellSource]
    private var heap: [(key: UInt64, units: UInt64, source: Int)] = []
    private var primed = false

    /// Merges `sources`; each must yield strictly increasing keys.
    public init(_ sources: [CellSource]) { self.sources = sources }

    public func next() throws -> CountedCell? {
        if !primed {
            primed = true
            for (i, s) in sources.enumerated() {
                if let c = try s.next() { push((c.key, c.units, i)) }
            }
        }
        guard let top = heap.first else { return nil }
        var units: UInt64 = 0
        let key = top.key
        while let head = heap.first, head.key == key {
            units &+= head.units
            if let c = try sources[head.source].next() {
                heap[0] = (c.key, c.units, head.source)
                siftDown(0)
            } else {
                let last = heap.removeLast()
                if !heap.isEmpty {
                    heap[0] = last
                    siftDown(0)
                }
            }
        }
        return CountedCell(key: key, units: units)
    }

    private func push(_ entry: (key: UInt64, units: UInt64, source: Int)) {
        heap.append(entry)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if heap[parent].key <= heap[i].key { break }
            heap.swapAt(parent, i)
            i = parent
        }
    }

    private func siftDown(_ start: Int) {
        var i = start
        let n = heap.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < n && heap[l].key < heap[smallest].key { smallest = l }
            if r < n && heap[r].key < heap[smallest].key { smallest = r }
            if smallest == i { return }
            heap.swapAt(i, smallest)
            i = smallest
        }
    }
}
