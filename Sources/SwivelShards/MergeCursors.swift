import CPrefetch
import Dispatch
import SwivelIO
#if canImport(Glibc)
import Glibc
#endif

/// A sorted run of cells kept in memory as `varint(key - previous key) varint(units)` pairs: 4-6 bytes a
/// cell instead of 16 (a spill's 2^21 cells take about 10 MiB instead of 32, pages the kernel must zero).
final class MemoryRun {
    /// The most bytes a cell can take (two 10-byte varints).
    static let maximumBytesPerCell = 20
    /// The encoded cells (read in place by ``CellCursor``).
    let bytes: UnsafeMutablePointer<UInt8>
    /// Bytes used.
    let byteCount: Int

    /// Encodes `cells` (sorted by key, distinct keys).
    init(_ cells: UnsafeBufferPointer<CountedCell>) {
        // Untouched pages of the worst-case allocation take no memory.
        let output = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, cells.count * Self.maximumBytesPerCell))
        var at = 0
        var previous: UInt64 = 0
        for cell in cells {
            UnsafeVarint.write(cell.key &- previous, to: output, at: &at)
            UnsafeVarint.write(cell.units, to: output, at: &at)
            previous = cell.key
        }
        bytes = output
        byteCount = at
    }

    deinit { bytes.deallocate() }

    /// Decodes the cell at byte `at` of a run's `bytes` (keys are stored as gaps from `previous`, the key of the
    /// cell before) and moves `at` past it.
    @inline(__always)
    static func cell(in bytes: UnsafePointer<UInt8>, at: inout Int, after previous: UInt64) -> CountedCell {
        let key = previous &+ UnsafeVarint.read(from: bytes, at: &at)
        let units = UnsafeVarint.read(from: bytes, at: &at)
        return CountedCell(key: key, units: units)
    }
}

/// A forward cursor over sorted cells from one of three sources: the drained table's cells (borrowed), an
/// in-memory ``MemoryRun``, or a spilled run read frame by frame.
///
/// The source's kind is a plain enum and its memory raw pointers, so that reading the next cell retains no
/// object (an enum payload of a class is retained at every `switch`; perf put swift_retain/release at 7% of
/// the merge).
final class CellCursor {
    private enum Kind { case borrowed, memory, spill }

    private let kind: Kind
    /// Borrowed cells (the drained table's).
    private let cells: UnsafeBufferPointer<CountedCell>
    /// A memory run's bytes; the run is kept alive by `run`.
    private let runBytes: UnsafePointer<UInt8>?
    private let runByteCount: Int
    private let run: MemoryRun?
    private let reader: SpillRunReader?
    /// The current cell's index in the borrowed cells or in `frame`; for a memory run, the byte offset of the
    /// cell after `current`.
    private var position = 0
    /// A memory run's current cell (nil at its end).
    private var current: CountedCell?
    /// A spilled run's current frame.
    private var frame: [CountedCell] = []

    init(_ run: MemoryRun) {
        kind = .memory
        cells = UnsafeBufferPointer(start: nil, count: 0)
        self.run = run
        runBytes = UnsafePointer(run.bytes)
        runByteCount = run.byteCount
        reader = nil
        advanceInRun(after: 0)
    }

    /// A cursor over cells the caller keeps valid while it is used (no copy: the drained table's cells are as
    /// many as 32 MiB, which a copy would take in fresh pages for the kernel to zero).
    init(borrowing cells: UnsafeBufferPointer<CountedCell>) {
        kind = .borrowed
        self.cells = cells
        run = nil
        runBytes = nil
        runByteCount = 0
        reader = nil
    }

    init(reader: SpillRunReader) throws {
        kind = .spill
        cells = UnsafeBufferPointer(start: nil, count: 0)
        run = nil
        runBytes = nil
        runByteCount = 0
        self.reader = reader
    }

    /// The current cell, or nil at the end.
    @inline(__always)
    func peek() throws -> CountedCell? {
        switch kind {
        case .borrowed:
            return position < cells.count ? cells[position] : nil
        case .memory:
            return current
        case .spill:
            while position >= frame.count {
                guard let next = try reader!.nextFrame() else { return nil }
                frame = next
                position = 0
            }
            return frame[position]
        }
    }

    /// Moves past the current cell.
    @inline(__always)
    func advance() {
        guard kind == .memory else {
            position += 1
            return
        }
        guard let previous = current else { return }
        advanceInRun(after: previous.key)
    }

    /// Decodes the memory run's cell at `position`, after the cell whose key is `previous`, or ends the run.
    @inline(__always)
    private func advanceInRun(after previous: UInt64) {
        guard position < runByteCount, let bytes = runBytes else {
            current = nil
            return
        }
        current = MemoryRun.cell(in: bytes, at: &position, after: previous)
    }
}
